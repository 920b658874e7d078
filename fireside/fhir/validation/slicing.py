"""Which slice each repetition of a sliced element belongs to
(https://hl7.org/fhir/R4/profiling.html#discriminator).

Discriminators of type value and pattern (on plain element paths, with the expected value taken
from the slice's fixed[x] or pattern[x], or an extension slice's profile), exists, type and profile
are understood. A slicing with any other discriminator (`resolve()`, `extension('...')`, a
binding) is not checked at all rather than guessed at: a wrong guess would refuse valid data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fireside.fhir.definitions import ElementDefinition, StructureDefinition
from fireside.fhir.validation.elements import ElementCatalog, fixed_or_pattern
from fireside.fhir.validation.patterns import matches_pattern, values_at

Conforms = Callable[[Any, str], bool]  # does a value conform to the profile with this url


@dataclass(frozen=True)
class Test:
    """One discriminator, made concrete for one slice."""

    kind: str  # value, exists, type or profile
    steps: tuple[str, ...]  # the discriminator's path; () for $this
    expected: Any  # values to match, a bool for exists, types or profile urls


@dataclass(frozen=True)
class Slice:
    element: ElementDefinition
    tests: tuple[Test, ...]

    @property
    def name(self) -> str:
        return self.element.slice_name or ""


@dataclass(frozen=True)
class Slicing:
    slices: tuple[Slice, ...]
    closed: bool


class SliceMatcher:
    def __init__(self, catalog: ElementCatalog, conforms: Conforms) -> None:
        self._catalog = catalog
        self._conforms = conforms
        self._slicings: dict[tuple[int, str], Slicing | None] = {}

    def slicing(self, structure: StructureDefinition, sliced: ElementDefinition) -> Slicing | None:
        """The element's slices with their tests, or None when it has none we can check."""
        key = (id(structure), sliced.id)
        if key not in self._slicings:
            self._slicings[key] = self._build(structure, sliced)
        return self._slicings[key]

    def assign(self, slicing: Slicing, item: Any) -> Slice | None:
        """The first slice `item` belongs to, or None."""
        for candidate in slicing.slices:
            if all(self._passes(test, item) for test in candidate.tests):
                return candidate
        return None

    def _build(self, structure: StructureDefinition, sliced: ElementDefinition) -> Slicing | None:
        elements = self._catalog.slices(structure, sliced.id)
        rules = sliced.raw.get("slicing")
        if not elements or not isinstance(rules, dict):
            return None
        discriminators = rules.get("discriminator") or []
        slices = []
        for element in elements:
            tests = [self._test(structure, element, d) for d in discriminators]
            if not discriminators or any(test is None for test in tests):
                return None
            slices.append(Slice(element, tuple(t for t in tests if t is not None)))
        return Slicing(tuple(slices), rules.get("rules") == "closed")

    def _test(self, structure: StructureDefinition, element: ElementDefinition,
              discriminator: dict[str, Any]) -> Test | None:
        kind, path = discriminator.get("type"), discriminator.get("path", "")
        steps = () if path == "$this" else tuple(path.split("."))
        if any(not step.isidentifier() for step in steps):
            return None  # resolve(), extension('url'), ofType(...)
        target = self._descendant(structure, element, steps)
        if kind in ("value", "pattern"):
            expected = self._expected_values(structure, element, steps)
            return Test("value", steps, expected) if expected is not None else None
        if target is None:
            return None
        if kind == "exists":
            return Test("exists", steps, target.min > 0) if target.min > 0 or target.max == "0" else None
        if kind == "type":
            return Test("type", steps, frozenset(t.code for t in target.types)) if target.types else None
        if kind == "profile":
            profiles = tuple(url for t in target.types for url in t.profile)
            return Test("profile", steps, profiles) if profiles else None
        return None

    def _descendant(self, structure: StructureDefinition, element: ElementDefinition,
                    steps: tuple[str, ...]) -> ElementDefinition | None:
        current: ElementDefinition | None = element
        for step in steps:
            if current is None:
                return None
            current = self._catalog.element(structure, f"{current.id}.{step}")
        return current

    def _expected_values(self, structure: StructureDefinition, element: ElementDefinition,
                         steps: tuple[str, ...]) -> list[Any] | None:
        """What the slice fixes at the discriminator's path: from a fixed[x] or pattern[x] on the
        element there or on one above it, or the profile that names an extension slice's url."""
        current = element
        for index, step in enumerate(steps):
            stated = fixed_or_pattern(current)
            if stated is not None:
                found = values_at(stated[1], list(steps[index:]))
                return found or None
            child = self._catalog.element(structure, f"{current.id}.{step}")
            if child is None:
                if steps[index:] == ("url",) and current.types and current.types[0].profile:
                    return [current.types[0].profile[0]]
                return None
            current = child
        stated = fixed_or_pattern(current)
        return [stated[1]] if stated is not None else None

    def _passes(self, test: Test, item: Any) -> bool:
        found = values_at(item, list(test.steps))
        if test.kind == "value":
            return all(any(matches_pattern(value, expected) for value in found) for expected in test.expected)
        if test.kind == "exists":
            return bool(found) is bool(test.expected)
        if test.kind == "type":
            return any(isinstance(value, dict) and value.get("resourceType") in test.expected for value in found)
        return any(self._conforms(value, str(url)) for value in found for url in test.expected)
