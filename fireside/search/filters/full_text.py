"""`_text` and `_content` (https://hl7.org/fhir/R4/search.html#text): a full-text query over
the narrative (`text.div`) or over every string of the resource, with PostgreSQL text search.

The value is read by `websearch_to_tsquery`: words must all occur (`heart failure`), `or`
between words offers alternatives, `"quoted words"` must occur together in that order, and
`-word` must not occur. Words are matched whole and without regard to case, in the 'simple'
configuration (no stemming, no stop words, accents kept: see migration 0004).

_text is served by the GIN expression index of migration 0004; the expression here must stay
identical to the index's for PostgreSQL to use it. _content has no index (it cost a quarter or
more of ingest): it is evaluated on the rows the other criteria of the search leave, about
60 microseconds per resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from fireside.fhir.errors import FhirError
from fireside.search.filters.condition import Condition
from fireside.search.request import SpecialCriterion

if TYPE_CHECKING:
    from fireside.search.filters.special import SpecialScope

_NARRATIVE = sql.SQL("to_tsvector('simple'::regconfig, fireside_content_jsonb(r.content) -> 'text' ->> 'div')")
_CONTENT = sql.SQL("jsonb_to_tsvector('simple'::regconfig, fireside_content_jsonb(r.content), '[\"string\"]'::jsonb)")
# Types that are not DomainResources have no narrative (search.html#text applies to DomainResource).
_WITHOUT_NARRATIVE = frozenset({"Binary", "Bundle", "Parameters"})


def compile_full_text(special: SpecialCriterion, scope: SpecialScope) -> Condition:
    if special.modifier is not None:
        raise FhirError.single(
            "invalid", f"Search parameter {special.name}: :{special.modifier} is not a modifier of {special.code}")
    if not any(char.isalnum() for char in special.value):
        # websearch_to_tsquery would return an empty query (and a NOTICE) that matches nothing.
        raise FhirError.single("invalid", f"Search parameter {special.code}: {special.value!r} has no words to search")
    if special.code == "_text" and scope.resource_type in _WITHOUT_NARRATIVE:
        return Condition(sql.SQL("FALSE"))
    document = _NARRATIVE if special.code == "_text" else _CONTENT
    return Condition(sql.SQL("{} @@ websearch_to_tsquery('simple'::regconfig, %s)").format(document),
                     (special.value,))
