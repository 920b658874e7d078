"""Reference criteria (https://hl7.org/fhir/R4/search.html#reference): `Type/id`, a bare `id`
(any target type, or the one a `:Type` modifier names), an absolute URL, or a canonical
`url[|version]`; with :identifier, `[system|]value` of Reference.identifier."""

from __future__ import annotations

from fireside.search.escaping import split_unescaped, unescape
from fireside.search.filters.condition import (
    Condition,
    FilterContext,
    bad_modifier,
    bad_value,
    condition,
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
    targets = criterion.parameter.definition.target
    if modifier[:1].isupper() and (not targets or modifier in targets):
        return modifier
    raise bad_modifier(criterion)


def identifier_filter(value: str) -> Condition:
    """`system|value`, `|value`, `system|` or `value` of a Reference.identifier, read like a
    token (search.html#reference) from its token rows."""
    parts = split_unescaped(value, "|", limit=1)
    if len(parts) == 1:
        return condition("i.value = %s", cut(unescape(value)))
    system, code = unescape(parts[0]), unescape(parts[1])
    if not code:
        return condition("i.system = %s", cut(system))
    if not system:
        return condition("i.value = %s AND i.system IS NULL", cut(code))
    return condition("i.value = %s AND i.system = %s", cut(code), cut(system))
