"""What JSON an element of a type may hold: its children by JSON name, computed once from the
StructureDefinitions and cached, so validating a resource is dictionary lookups, not searches."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fireside.fhir.definitions import Constraint, ElementDefinition, FhirDefinitions, StructureDefinition

# Types whose children are defined inline in the containing StructureDefinition.
INLINE_TYPES = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True)
class Child:
    """One JSON property an element may carry."""

    json_name: str
    element: ElementDefinition
    type_code: str  # for a choice, the type this JSON name selects (valueQuantity: Quantity)
    structure: StructureDefinition  # where the element is defined
    path: str  # the element's path in `structure`, e.g. Patient.contact.name

    @property
    def is_array(self) -> bool:
        return self.element.max not in ("0", "1")


@dataclass
class Shape:
    children: dict[str, Child] = field(default_factory=dict)
    # element name -> its min, for elements that must be present (choices under their [x] name)
    required: dict[str, int] = field(default_factory=dict)
    choice_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # value[x] -> JSON names
    maximums: dict[str, int] = field(default_factory=dict)  # element name -> max when not * or 1


class ShapeCatalog:
    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions
        self._shapes: dict[tuple[str, str], Shape] = {}
        self._regexes: dict[str, re.Pattern[str] | None] = {}
        self._invariants: dict[tuple[str, str], tuple[Constraint, ...]] = {}

    def shape(self, structure: StructureDefinition, path: str) -> Shape:
        key = (structure.url, path)
        if key not in self._shapes:
            self._shapes[key] = self._build(structure, path)
        return self._shapes[key]

    def _build(self, structure: StructureDefinition, path: str) -> Shape:
        shape = Shape()
        for element in structure.children(path):
            if element.max == "0":
                continue
            name = element.name
            if element.is_choice:
                base = name[:-3]
                names = []
                for type_ref in element.types:
                    json_name = base + type_ref.code[0].upper() + type_ref.code[1:]
                    names.append(json_name)
                    shape.children[json_name] = Child(json_name, element, type_ref.code, structure, element.path)
                shape.choice_groups[name] = tuple(names)
            else:
                type_code = element.types[0].code if element.types else "BackboneElement"
                shape.children[name] = Child(name, element, type_code, structure, element.path)
            if element.min > 0:
                shape.required[name] = element.min
            if element.max not in ("*", "1", "0") and element.max.isdigit():
                shape.maximums[name] = int(element.max)
        return shape

    def invariants(self, structure: StructureDefinition, path: str) -> tuple[Constraint, ...]:
        """The error-level constraints on an element, but ele-1, which the structural checks
        already enforce (no empty objects, arrays or strings)."""
        key = (structure.url, path)
        if key not in self._invariants:
            element = structure.element(path)
            self._invariants[key] = tuple(
                c for c in (element.constraints if element else ())
                if c.severity == "error" and c.key != "ele-1"
            )
        return self._invariants[key]

    def primitive_regex(self, type_code: str) -> re.Pattern[str] | None:
        """The spec's regex for a primitive type's value (anchored), or None."""
        if type_code not in self._regexes:
            pattern = None
            structure = self.definitions.types.get(type_code)
            value = structure.element(f"{type_code}.value") if structure else None
            if value is not None and value.types and value.types[0].regex:
                pattern = re.compile(value.types[0].regex)
            self._regexes[type_code] = pattern
        return self._regexes[type_code]

    def is_primitive(self, type_code: str) -> bool:
        structure = self.definitions.types.get(type_code)
        return structure is not None and structure.is_primitive

    def resolve_content_reference(self, structure: StructureDefinition, reference: str) -> str:
        """`#Questionnaire.item` (R4 form) as the element path it names."""
        target = reference.split("#", 1)[-1]
        element = structure.element(target) or next(
            (e for e in structure.elements if e.id == target), None
        )
        return element.path if element else target
