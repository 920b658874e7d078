"""Composite criteria (https://hl7.org/fhir/R4/search.html#composite):
`code-value-quantity=http://loinc.org|8480-6$gt100` is one value per component, separated by
`$` (`\\$` is a literal one), each read with its component type's own syntax and prefixes.

All components must hold in one `search_composite` row, i.e. in one element of the resource
(fireside/store/indexing/composites.py). Each component's value is compiled by the filter of its
type, which is written over that type's own table (`i.value`, `i.low`...); its columns are then
renamed to the component's slots of the composite row (`i.c2_value`, `i.c2_low`...), so the
row is matched by one flat condition that the composite value index can serve.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from psycopg import sql

from fireside.search.escaping import split_unescaped
from fireside.search.filters.condition import Condition, FilterContext, all_of, bad_modifier, bad_value
from fireside.search.request import Criterion
from fireside.store.indexing import SLOT_OF_COLUMN

ValueFilter = Callable[[Criterion, str, FilterContext], Condition]

_COLUMN = re.compile(r"\bi\.([a-z_]+)\b")
_IDENTIFIER = re.compile(r'^"i"\."([a-z_]+)"$')


def composite_filter(component_filters: Mapping[str, ValueFilter]) -> ValueFilter:
    """The composite value filter, reading each component with `component_filters[its type]`."""

    def compile_composite_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
        if criterion.modifier is not None:
            raise bad_modifier(criterion)
        components = criterion.parameter.components
        parts = split_unescaped(value, "$")
        if len(parts) != len(components):
            expected = "$".join(component.code for component in components)
            raise bad_value(criterion, value, f"is not {len(components)} values separated by $ ({expected})")
        conditions = []
        for position, (component, part) in enumerate(zip(components, parts, strict=True), 1):
            # The component's own criterion, so that its errors still name this parameter.
            alone = replace(criterion, values=(part,))
            condition = component_filters[component.type](alone, part, context)
            conditions.append(renamed(condition, _columns(position, component.type)))
        return all_of(*conditions)

    return compile_composite_filter


def _columns(position: int, kind: str) -> dict[str, str]:
    return {column: f"c{position}_{slot}" for column, slot in SLOT_OF_COLUMN[kind].items()}


def renamed(condition: Condition, columns: Mapping[str, str]) -> Condition:
    """`condition` with each `i.<column>` made `i.<columns[column]>`. A column the mapping does
    not have is a column the composite row does not keep: a KeyError, i.e. a bug, not bad input."""
    return Condition(_renamed(condition.sql, columns), condition.params)


def _renamed(composable: sql.Composable, columns: Mapping[str, str]) -> sql.Composable:
    if isinstance(composable, sql.Composed):
        return sql.Composed([_renamed(part, columns) for part in composable])
    if isinstance(composable, sql.SQL):
        return sql.SQL(_COLUMN.sub(lambda match: "i." + columns[match.group(1)], composable.as_string()))
    if isinstance(composable, sql.Identifier):
        match = _IDENTIFIER.match(composable.as_string())
        return sql.Identifier("i", columns[match.group(1)]) if match else composable
    return composable
