"""Token criteria (https://hl7.org/fhir/R4/search.html#token): `code`, `system|code`, `|code`
(no system) and `system|` (any code in the system), with :text. :not is applied by the caller."""

from __future__ import annotations

from fireside.search.escaping import split_unescaped, unescape
from fireside.search.filters.condition import (
    Condition,
    FilterContext,
    bad_modifier,
    condition,
    like_escape,
    modifier_not_yet,
)
from fireside.search.request import Criterion
from fireside.store.indexing import cut, normalize_string

# Subsumption and value set membership need the terminology service.
_NOT_YET = frozenset({"above", "below", "in", "not-in", "of-type"})


def compile_token_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    modifier = criterion.modifier
    if modifier == "text":
        return text_filter(value)
    if modifier in _NOT_YET:
        raise modifier_not_yet(criterion)
    if modifier not in (None, "not"):
        raise bad_modifier(criterion)
    parts = split_unescaped(value, "|", limit=1)
    if len(parts) == 1:
        return condition("i.value = %s", cut(unescape(value)))
    system, code = unescape(parts[0]), unescape(parts[1])
    if not system:
        return condition("i.value = %s AND i.system IS NULL", cut(code))
    if not code:
        return condition("i.system = %s", cut(system))
    return condition("i.value = %s AND i.system = %s", cut(code), cut(system))


def text_filter(value: str) -> Condition:
    """:text matches the start of any word of the text, ignoring case and accents: the spec's
    string matching, applied per word, since a display like "Body mass index" should be found
    by "mass". Not indexed: the other criteria of a search narrow it first."""
    words = like_escape(normalize_string(unescape(value)))
    return condition("(i.text LIKE %s OR i.text LIKE %s)", words + "%", "% " + words + "%")
