"""`_summary` and `_elements`: a resource cut down to some of its elements
(https://hl7.org/fhir/R4/search.html#summary, https://hl7.org/fhir/R4/search.html#elements).

Which elements are in the summary comes from the StructureDefinitions (`ElementDefinition.isSummary`
and `isModifier`), never from lists of elements kept here. The result carries the `SUBSETTED`
tag so that no client writes it back over the whole resource
(https://hl7.org/fhir/R4/v3/ObservationValue/cs.html).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fireside.fhir.definitions import ElementDefinition, FhirDefinitions, StructureDefinition
from fireside.fhir.errors import FhirError

SUBSETTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
SUBSETTED_TAG = {"system": SUBSETTED_SYSTEM, "code": "SUBSETTED", "display": "subsetted"}

# Kept in every subset: the spec's "mandatory" elements of every resource.
_ALWAYS = ("resourceType", "id", "meta")
_ELEMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(\[x\])?")
# Every element's own children, which a data type's summary keeps (isSummary is false on them).
_ELEMENT_BASE = ("id", "extension")
# Kept whole in a summary: an extension is kept entire or not at all, and `meta` is mandatory.
_KEPT_WHOLE = frozenset({"Extension", "Meta"})
# Keys of one structure path: JSON property name -> its element and the type its value has
# (choices under each type name; None when the element allows several and the key cannot tell).
_KEYS: dict[tuple[str, str], dict[str, tuple[ElementDefinition, str | None]]] = {}


@dataclass(frozen=True)
class Subset:
    """What to keep: `summary` is "true", "text" or "data" (None: no summary), `elements` the
    top-level element names of `_elements` (None: not asked)."""

    summary: str | None = None
    elements: frozenset[str] | None = None

    @property
    def whole(self) -> bool:
        return self.summary is None and self.elements is None


def parse_subset(summary: str | None, elements: Iterable[str]) -> Subset:
    """From the `_summary` value (already checked to be a mode) and every `_elements` value.
    `_summary=false` is the whole resource; `count` is the caller's business."""
    names: set[str] = set()
    asked = False
    for value in elements:
        for name in (part.strip() for part in value.split(",")):
            if not name:
                continue
            asked = True
            names.add(_top_level_name(name))
    mode = summary if summary in ("true", "text", "data") else None
    return Subset(mode, frozenset(names) if asked else None)


def _top_level_name(name: str) -> str:
    """`name`, or R5's `Patient.name` and `name.given`: R4 subsets by top-level element, so the
    top-level one is kept whole (servers may return more than asked)."""
    segments = name.split(".")
    if len(segments) > 1 and segments[0][:1].isupper():
        segments = segments[1:]
    top = segments[0]
    if not _ELEMENT_NAME.fullmatch(top):
        raise FhirError.single("invalid", f"Search parameter _elements: {name!r} is not an element name")
    return top.removesuffix("[x]")


def subset_resource(definitions: FhirDefinitions, resource: dict[str, Any], subset: Subset) -> dict[str, Any]:
    """A copy of `resource` with only the elements `subset` keeps, tagged SUBSETTED; the
    resource itself when nothing is to be cut."""
    structure = definitions.types.get(str(resource.get("resourceType")))
    if subset.whole or structure is None:
        return resource
    result = resource
    if subset.summary == "true":
        result = _summary_of(definitions, structure, structure.type, resource)
    elif subset.summary == "text":
        result = _top_level(structure, resource, lambda key, element: key == "text")
    elif subset.summary == "data":
        result = {key: value for key, value in resource.items() if key != "text"}
    if subset.elements is not None:
        wanted = subset.elements
        result = _top_level(structure, result, lambda key, element: _named(key, element, wanted))
    return _tagged(result)


def _summary_of(
    definitions: FhirDefinitions, structure: StructureDefinition, path: str, node: dict[str, Any]
) -> dict[str, Any]:
    """The elements marked isSummary, at the top level, inside backbone elements
    (Observation.component) and inside data types, where the spec keeps every property "other
    than Attachment.data" (ElementDefinition.isSummary): the flags say which, and a data type's
    own `id` and `extension` stay."""
    in_data_type = structure.kind == "complex-type"
    kept: dict[str, Any] = {}
    for key, value in node.items():
        if key == "resourceType" and path == structure.type:
            kept[key] = value
            continue
        found = _element_for_key(structure, path, key)
        if found is None:
            continue
        element, type_code = found
        # A data type's `id` and `extension`; a resource's `id` and `meta`.
        always = (element.name in _ELEMENT_BASE) if in_data_type else (path == structure.type and key in _ALWAYS)
        # Modifiers too: the isSummary rules require it of them, and a summary without a
        # modifierExtension (false on DomainResource) could change the resource's meaning.
        if not (element.summary or element.modifier or always):
            continue
        inner = None if key.startswith("_") else _inner_structure(definitions, structure, element, type_code)
        if inner is None:
            kept[key] = value
            continue
        cut = _summary_of_value(definitions, inner[0], inner[1], value)
        if cut is not None:
            kept[key] = cut
    return kept


def _summary_of_value(
    definitions: FhirDefinitions, structure: StructureDefinition, path: str, value: Any
) -> Any:
    if isinstance(value, dict):
        return _summary_of(definitions, structure, path, value) or None
    if isinstance(value, list):
        items = [_summary_of_value(definitions, structure, path, item) for item in value]
        return [item for item in items if item is not None] or None
    return value


def _inner_structure(
    definitions: FhirDefinitions, structure: StructureDefinition, element: ElementDefinition, type_code: str | None
) -> tuple[StructureDefinition, str] | None:
    """Where the children of the element's value are described: the same structure for a
    backbone element (or a `contentReference` to one), the data type's own definition for a
    complex data type; None for a primitive, a resource, or a type kept whole."""
    if element.content_reference:
        return structure, element.content_reference.partition("#")[2]  # "#Questionnaire.item"
    if structure.children(element.path):
        return structure, element.path
    data_type = definitions.types.get(type_code or "")
    if data_type is None or data_type.kind != "complex-type" or data_type.type in _KEPT_WHOLE:
        return None
    return data_type, data_type.type


def _top_level(
    structure: StructureDefinition, resource: dict[str, Any],
    keep: Callable[[str, ElementDefinition | None], bool],
) -> dict[str, Any]:
    """The top-level keys `keep(key, element)` accepts, with id, meta and the mandatory
    (min > 0) elements that the spec says a subset always has."""
    kept: dict[str, Any] = {}
    for key, value in resource.items():
        found = _element_for_key(structure, structure.type, key)
        element = found[0] if found else None
        if key in _ALWAYS or (element is not None and element.min > 0) or keep(key, element):
            kept[key] = value
    return kept


def _named(key: str, element: ElementDefinition | None, wanted: frozenset[str]) -> bool:
    bare = key.removeprefix("_")
    if bare in wanted:
        return True
    return element is not None and element.name.removesuffix("[x]") in wanted


def _element_for_key(
    structure: StructureDefinition, path: str, key: str
) -> tuple[ElementDefinition, str | None] | None:
    """The element a JSON property holds: `status` and its extensions `_status`, and a choice
    element under each of its type names (`valueQuantity` is `Observation.value[x]`)."""
    cache_key = (structure.url, path)
    keys = _KEYS.get(cache_key)
    if keys is None:
        keys = _KEYS[cache_key] = _keys_of(structure.children(path))
    return keys.get(key.removeprefix("_"))


def _keys_of(children: list[ElementDefinition]) -> dict[str, tuple[ElementDefinition, str | None]]:
    keys: dict[str, tuple[ElementDefinition, str | None]] = {}
    for element in children:
        if not element.is_choice:
            keys[element.name] = (element, element.types[0].code if len(element.types) == 1 else None)
            continue
        prefix = element.name.removesuffix("[x]")
        for type_ref in element.types:
            keys[prefix + type_ref.code[:1].upper() + type_ref.code[1:]] = (element, type_ref.code)
    return keys


def _tagged(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = list(meta.get("tag") or [])
    if not any(t.get("system") == SUBSETTED_SYSTEM and t.get("code") == "SUBSETTED" for t in tags):
        tags.append(dict(SUBSETTED_TAG))
    meta["tag"] = tags
    return {**resource, "meta": meta}
