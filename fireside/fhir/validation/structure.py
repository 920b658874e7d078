"""The walk over a resource's JSON against a StructureDefinition: unknown elements, JSON shapes,
cardinality, primitive formats, choice types, slices, fixed and pattern values, required bindings,
reference formats and contained resources, collecting the invariants to evaluate afterwards.
Every issue names the element by its FHIRPath with indexes (`Patient.name[0].given[1]`), choice
elements by their JSON name (`Observation.valueQuantity`).
"""

from __future__ import annotations

import re
from typing import Any

from fireside.fhir.definitions import Constraint, FhirDefinitions, StructureDefinition
from fireside.fhir.validation.bindings import RequiredBindings
from fireside.fhir.validation.elements import RESOURCE_TYPES, Child, ElementCatalog, Shape
from fireside.fhir.validation.primitives import PrimitiveChecker
from fireside.fhir.validation.profiles import ProfileRegistry
from fireside.fhir.validation.references import ReferenceChecker
from fireside.fhir.validation.slicing import SliceMatcher, Slicing
from fireside.fhir.validation.stated import StatedValues
from fireside.fhir.validation.targets import TargetResolver
from fireside.fhir.validation.walk import InvariantCheck, Walk

# Resource.id is typed `string` in the R4 definitions, but is an id (https://hl7.org/fhir/R4/resource.html#id).
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Real resources nest a few dozen objects deep (Questionnaire items, extensions in extensions); each
# level costs five Python frames, and the default recursion limit is 1,000.
MAX_DEPTH = 100


class StructureValidator:
    def __init__(self, definitions: FhirDefinitions, profiles: ProfileRegistry, bindings: RequiredBindings) -> None:
        self.definitions = definitions
        self.profiles = profiles
        self.catalog = ElementCatalog(definitions)
        self.primitives = PrimitiveChecker(definitions)
        self.bindings = bindings
        self.references = ReferenceChecker(definitions, profiles.lookup)
        self.slicing = SliceMatcher(self.catalog, self.conforms)
        self._primitive_types = frozenset(name for name, sd in definitions.types.items() if sd.is_primitive)
        self.stated = StatedValues()
        self.targets = TargetResolver(self.catalog, definitions, profiles)

    def walk(self, resource: Any, structure: StructureDefinition | None = None) -> Walk:
        """One pass over `resource` against its core type, or against `structure` (a profile)."""
        walk = Walk(skip_core_constraints=structure is not None and structure.derivation == "constraint")
        self.resource(resource, None, walk, structure)
        return walk

    def conforms(self, value: Any, url: str) -> bool:
        """Whether `value` (a resource or data type) meets the profile's structural rules."""
        structure = self.profiles.lookup(url)
        if structure is None or not isinstance(value, dict):
            return False
        if "resourceType" in value:
            return value["resourceType"] == structure.type and not self.walk(value, structure).has_errors
        walk = Walk(skip_core_constraints=True)
        self._object(value, structure, structure.root.id, structure.type, walk)
        return not walk.has_errors

    def resource(self, value: Any, path: str | None, walk: Walk, structure: StructureDefinition | None = None,
                 contained: bool = False) -> None:
        if not isinstance(value, dict):
            walk.error("structure", "A resource must be a JSON object", path)
            return
        resource_type = value.get("resourceType")
        if not isinstance(resource_type, str) or not self.definitions.is_resource_type(resource_type):
            where = f"{path}.resourceType" if path else "resourceType"
            walk.error("invalid" if path is None else "structure",
                       f"{resource_type!r} is not a known concrete resourceType", where)
            return
        root_path = path or resource_type
        resource_id = value.get("id")
        if resource_id is not None and not (isinstance(resource_id, str) and _ID.fullmatch(resource_id)):
            walk.error("value", f"{resource_id!r} is not a valid id (1-64 of A-Z a-z 0-9 - .)", f"{root_path}.id")
        if structure is None or structure.type != resource_type:
            structure = self.definitions.types[resource_type]
        enclosing = walk.resource, walk.root
        walk.resource = value
        if not contained:
            walk.root = value  # a contained resource's %rootResource is its container
        self._object(value, structure, structure.root.id, root_path, walk, is_resource=True)
        walk.resource, walk.root = enclosing

    def _object(self, value: dict[str, Any], structure: StructureDefinition, element_id: str, path: str,
                walk: Walk, is_resource: bool = False, extra: tuple[Constraint, ...] = ()) -> None:
        if walk.depth >= MAX_DEPTH:
            walk.error("too-costly", f"Elements are nested more than {MAX_DEPTH} deep", path)
            return
        walk.depth += 1
        self._children(value, structure, element_id, path, walk, is_resource, extra)
        walk.depth -= 1

    def _children(self, value: dict[str, Any], structure: StructureDefinition, element_id: str, path: str,
                  walk: Walk, is_resource: bool, extra: tuple[Constraint, ...]) -> None:
        shape = self.catalog.shape(structure, element_id)
        constraints = shape.profile_invariants if walk.skip_core_constraints else shape.invariants
        if extra:
            constraints += tuple(c for c in extra if c.key not in {k.key for k in constraints})
        if constraints:
            walk.checks.append(InvariantCheck(constraints, value, shape.type_path, path, walk.resource, walk.root))
        children = shape.children
        for key, item in value.items():
            child = children.get(key)
            if child is not None:
                self._property(item, child, f"{path}.{key}", value, walk)
            elif key == "resourceType" and is_resource:
                continue
            elif key.startswith("_"):
                self._primitive_extension(key, item, children.get(key[1:]), path, value, walk)
            else:
                walk.error("structure", _unknown(key, shape), f"{path}.{key}")
        self._required(value, shape, path, walk)

    def _required(self, value: dict[str, Any], shape: Shape, path: str, walk: Walk) -> None:
        for requirement in shape.required:
            if not any(name in value for name in requirement.json_names):
                walk.error("required", f"{requirement.name} is required (minimum cardinality {requirement.minimum})",
                           f"{path}.{requirement.name}")
        for name, names in shape.choice_groups.items():
            present = [n for n in names if n in value or "_" + n in value]
            if len(present) > 1:
                walk.error("structure", f"Only one of {', '.join(present)} may be present ({name})",
                           f"{path}.{present[1]}")
        for json_name, slice_name, minimum in shape.required_slices:
            if json_name not in value:
                walk.error("required", f"Slice {slice_name} requires at least {minimum} {json_name}, found 0",
                           f"{path}.{json_name}")

    def _property(self, value: Any, child: Child, path: str, parent: dict[str, Any], walk: Walk) -> None:
        if not child.is_array:
            if isinstance(value, list):
                walk.error("structure", f"{child.json_name} takes a single value, not an array", path)
            else:
                self._item(value, child, path, walk)
            return
        if not isinstance(value, list):
            walk.error("structure", f"{child.json_name} repeats: it must be an array", path)
            return
        if not value:
            walk.error("structure", "Arrays may not be empty", path)
            return
        maximum = child.maximum
        if maximum is not None and len(value) > maximum:
            walk.error("structure", f"At most {maximum} {child.json_name} allowed, found {len(value)}", path)
        if len(value) < child.element.min:
            walk.error("required", f"At least {child.element.min} {child.json_name} required, found {len(value)}",
                       path)
        slicing = None
        if child.structure.derivation == "constraint":
            slicing = self.slicing.slicing(child.structure, child.element)
        if slicing is not None:
            self._sliced_items(value, child, slicing, path, walk)
            return
        extensions = parent.get("_" + child.json_name)
        for index, item in enumerate(value):
            if item is None and _has_item(extensions, index):
                continue  # a primitive carried only by its extension (`_given[index]`)
            self._item(item, child, f"{path}[{index}]", walk)

    def _sliced_items(self, items: list[Any], child: Child, slicing: Slicing, path: str, walk: Walk) -> None:
        counts: dict[str, int] = {}
        for index, item in enumerate(items):
            matched = self.slicing.assign(slicing, item)
            target = child
            if matched is not None:
                counts[matched.name] = counts.get(matched.name, 0) + 1
                target = self.catalog.slice_child(child, matched.element)
            elif slicing.closed:
                walk.error("structure", f"{child.json_name}[{index}] matches none of the slices, and the slicing "
                           "is closed", f"{path}[{index}]")
            self._item(item, target, f"{path}[{index}]", walk)
        for candidate in slicing.slices:
            found, element = counts.get(candidate.name, 0), candidate.element
            if found < element.min:
                walk.error("required", f"Slice {candidate.name} requires at least {element.min} {child.json_name}, "
                           f"found {found}", path)
            if element.max.isdigit() and found > int(element.max):
                walk.error("structure", f"Slice {candidate.name} allows at most {element.max} {child.json_name}, "
                           f"found {found}", path)

    def _item(self, value: Any, child: Child, path: str, walk: Walk) -> None:
        if value is None:
            walk.error("structure", "null is not a FHIR value (only in a primitive array with a matching _ item)",
                       path)
            return
        type_code = child.type_code
        primitive = type_code in self._primitive_types or type_code.startswith("System.")
        if primitive:
            if not self._primitive(value, child, path, walk):
                return  # a malformed value says nothing about its code or pattern
        elif type_code in RESOURCE_TYPES or self.definitions.is_resource_type(type_code):
            self.resource(value, path, walk, self._resource_profile(value, child),
                          contained=child.element.name == "contained")
            return
        elif not isinstance(value, dict):
            walk.error("structure", f"Expected a JSON object ({type_code}), got {type(value).__name__}", path)
            return
        elif not value or (len(value) == 1 and "id" in value):
            walk.error("structure", "ele-1: An element must have a value or children (beyond id)", path)
            return
        if child.element.binding is not None:
            problem = self.bindings.problem(value, type_code, child.element.binding)
            if problem is not None:
                walk.error("code-invalid", problem, path)
        for problem in self.stated.problems(value, child.element):
            walk.error("value", problem, path)
        if not primitive:
            self._complex(value, child, path, walk)

    def _resource_profile(self, value: Any, child: Child) -> StructureDefinition | None:
        """The profile an inline resource is checked against: of several on the element, the first
        it conforms to (any one will do), else the first, whose errors then explain the failure."""
        known = [p for p in map(self.profiles.lookup, child.type_profiles) if p is not None]
        if len(known) > 1:
            return next((p for p in known if self.conforms(value, p.url)), known[0])
        return known[0] if known else None

    def _primitive(self, value: Any, child: Child, path: str, walk: Walk) -> bool:
        problem = self.primitives.checker(child.type_code)(value)
        if problem is not None:
            # The XHTML rules are the invariants txt-1 and txt-2, checked natively.
            walk.error("invariant" if child.type_code == "xhtml" else "value", problem, path)
            return False
        if constraints := child.invariants_for(walk.skip_core_constraints):
            walk.checks.append(InvariantCheck(constraints, value, child.element.path, path, walk.resource, walk.root))
        return True

    def _complex(self, value: dict[str, Any], child: Child, path: str, walk: Walk) -> None:
        extension = self.targets.extension_definition(child, value)
        structure, element_id = self.targets.resolve(child, extension)
        if extension is not None:
            self._check_modifier(extension, child.json_name == "modifierExtension", path, walk)
        extra = () if structure is child.structure and element_id == child.element.id else \
            child.invariants_for(walk.skip_core_constraints)
        self._object(value, structure, element_id, path, walk, extra=extra)
        if child.type_code == "Reference" and (problem := self.references.problem(value, child.element)) is not None:
            walk.error("value", problem, f"{path}.reference")

    def _check_modifier(self, definition: StructureDefinition, as_modifier: bool, path: str, walk: Walk) -> None:
        """An extension that changes the meaning of its element goes in modifierExtension, and
        only such an extension (https://hl7.org/fhir/R4/extensibility.html#modifierExtension)."""
        if definition.root.modifier and not as_modifier:
            walk.error("structure", f"{definition.url} is a modifier extension: it must be in modifierExtension", path)
        elif as_modifier and not definition.root.modifier:
            walk.error("structure", f"{definition.url} is not a modifier extension: it cannot be in modifierExtension",
                       path)

    def _primitive_extension(self, key: str, value: Any, child: Child | None, path: str, parent: dict[str, Any],
                             walk: Walk) -> None:
        """`_birthDate`, `_given`: the id and extensions of a primitive, an Element."""
        if child is None or not (child.type_code in self._primitive_types or child.type_code.startswith("System.")):
            walk.error("structure", f"Unknown element '{key}'", f"{path}.{key}")
            return
        where = f"{path}.{key[1:]}"
        if not child.is_array:
            self._element(value, where, walk)
            return
        values = parent.get(key[1:])
        if not isinstance(value, list) or (isinstance(values, list) and len(values) != len(value)):
            walk.error("structure", f"{key} must be an array as long as {key[1:]}", f"{path}.{key}")
            return
        for index, item in enumerate(value):
            if item is not None:
                self._element(item, f"{where}[{index}]", walk)
            elif not _has_item(values, index):
                walk.error("structure", f"{key[1:]}[{index}] has neither a value nor extensions", f"{where}[{index}]")

    def _element(self, value: Any, path: str, walk: Walk) -> None:
        if not isinstance(value, dict) or not value:
            walk.error("structure", "A primitive's id and extensions must be a non-empty JSON object", path)
            return
        element = self.definitions.types["Element"]
        self._object(value, element, element.root.id, path, walk)


def _unknown(key: str, shape: Shape) -> str:
    if key in shape.prohibited:
        return shape.prohibited[key]
    for name, names in shape.choice_groups.items():
        base = name[:-3]
        if key.startswith(base) and key[len(base):][:1].isupper():
            return f"{key}: {name} does not allow the type {key[len(base):]} (allowed: {', '.join(names)})"
    return f"Unknown element '{key}'"


def _has_item(extensions: Any, index: int) -> bool:
    return isinstance(extensions, list) and index < len(extensions) and extensions[index] is not None
