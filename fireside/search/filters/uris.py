"""Uri criteria (https://hl7.org/fhir/R4/search.html#uri): the whole URI by default; :below for
URIs under the given one, :above for those it is under."""

from __future__ import annotations

from fireside.search.escaping import unescape
from fireside.search.filters.condition import Condition, FilterContext, bad_modifier, condition
from fireside.search.filters.strings import prefix_filter
from fireside.search.request import Criterion
from fireside.store.indexing import cut


def compile_uri_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    uri = unescape(value)
    if criterion.modifier is None:
        return condition("i.value = %s", cut(uri))
    if criterion.modifier == "below":
        return prefix_filter("value", cut(uri))
    if criterion.modifier == "above":
        # Every ancestor of the URI, itself included: an index lookup per ancestor, no scan.
        return condition("i.value = ANY(%s)", [cut(ancestor) for ancestor in _ancestors(uri)])
    raise bad_modifier(criterion)


def _ancestors(uri: str) -> list[str]:
    scheme, separator, rest = uri.partition("://")
    if not separator:
        return [uri]
    segments = rest.rstrip("/").split("/")
    return [f"{scheme}://{'/'.join(segments[:end])}" for end in range(len(segments), 0, -1)]
