-- Full-text search on the narrative (_text, https://hl7.org/fhir/R4/search.html#text): a GIN
-- expression index on the resource table, kept current by PostgreSQL with the content, so no
-- rows are written from Python. The 'simple' configuration lower-cases words and neither stems
-- nor drops stop words: clinical text mixes languages, codes and names, where one language's
-- stemmer would conflate terms. Tags and entities of the XHTML are not words to the parser, so
-- the div is indexed as it is.
--
-- _content (every string of the resource) has no index: one over jsonb_to_tsvector(content)
-- added 16-50% to the store's ingest CPU on the sample bundles (2.6-3.9 s of PostgreSQL CPU per
-- 17k resources), so _content is evaluated on the rows the other criteria leave (see
-- fireside/search/filters/full_text.py). This index, on resources that each carry a ~40-row
-- generated narrative, added 2.5 s (13%).
--
-- Content is kept as the client's JSON text, which may escape NUL (\u0000); jsonb cannot hold
-- NUL, so a plain content::jsonb would fail the write that indexes such a resource and any
-- query that scans it. fireside_content_jsonb drops those escapes first (escaped backslashes
-- are swapped out beforehand so that \\u0000, a backslash and 'u0000', is left alone). The
-- strpos test keeps the common case to a single scan.
CREATE FUNCTION fireside_content_jsonb(content text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE WHEN strpos(content, '\u0000') = 0 THEN content::jsonb
        ELSE replace(replace(content, '\\', U&'\E000'), '\u0000', '')::jsonb END;

CREATE INDEX resource_narrative_text_idx ON resource
    USING gin (to_tsvector('simple'::regconfig, fireside_content_jsonb(content) -> 'text' ->> 'div'));
