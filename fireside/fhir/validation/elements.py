"""What JSON an element may hold, computed once per StructureDefinition element and cached, so
that validating a resource is dictionary lookups, not searches through snapshots.

Elements are addressed by id, not path: in a profile, `Observation.category:VSCat.coding` (the
children of a slice) differs from `Observation.category.coding`. In the core types ids and paths
are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fireside.fhir.definitions import Constraint, ElementDefinition, FhirDefinitions, StructureDefinition
from fireside.fhir.validation.core_invariants import ENFORCED_ELSEWHERE

# Types whose children are defined inline in the containing StructureDefinition.
INLINE_TYPES = frozenset({"BackboneElement", "Element"})
RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})


def json_name(element_name: str, type_code: str) -> str:
    """`value[x]` with type Quantity is `valueQuantity` in JSON."""
    return element_name[:-3] + type_code[0].upper() + type_code[1:]


@dataclass(frozen=True)
class Child:
    """One JSON property an element may carry, and the definition that governs its value."""

    json_name: str
    element: ElementDefinition
    type_code: str  # for a choice, the type this JSON name selects (valueQuantity: Quantity)
    structure: StructureDefinition  # where `element` is defined
    is_array: bool  # from the base definition: a profile's max of 1 does not change the JSON
    type_profiles: tuple[str, ...]
    invariants: tuple[Constraint, ...]  # the element's own, evaluated as FHIRPath
    profile_invariants: tuple[Constraint, ...]  # those a profile adds to the core ones

    @property
    def maximum(self) -> int | None:
        return int(self.element.max) if self.element.max.isdigit() else None

    def invariants_for(self, profile_pass: bool) -> tuple[Constraint, ...]:
        return self.profile_invariants if profile_pass else self.invariants


@dataclass(frozen=True)
class Requirement:
    name: str  # the element's name (`value[x]`)
    minimum: int
    json_names: tuple[str, ...]  # every JSON name that satisfies it, with `_` forms


@dataclass
class Shape:
    type_path: str  # the element's path, for FHIRPath's typing (Observation.referenceRange, Period)
    invariants: tuple[Constraint, ...] = ()  # of the element itself
    profile_invariants: tuple[Constraint, ...] = ()
    children: dict[str, Child] = field(default_factory=dict)
    required: list[Requirement] = field(default_factory=list)
    choice_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # value[x] -> JSON names
    prohibited: dict[str, str] = field(default_factory=dict)  # JSON name -> why (max 0 in a profile)
    required_slices: list[tuple[str, str, int]] = field(default_factory=list)  # JSON name, slice, min


class ElementIndex:
    """One StructureDefinition's elements by id, their children and their slices."""

    def __init__(self, structure: StructureDefinition) -> None:
        self.by_id: dict[str, ElementDefinition] = {}
        self.children: dict[str, list[ElementDefinition]] = {}
        self.slices: dict[str, list[ElementDefinition]] = {}
        for element in structure.elements:
            self.by_id[element.id] = element
            parent, _, last = element.id.rpartition(".")
            if element.slice_name is not None and ":" in last:
                sliced = element.id[: -len(element.slice_name) - 1]
                if "/" not in element.slice_name:  # re-slices are not checked
                    self.slices.setdefault(sliced, []).append(element)
            elif parent:
                self.children.setdefault(parent, []).append(element)


class ElementCatalog:
    """Shapes and indexes for every structure met during validation, built on first use."""

    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions
        self._indexes: dict[int, ElementIndex] = {}
        self._shapes: dict[tuple[int, str], Shape] = {}
        self._slice_children: dict[tuple[int, int], Child] = {}
        self._base_arrays: dict[str, bool] = {}
        self._core_urls = frozenset(sd.url for sd in definitions.types.values())

    def index(self, structure: StructureDefinition) -> ElementIndex:
        index = self._indexes.get(id(structure))
        if index is None:
            index = self._indexes[id(structure)] = ElementIndex(structure)
        return index

    def shape(self, structure: StructureDefinition, element_id: str) -> Shape:
        key = (id(structure), element_id)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = self._build(structure, element_id)
        return shape

    def has_children(self, structure: StructureDefinition, element_id: str) -> bool:
        return element_id in self.index(structure).children

    def slices(self, structure: StructureDefinition, element_id: str) -> list[ElementDefinition]:
        return self.index(structure).slices.get(element_id, [])

    def element(self, structure: StructureDefinition, element_id: str) -> ElementDefinition | None:
        return self.index(structure).by_id.get(element_id)

    def slice_child(self, child: Child, element: ElementDefinition) -> Child:
        """`child` as governed by one of its slices."""
        key = (id(child), id(element))
        found = self._slice_children.get(key)
        if found is None:
            profiles = next((t.profile for t in element.types if t.code == child.type_code), ())
            found = self._slice_children[key] = Child(
                child.json_name, element, child.type_code, child.structure, child.is_array, profiles,
                *self.invariants(element))
        return found

    def invariants(self, element: ElementDefinition) -> tuple[tuple[Constraint, ...], tuple[Constraint, ...]]:
        """The element's error-level constraints evaluated as invariants: all of them, and those
        not from a core type (which a profile pass leaves to the pass against the core type)."""
        own = tuple(c for c in element.constraints if c.severity == "error" and c.key not in ENFORCED_ELSEWHERE)
        return own, tuple(c for c in own if c.source not in self._core_urls)

    def _build(self, structure: StructureDefinition, element_id: str) -> Shape:
        parent = self.index(structure).by_id.get(element_id)
        shape = Shape(parent.path, *self.invariants(parent)) if parent is not None else Shape(element_id)
        for element in self.index(structure).children.get(element_id, []):
            name = element.name
            is_array = self.base_is_array(structure, element)
            invariants = self.invariants(element)
            names: list[str] = []
            for type_ref in element.types or ():
                key = json_name(name, type_ref.code) if element.is_choice else name
                if key not in shape.children:
                    names.append(key)
                    shape.children[key] = Child(key, element, type_ref.code, structure, is_array, type_ref.profile,
                                                *invariants)
            if not element.types:  # a contentReference: the type is the referenced element's
                names.append(name)
                shape.children[name] = Child(name, element, "BackboneElement", structure, is_array, (), *invariants)
            if element.max == "0":
                for key in names:
                    del shape.children[key]
                    shape.prohibited[key] = f"{element.path} is not allowed here (maximum cardinality 0)"
                continue
            if element.is_choice:
                shape.choice_groups[name] = tuple(names)
            if element.min > 0:
                spellings = tuple(names) + tuple("_" + n for n in names)
                shape.required.append(Requirement(name, element.min, spellings))
            for sliced in self.index(structure).slices.get(element.id, []):
                if sliced.min > 0 and sliced.slice_name:
                    key = sliced.slice_name if element.is_choice else name
                    shape.required_slices.append((key, sliced.slice_name, sliced.min))
        return shape

    def base_is_array(self, structure: StructureDefinition, element: ElementDefinition) -> bool:
        """Whether the element repeats in the core definition of its path, which fixes its JSON
        form: a profile may narrow `Patient.name` to 0..1, and it is still an array."""
        if structure.derivation != "constraint":
            return element.is_array
        cached = self._base_arrays.get(element.path)
        if cached is None:
            base = self._core_element(element.path)
            cached = base.is_array if base is not None else element.is_array
            self._base_arrays[element.path] = cached
        return cached

    def _core_element(self, path: str) -> ElementDefinition | None:
        """The core element a profile's path names, following data types: `Observation.code.coding`
        is `CodeableConcept.coding`."""
        steps = path.split(".")
        structure = self.definitions.types.get(steps[0])
        current = steps[0]
        element = structure.element(current) if structure else None
        for step in steps[1:]:
            if structure is None or element is None:
                return None
            candidate = structure.element(f"{current}.{step}")
            if candidate is None and element.types and element.types[0].code not in INLINE_TYPES:
                structure = self.definitions.types.get(element.types[0].code)
                current = structure.type if structure else ""
                candidate = structure.element(f"{current}.{step}") if structure else None
            if candidate is None:
                return None
            element, current = candidate, f"{current}.{step}"
        return element


def fixed_or_pattern(element: ElementDefinition) -> tuple[str, Any] | None:
    """The element's `fixed[x]` or `pattern[x]`, as ("fixed"|"pattern", value)."""
    for key, value in element.raw.items():
        if key.startswith("fixed"):
            return "fixed", value
        if key.startswith("pattern"):
            return "pattern", value
    return None
