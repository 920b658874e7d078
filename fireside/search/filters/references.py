"""Reference criteria (https://hl7.org/fhir/R4/search.html#reference): `Type/id`, a bare `id`
(any target type, or the one a `:Type` modifier names), an absolute URL, or a canonical
`url[|version]`."""

from __future__ import annotations

from fireside.search.escaping import unescape
from fireside.search.filters.condition import (
    Condition,
    FilterContext,
    bad_modifier,
    bad_value,
    condition,
    modifier_not_yet,
)
from fireside.search.request import Criterion
from fireside.store.indexing import cut, split_reference


def compile_reference_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    target_type = _modifier_type(criterion)
    reference = unescape(value)
    if context.base_url and reference.startswith(context.base_url + "/"):
        reference = reference[len(context.base_url) + 1:]  # an absolute URL to this server is local
    if "/" not in reference and ":" not in reference:
        if target_type:
            return condition("i.target_id = %s AND i.target_type = %s", cut(reference), target_type)
        return condition("i.target_id = %s", cut(reference))
    parts = split_reference(reference)
    if parts is None:
        raise bad_value(criterion, value, "is not a reference (Type/id, id or a URL)")
    kind, target_id, url = parts
    if target_type and kind and kind != target_type:
        raise bad_value(criterion, value, f"is not a {target_type} reference")
    if url is None:
        return condition("i.target_id = %s AND i.target_type = %s", cut(target_id), kind)
    if "|" in url:  # a canonical with its version: that version only
        return condition("i.target_id = %s AND i.url = %s", cut(target_id), cut(url))
    return condition("i.target_id = %s", cut(target_id))


def _modifier_type(criterion: Criterion) -> str | None:
    modifier = criterion.modifier
    if modifier is None:
        return None
    if modifier == "identifier":
        raise modifier_not_yet(criterion)
    targets = criterion.parameter.definition.target
    if modifier[:1].isupper() and (not targets or modifier in targets):
        return modifier
    raise bad_modifier(criterion)
