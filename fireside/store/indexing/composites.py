"""Composite search parameters, indexed per element (https://hl7.org/fhir/R4/search.html#composite).

A composite's expression selects elements (`Observation.component`), and each of its components
is another search parameter with an expression relative to that element (`code`,
`value.as(Quantity)`). `component-code-value-quantity=http://loinc.org|8480-6$gt100` must find
the code and the value in the SAME component, so the rows cannot be those of the component
parameters (which do not say which element a value came from). Instead each element gives one
`search_composite` row per combination of its components' values: an Observation.component
with a code of two codings and one value gives two rows.

Each component's values are the rows the component's own type gives (`values.rows_of`), laid
into that component's slots of the row (`SLOT_OF_COLUMN`): search then compiles each component
value with its type's own filter, over those slots (fireside/search/filters/composites.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, product
from typing import Any

from fireside.fhir import FhirDefinitions
from fireside.fhir.definitions import SearchParameterDefinition
from fireside.store.indexing.expressions import UnsupportedExpression, parse_expression, split_union
from fireside.store.indexing.navigation import UNKNOWN_TYPE, Element, compile_elements, compile_path, compile_relative
from fireside.store.indexing.values import Row, RowsOf, rows_of, sniff_rows_of

log = logging.getLogger(__name__)

# The columns of each component in a row, in order: c1_system, c1_value, ... c3_date_high.
MAX_COMPONENTS = 3
SLOTS = ("system", "value", "extra", "low", "high", "date_low", "date_high")

# Component type -> {column of the type's own index table: the slot it is kept in}. Columns
# left out are only read by modifiers, which composite components do not take (token text,
# the string as written).
SLOT_OF_COLUMN: dict[str, dict[str, str]] = {
    "token": {"system": "system", "value": "value"},
    "string": {"normalized": "value"},
    "reference": {"target_type": "system", "target_id": "value", "url": "extra"},
    "uri": {"value": "value"},
    "date": {"low": "date_low", "high": "date_high"},
    "number": {"low": "low", "high": "high"},
    "quantity": {"low": "low", "high": "high", "system": "system", "code": "value", "unit": "extra"},
}
# The value columns of each type's table, in the order its row functions produce them.
_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "token": ("system", "value", "text"),
    "string": ("normalized", "value"),
    "reference": ("target_type", "target_id", "url"),
    "uri": ("value",),
    "date": ("low", "high"),
    "number": ("low", "high"),
    "quantity": ("low", "high", "system", "code", "unit"),
}
# R4 (4.0.1) gives DocumentReference-relationship's components each other's expressions:
# `relatesto` (a reference) as `code` and `relation` (a token) as `target`. As written neither
# would index anything.
_R4_ERRATA: dict[str, dict[str, str]] = {
    "http://hl7.org/fhir/SearchParameter/DocumentReference-relationship": {"code": "target", "target": "code"},
}
_RESOURCE_PREFIX = "%resource."

Extractor = Callable[[dict[str, Any]], list[Row]]
Slots = tuple[Any, ...]
# Navigates from the element (False) or from the resource (True: `%resource.x`), then rows.
_ComponentBranch = tuple[Callable[[Any], list[Any]], RowsOf, bool]


@dataclass(frozen=True)
class Component:
    """One component of a composite: its own parameter's code and type, in search order."""

    code: str
    type: str
    # Relative to the composite's element (after R4 errata): with `type`, what its values are.
    expression: str


@dataclass(frozen=True)
class CompiledComposite:
    components: tuple[Component, ...]
    extract: Extractor


def compile_composite(
    definitions: FhirDefinitions, definition: SearchParameterDefinition, resource_type: str, parts: list[str]
) -> CompiledComposite | None:
    """The components and the row extractor of a composite on `resource_type`, whose expression
    has the union `parts` rooted there; None (logged) when it cannot be indexed."""
    components = _components(definitions, definition)
    if components is None:
        return None
    try:
        elements = [e for part in parts for path in parse_expression(part)
                    for e in compile_elements(definitions, resource_type, path)]
        compiled = [
            (element.navigate, [_component_branches(definitions, resource_type, element, c.type, c.expression)
                                for c in components])
            for element in elements
        ]
    except UnsupportedExpression as reason:
        log.warning("%s %s: composite not indexed (%s)", resource_type, definition.code, reason)
        return None
    compiled = [(navigate, branches) for navigate, branches in compiled if all(branches)]
    if not compiled:
        return None
    slotters = [_slotter(component.type) for component in components]
    padding = (None,) * (len(SLOTS) * (MAX_COMPONENTS - len(components)))
    return CompiledComposite(components, _extractor(compiled, slotters, padding))


def _components(
    definitions: FhirDefinitions, definition: SearchParameterDefinition
) -> tuple[Component, ...] | None:
    """The components, or None if one is not indexable."""
    listed = definition.raw.get("component") or []
    errata = _R4_ERRATA.get(definition.url, {})
    found: list[Component] = []
    for component in listed:
        target = next((p for p in definitions.search_parameters if p.url == component.get("definition")), None)
        expression = component.get("expression")
        if target is None or target.type not in SLOT_OF_COLUMN or not isinstance(expression, str):
            log.warning("%s: component %s cannot be indexed", definition.code, component.get("definition"))
            return None
        found.append(Component(target.code, target.type, errata.get(expression, expression)))
    if not 2 <= len(found) <= MAX_COMPONENTS:
        log.warning("%s: %d components; composites of 2 to %d are indexed", definition.code, len(found),
                    MAX_COMPONENTS)
        return None
    return tuple(found)


def _component_branches(
    definitions: FhirDefinitions, resource_type: str, element: Element, kind: str, expression: str
) -> list[_ComponentBranch]:
    branches: list[_ComponentBranch] = []
    for part in split_union(expression):
        if part.startswith(_RESOURCE_PREFIX):
            # Relative to the resource, not the element (MolecularSequence's chromosome).
            paths = parse_expression(resource_type + "." + part[len(_RESOURCE_PREFIX):])
            found = [(b, True) for path in paths for b in compile_path(definitions, resource_type, path)]
        else:
            # Rooted at a placeholder type, only to parse: the root is dropped.
            paths = parse_expression("Element." + part)
            found = [(b, False) for path in paths for b in compile_relative(definitions, element, path[1:])]
        for branch, from_resource in found:
            rows = rows_of(kind, branch.type_code)
            if rows is None and branch.type_code == UNKNOWN_TYPE:
                rows = sniff_rows_of(kind)
            if rows is not None:
                branches.append((branch.navigate, rows, from_resource))
    return branches


def _slotter(kind: str) -> Callable[[Row], Slots]:
    """Turns a row of the component type's table into the component's slots of a composite row."""
    slot_index = {slot: index for index, slot in enumerate(SLOTS)}
    placement = [(index, slot_index[SLOT_OF_COLUMN[kind][column]])
                 for index, column in enumerate(_TABLE_COLUMNS[kind]) if column in SLOT_OF_COLUMN[kind]]

    def slots(row: Row) -> Slots:
        values: list[Any] = [None] * len(SLOTS)
        for column, slot in placement:
            values[slot] = row[column]
        return tuple(values)

    return slots


def _extractor(
    compiled: list[tuple[Callable[[Any], list[Any]], list[list[_ComponentBranch]]]],
    slotters: list[Callable[[Row], Slots]],
    padding: Slots,
) -> Extractor:
    # Last component first: it is the value, which most elements lack for all but one of the
    # code-value-* parameters, and then the code need not be read at all.
    last_first = [(navigate, list(zip(components, slotters, strict=True))[::-1]) for navigate, components in compiled]

    def extract(resource: dict[str, Any]) -> list[Row]:
        rows: list[Row] = []
        for navigate, pairs in last_first:
            for element in navigate(resource):
                if not isinstance(element, dict):
                    continue
                values: list[list[Slots]] = []
                for branches, slotter in pairs:
                    found = _component_values(branches, element, resource, slotter)
                    if not found:
                        break
                    values.append(found)
                else:
                    values.reverse()
                    rows.extend(tuple(chain.from_iterable(combination)) + padding for combination in product(*values))
        return rows

    return extract


def _component_values(
    branches: list[_ComponentBranch], element: dict[str, Any], resource: dict[str, Any],
    slotter: Callable[[Row], Slots],
) -> list[Slots]:
    found: list[Slots] = []
    for navigate, rows_of_value, from_resource in branches:
        for node in navigate(resource if from_resource else element):
            found.extend(slotter(row) for row in rows_of_value(node))
    return list(dict.fromkeys(found)) if len(found) > 1 else found
