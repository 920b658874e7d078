"""A snapshot for a profile that arrives with only a differential
(https://hl7.org/fhir/R4/profiling.html#snapshot): the base's snapshot with each differential
element merged onto the element of the same id.

What the validator needs of a snapshot is every constrained element findable by id, so new
elements are appended rather than placed: a slice is a copy of the sliced element and its
descendants under the slice's id, and an element inside a data type (`Observation.code.coding`)
first brings in that type's elements under its parent. Differences a full generator would report
(a min below the base's, an unknown path) are not checked; an element that cannot be placed
makes the profile unusable rather than silently weaker.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fireside.fhir.definitions import StructureDefinition
from fireside.fhir.errors import FhirError

Lookup = Callable[[str], StructureDefinition | None]

# Keys of a differential element that describe it rather than constrain it.
_IDENTITY = frozenset({"id", "path"})


def generate_snapshot(resource: dict[str, Any], lookup: Lookup) -> list[dict[str, Any]]:
    url = resource.get("url")
    base = lookup(resource.get("baseDefinition") or "")
    if base is None:
        raise FhirError.single("not-supported", f"{url}: its baseDefinition {resource.get('baseDefinition')} is "
                               "not known, so its snapshot cannot be generated")
    builder = _Builder([_copy_element(e.raw, e.id, e.path) for e in base.elements], lookup)
    for element in (resource.get("differential") or {}).get("element", []):
        element_id = _element_id(element)
        target = builder.find_or_create(element_id)
        if target is None:
            raise FhirError.single("not-supported", f"{url}: the differential element {element_id} is not in "
                                   f"{base.url} and cannot be placed")
        _merge(target, element)
    return builder.elements


def _element_id(element: dict[str, Any]) -> str:
    if element.get("id"):
        return str(element["id"])
    slice_name = element.get("sliceName")
    return f"{element['path']}:{slice_name}" if slice_name else str(element["path"])


def _copy_element(raw: dict[str, Any], element_id: str, path: str) -> dict[str, Any]:
    element = copy.deepcopy(raw)
    element["id"], element["path"] = element_id, path
    return element


def _merge(target: dict[str, Any], differential: dict[str, Any]) -> None:
    for key, value in differential.items():
        if key in _IDENTITY:
            continue
        if key == "constraint":
            known = {c.get("key") for c in target.get("constraint", [])}
            target["constraint"] = target.get("constraint", []) + [c for c in value if c.get("key") not in known]
        else:
            target[key] = copy.deepcopy(value)


class _Builder:
    def __init__(self, elements: list[dict[str, Any]], lookup: Lookup) -> None:
        self.elements = elements
        self._by_id = {e["id"]: e for e in elements}
        self._lookup = lookup

    def find_or_create(self, element_id: str) -> dict[str, Any] | None:
        found = self._by_id.get(element_id)
        if found is not None:
            return found
        parent_id, _, last = element_id.rpartition(".")
        if ":" in last:
            return self._create_slice(element_id, f"{parent_id}.{last.split(':', 1)[0]}" if parent_id else last)
        parent = self.find_or_create(parent_id) if parent_id else None
        if parent is None or not self._expand(parent):
            return None
        return self._by_id.get(element_id)

    def _create_slice(self, slice_id: str, sliced_id: str) -> dict[str, Any] | None:
        sliced = self.find_or_create(sliced_id)
        if sliced is None:
            return None
        slice_name = slice_id.rsplit(":", 1)[1]
        created = _copy_element(sliced, slice_id, sliced["path"])
        created["sliceName"] = slice_name
        created.pop("slicing", None)
        self._add(created)
        prefix = sliced_id + "."
        for element in [e for e in self.elements if e["id"].startswith(prefix)]:
            self._add(_copy_element(element, slice_id + element["id"][len(sliced_id):], element["path"]))
        return created

    def _expand(self, parent: dict[str, Any]) -> bool:
        """Bring in the children of a data-type element from its type's definition."""
        prefix = parent["id"] + "."
        if any(e["id"].startswith(prefix) for e in self.elements):
            return True
        types = parent.get("type") or []
        if len(types) != 1:
            return False
        datatype = self._lookup(f"http://hl7.org/fhir/StructureDefinition/{types[0]['code']}")
        if datatype is None or (datatype.derivation == "constraint" and datatype.type != types[0]["code"]):
            return False
        root = datatype.root.path
        for element in datatype.elements[1:]:
            self._add(_copy_element(element.raw, parent["id"] + element.id[len(root):],
                                    parent["path"] + element.path[len(root):]))
        return True

    def _add(self, element: dict[str, Any]) -> None:
        self.elements.append(element)
        self._by_id[element["id"]] = element
