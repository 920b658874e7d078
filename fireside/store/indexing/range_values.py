"""Index rows of date, number and quantity parameters: every value is a range [low, high]
(https://hl7.org/fhir/R4/search.html#date, #number, #quantity).

A date is the range its precision covers; a Period with an open end reaches to infinity; a
Timing counts by its outer limits only, as the spec allows. Numbers are written as orjson parsed
them (int or float): COPY sends their text and PostgreSQL reads it as numeric, exactly.
"""

from __future__ import annotations

from typing import Any

from fireside.store.indexing.dates import NEGATIVE_INFINITY, POSITIVE_INFINITY, DateBound, date_range
from fireside.store.indexing.tables import cut

Row = tuple[Any, ...]
_NONE: list[Row] = []

# numeric has infinities since PostgreSQL 14; a Range with an open end uses them.
NUMERIC_NEGATIVE_INFINITY = "-Infinity"
NUMERIC_POSITIVE_INFINITY = "Infinity"
_CURRENCY_SYSTEM = "urn:iso:std:iso:4217"


# date rows: (low, high), low inclusive, high exclusive


def instant_dates(value: Any) -> list[Row]:
    """date, dateTime and instant."""
    if not isinstance(value, str):
        return _NONE
    found = date_range(value)
    return [found] if found else _NONE


def period_dates(period: Any) -> list[Row]:
    start, end = period.get("start"), period.get("end")
    if start is None and end is None:
        return _NONE
    low: DateBound = NEGATIVE_INFINITY
    high: DateBound = POSITIVE_INFINITY
    if isinstance(start, str) and (found := date_range(start)):
        low = found[0]
    if isinstance(end, str) and (found := date_range(end)):
        high = found[1]
    return [(low, high)]


def timing_dates(timing: Any) -> list[Row]:
    """The outer limits of the events and of repeat.boundsPeriod."""
    ranges = [r for event in timing.get("event") or () for r in instant_dates(event)]
    repeat = timing.get("repeat")
    if isinstance(repeat, dict) and isinstance(repeat.get("boundsPeriod"), dict):
        ranges.extend(period_dates(repeat["boundsPeriod"]))
    if not ranges:
        return _NONE
    if len(ranges) == 1:
        return ranges
    return [(_earliest(r[0] for r in ranges), _latest(r[1] for r in ranges))]


def _earliest(bounds: Any) -> DateBound:
    values = list(bounds)
    if NEGATIVE_INFINITY in values:
        return NEGATIVE_INFINITY
    return min(values)  # type: ignore[no-any-return]


def _latest(bounds: Any) -> DateBound:
    values = list(bounds)
    if POSITIVE_INFINITY in values:
        return POSITIVE_INFINITY
    return max(values)  # type: ignore[no-any-return]


# number rows: (low, high)


def plain_numbers(value: Any) -> list[Row]:
    number = _number(value)
    return _NONE if number is None else [(number, number)]


# quantity rows: (low, high, system, code, unit)


def quantity_values(quantity: Any) -> list[Row]:
    """Quantity and its profiles (Age, Duration, Count, Distance, SimpleQuantity)."""
    value = _number(quantity.get("value"))
    if value is None:
        return _NONE
    return [(value, value, *_unit(quantity))]


def money_values(money: Any) -> list[Row]:
    value = _number(money.get("value"))
    if value is None:
        return _NONE
    return [(value, value, _CURRENCY_SYSTEM, _text(money.get("currency")), None)]


def range_values(range_value: Any) -> list[Row]:
    low, high = range_value.get("low"), range_value.get("high")
    low_value = _number(low.get("value")) if isinstance(low, dict) else None
    high_value = _number(high.get("value")) if isinstance(high, dict) else None
    if low_value is None and high_value is None:
        return _NONE
    return [(
        NUMERIC_NEGATIVE_INFINITY if low_value is None else low_value,
        NUMERIC_POSITIVE_INFINITY if high_value is None else high_value,
        *_unit(low if low_value is not None else high),
    )]


def _number(value: Any) -> int | float | None:
    # A wrong type here would fail the COPY, and with it the whole write.
    if value.__class__ is bool or not isinstance(value, int | float):
        return None
    return value


def _unit(quantity: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    return _text(quantity.get("system")), _text(quantity.get("code")), _text(quantity.get("unit"))


def _text(value: Any) -> str | None:
    return cut(value) if isinstance(value, str) else None
