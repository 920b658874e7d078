-- Search index tables: one per search parameter type. A row per extracted value, keyed like
-- the resource it came from (project_id, resource_type, resource_id) plus the parameter code.
-- Each table has one B-tree shaped for the search (project, type, parameter, value...) and one
-- for replacing a resource's rows on update.

CREATE TABLE search_token (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    system        text,
    value         text,
    -- CodeableConcept.text / Coding.display, for :text
    display       text
);
CREATE INDEX search_token_value_idx ON search_token (project_id, resource_type, code, value, system);
CREATE INDEX search_token_resource_idx ON search_token (project_id, resource_type, resource_id);

CREATE TABLE search_string (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    -- lower-cased and accent-stripped, for the default starts-with match
    normalized    text NOT NULL,
    value         text NOT NULL
);
CREATE INDEX search_string_value_idx ON search_string (project_id, resource_type, code, normalized text_pattern_ops);
CREATE INDEX search_string_resource_idx ON search_string (project_id, resource_type, resource_id);

CREATE TABLE search_reference (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    target_type   text,
    target_id     text,
    -- absolute and canonical references, kept whole
    url           text
);
CREATE INDEX search_reference_target_idx ON search_reference (project_id, resource_type, code, target_id, target_type);
CREATE INDEX search_reference_resource_idx ON search_reference (project_id, resource_type, resource_id);
-- Reverse lookups (_revinclude, _has): who points at this resource?
CREATE INDEX search_reference_inbound_idx ON search_reference (project_id, target_type, target_id);

CREATE TABLE search_date (
    project_id    uuid        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    code          text        NOT NULL,
    -- the value's range at its precision: [low, high); '2020' is the whole year
    low           timestamptz NOT NULL,
    high          timestamptz NOT NULL
);
CREATE INDEX search_date_range_idx ON search_date (project_id, resource_type, code, low, high);
CREATE INDEX search_date_resource_idx ON search_date (project_id, resource_type, resource_id);

CREATE TABLE search_number (
    project_id    uuid    NOT NULL,
    resource_type text    NOT NULL,
    resource_id   text    NOT NULL,
    code          text    NOT NULL,
    value         numeric NOT NULL,
    -- quantities only
    system        text,
    unit          text
);
CREATE INDEX search_number_value_idx ON search_number (project_id, resource_type, code, value);
CREATE INDEX search_number_resource_idx ON search_number (project_id, resource_type, resource_id);

CREATE TABLE search_uri (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    value         text NOT NULL
);
CREATE INDEX search_uri_value_idx ON search_uri (project_id, resource_type, code, value text_pattern_ops);
CREATE INDEX search_uri_resource_idx ON search_uri (project_id, resource_type, resource_id);
