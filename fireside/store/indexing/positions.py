"""Index rows of Location `near` (https://hl7.org/fhir/R4/location.html#positional): the
position's latitude and longitude (WGS84 degrees) as one `search_position` row.

`near` is the one `special` parameter of R4; its search is in fireside/search/filters/near.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fireside.fhir import FhirDefinitions
from fireside.fhir.definitions import SearchParameterDefinition
from fireside.store.indexing.expressions import UnsupportedExpression, parse_expression
from fireside.store.indexing.navigation import compile_path
from fireside.store.indexing.values import Row

Extractor = Callable[[dict[str, Any]], list[Row]]
_NONE: list[Row] = []

# The special parameters that are positions, by code.
POSITION_PARAMETERS = frozenset({"near"})


def compile_position(
    definitions: FhirDefinitions, definition: SearchParameterDefinition, resource_type: str, parts: list[str]
) -> Extractor | None:
    """The row extractor of a position parameter (`near`), or None for any other special one."""
    if definition.code not in POSITION_PARAMETERS:
        return None
    try:
        navigators = [b.navigate for part in parts for path in parse_expression(part)
                      for b in compile_path(definitions, resource_type, path)]
    except UnsupportedExpression:
        return None
    if not navigators:
        return None

    def extract(resource: dict[str, Any]) -> list[Row]:
        return [row for navigate in navigators for node in navigate(resource) for row in position_rows(node)]

    return extract


def position_rows(position: Any) -> list[Row]:
    """(latitude, longitude), if both are numbers in range."""
    if not isinstance(position, dict):
        return _NONE
    latitude, longitude = _degrees(position.get("latitude")), _degrees(position.get("longitude"))
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return _NONE
    return [(latitude, longitude)]


def _degrees(value: Any) -> float | None:
    # bool is an int to Python; a NaN or an infinity cannot be a position.
    if value.__class__ is bool or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
