"""Structural validation of a resource against its StructureDefinition: unknown elements,
cardinality, JSON shapes, primitive formats (the spec's regexes), choice types, contained
resources and reference formats. Every issue names the element by its FHIRPath with indexes
(`Patient.name[0].given[1]`)."""

from __future__ import annotations

import re
from typing import Any

from fireside.fhir.definitions import FhirDefinitions, StructureDefinition
from fireside.fhir.errors import Issue
from fireside.fhir.validation.bindings import RequiredBindings
from fireside.fhir.validation.narrative import narrative_issues
from fireside.fhir.validation.shapes import INLINE_TYPES, Child, ShapeCatalog
from fireside.fhir.validation.walk import InvariantCheck, Walk

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_RELATIVE_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?$")
_INTEGER_TYPES = {"integer": (-(2**31), 2**31 - 1), "unsignedInt": (0, 2**31 - 1), "positiveInt": (1, 2**31 - 1)}
_RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})


class StructureValidator:
    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions
        self.catalog = ShapeCatalog(definitions)
        self.bindings = RequiredBindings()

    def validate(self, resource: Any, path: str | None = None,
                 structure: StructureDefinition | None = None) -> Walk:
        """Walk `resource` against its type, or against `structure` (a profile of that type)."""
        walk = Walk(root=resource if isinstance(resource, dict) else {})
        self._resource(resource, path, walk, structure)
        return walk

    def _resource(self, resource: Any, path: str | None, walk: Walk,
                  profile: StructureDefinition | None = None) -> None:
        if not isinstance(resource, dict):
            walk.issues.append(Issue("structure", "A resource must be a JSON object", path))
            return
        resource_type = resource.get("resourceType")
        root = path or (resource_type if isinstance(resource_type, str) else "Resource")
        if not isinstance(resource_type, str) or not self.definitions.is_resource_type(resource_type):
            walk.issues.append(Issue("invalid", f"Unknown resourceType {resource_type!r}", f"{root}.resourceType"
                                if path else "resourceType"))
            return
        resource_id = resource.get("id")
        if resource_id is not None and not (isinstance(resource_id, str) and _ID.match(resource_id)):
            walk.issues.append(Issue("value", f"{resource_id!r} is not a valid id (1-64 of A-Z a-z 0-9 - .)",
                                f"{root}.id"))
        structure = profile or self.definitions.types[resource_type]
        enclosing, walk.resource = walk.resource, resource
        self._object(resource, structure, resource_type, root, walk, is_resource=True)
        walk.resource = enclosing

    def _object(self, value: dict[str, Any], structure: StructureDefinition, element_path: str, path: str,
                walk: Walk, is_resource: bool = False) -> None:
        shape = self.catalog.shape(structure, element_path)
        constraints = self.catalog.invariants(structure, element_path)
        if constraints:
            walk.checks.append(InvariantCheck(constraints, value, element_path, path, walk.resource, walk.root))
        for key, item in value.items():
            if is_resource and key == "resourceType":
                continue
            if key.startswith("_"):
                self._primitive_extension(key, item, shape.children.get(key[1:]), path, walk)
                continue
            child = shape.children.get(key)
            if child is None:
                walk.issues.append(Issue("structure", f"Unknown element '{key}'", f"{path}.{key}"))
                continue
            self._property(item, child, f"{path}.{key}", value.get("_" + key), walk)
        for name, minimum in shape.required.items():
            names = shape.choice_groups.get(name, (name,))
            if not any(n in value or "_" + n in value for n in names):
                walk.issues.append(Issue("required", f"'{name}' is required (minimum cardinality {minimum})",
                                    f"{path}.{name}"))
        for name, names in shape.choice_groups.items():
            present = [n for n in names if n in value or "_" + n in value]
            if len(present) > 1:
                walk.issues.append(Issue("structure", f"Only one of {', '.join(present)} may be present ({name})",
                                    f"{path}.{present[1]}"))

    def _property(self, value: Any, child: Child, path: str, extensions: Any, walk: Walk) -> None:
        if not child.is_array:
            if isinstance(value, list):
                walk.issues.append(Issue("structure", f"'{child.json_name}' has at most one value: not an array", path))
                return
            self._value(value, child, path, walk)
            return
        if not isinstance(value, list):
            walk.issues.append(Issue("structure", f"'{child.json_name}' repeats: it must be an array", path))
            return
        if not value:
            walk.issues.append(Issue("structure", "Arrays may not be empty", path))
        maximum = child.element.max
        if maximum.isdigit() and len(value) > int(maximum):
            walk.issues.append(Issue("structure", f"At most {maximum} '{child.json_name}' allowed, found {len(value)}",
                                path))
        if child.element.min > 1 and len(value) < child.element.min:
            walk.issues.append(Issue("required", f"At least {child.element.min} '{child.json_name}' required", path))
        for index, item in enumerate(value):
            if item is None and _has_item(extensions, index):
                continue  # a primitive carried only by its extension (`_given[index]`)
            self._value(item, child, f"{path}[{index}]", walk)

    def _value(self, value: Any, child: Child, path: str, walk: Walk) -> None:
        type_code = child.type_code
        binding = child.element.binding
        if binding is not None and value is not None:
            issue = self.bindings.check(value, type_code, binding, path)
            if issue is not None:
                walk.issues.append(issue)
        if value is None:
            walk.issues.append(Issue("structure", "null is not a FHIR value", path))
        elif child.element.content_reference or type_code in INLINE_TYPES:
            element_path = child.path
            if child.element.content_reference:
                element_path = self.catalog.resolve_content_reference(child.structure,
                                                                      child.element.content_reference)
            if self._is_object(value, path, walk):
                self._object(value, child.structure, element_path, path, walk)
        elif type_code in _RESOURCE_TYPES:
            self._resource(value, path, walk)
        elif type_code.startswith("System.") or self.catalog.is_primitive(type_code):
            self._primitive(value, type_code, path, walk)
        elif self._is_object(value, path, walk):
            if child.structure.children(child.path):
                # A profile that constrains inside a data type lists its children itself.
                self._object(value, child.structure, child.path, path, walk)
            elif (datatype := self.definitions.types.get(type_code)) is not None:
                self._object(value, datatype, type_code, path, walk)
            if type_code == "Reference":
                self._reference(value, child, path, walk)

    def _is_object(self, value: Any, path: str, walk: Walk) -> bool:
        if not isinstance(value, dict):
            walk.issues.append(Issue("structure", "Expected a JSON object", path))
            return False
        if not value:
            walk.issues.append(Issue("structure", "Objects may not be empty", path))
            return False
        return True

    def _primitive(self, value: Any, type_code: str, path: str, walk: Walk) -> None:
        name = type_code.removeprefix("System.").lower() if type_code.startswith("System.") else type_code
        if name == "boolean":
            if not isinstance(value, bool):
                walk.issues.append(Issue("value", f"Expected true or false, got {_shown(value)}", path))
        elif name in _INTEGER_TYPES:
            low, high = _INTEGER_TYPES[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                walk.issues.append(Issue("value", f"Expected a {name} ({low}..{high}), got {_shown(value)}", path))
        elif name == "decimal":
            if isinstance(value, bool) or not isinstance(value, int | float):
                walk.issues.append(Issue("value", f"Expected a decimal number, got {_shown(value)}", path))
        elif not isinstance(value, str):
            walk.issues.append(Issue("value", f"Expected a string ({name}), got {_shown(value)}", path))
        elif not value.strip():
            walk.issues.append(Issue("value", "Strings may not be empty or only whitespace", path))
        elif name == "xhtml":
            walk.issues.extend(narrative_issues(value, path))
        else:
            regex = self.catalog.primitive_regex(type_code)
            if regex is not None and not regex.fullmatch(value):
                walk.issues.append(Issue("value", f"{_shown(value)} is not a valid {name}", path))

    def _primitive_extension(self, key: str, value: Any, child: Child | None, path: str,
                             walk: Walk) -> None:
        if child is None or not (child.type_code.startswith("System.") or self.catalog.is_primitive(child.type_code)):
            walk.issues.append(Issue("structure", f"Unknown element '{key}'", f"{path}.{key}"))
            return
        element = self.definitions.types["Element"]
        items = value if isinstance(value, list) and child.is_array else [value]
        for index, item in enumerate(items):
            where = f"{path}.{key}[{index}]" if child.is_array else f"{path}.{key}"
            if item is None and child.is_array:
                continue
            if self._is_object(item, where, walk):
                self._object(item, element, "Element", where, walk)

    def _reference(self, value: dict[str, Any], child: Child, path: str, walk: Walk) -> None:
        reference = value.get("reference")
        if not isinstance(reference, str) or reference.startswith(("#", "urn:uuid:", "urn:oid:")) or \
                "://" in reference:
            return
        match = _RELATIVE_REFERENCE.match(reference)
        if not match:
            walk.issues.append(Issue("value", f"{reference!r} is not a valid reference (Type/id, an absolute URL, "
                                "#local or urn:uuid:)", f"{path}.reference"))
            return
        target = match.group(1)
        if not self.definitions.is_resource_type(target):
            walk.issues.append(Issue("value", f"{target!r} is not a resource type", f"{path}.reference"))
            return
        allowed = _target_types(child)
        if allowed and not allowed & {target, "Resource", "DomainResource"}:
            walk.issues.append(Issue("value", f"A {target} reference is not allowed here (allowed: "
                                f"{', '.join(sorted(allowed))})", f"{path}.reference"))


def _target_types(child: Child) -> set[str]:
    return {target for type_ref in child.element.types if type_ref.code == "Reference"
            for target in type_ref.target_types}


def _has_item(extensions: Any, index: int) -> bool:
    return isinstance(extensions, list) and index < len(extensions) and extensions[index] is not None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
