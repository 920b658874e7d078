"""String criteria (https://hl7.org/fhir/R4/search.html#string): by default the value starts
with the search text, ignoring case and accents; :exact is the whole value, exactly; :contains
anywhere in it."""

from __future__ import annotations

from psycopg import sql

from fireside.search.escaping import unescape
from fireside.search.filters.condition import (
    Condition,
    FilterContext,
    bad_modifier,
    condition,
    like_escape,
    prefix_upper_bound,
)
from fireside.search.request import Criterion
from fireside.store.indexing import cut, normalize_string


def compile_string_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    text = unescape(value)
    normalized = cut(normalize_string(text))
    if criterion.modifier is None:
        return prefix_filter("normalized", normalized)
    if criterion.modifier == "exact":
        return condition("i.normalized = %s AND i.value = %s", normalized, cut(text))
    if criterion.modifier == "contains":
        # No index serves this yet (a pg_trgm GIN index would); other criteria narrow it first.
        return condition("i.normalized LIKE %s", "%" + like_escape(normalized) + "%")
    raise bad_modifier(criterion)


def prefix_filter(column: str, prefix: str) -> Condition:
    """Index-row values in `column` that start with `prefix`."""
    target = sql.Identifier("i", column)
    upper = prefix_upper_bound(prefix)
    if upper is None:
        return Condition(sql.SQL("{} >= %s").format(target), (prefix,))
    return Condition(sql.SQL("{0} >= %s AND {0} < %s").format(target), (prefix, upper))
