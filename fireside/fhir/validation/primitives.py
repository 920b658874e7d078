"""Primitive values: the JSON type each FHIR primitive takes, and the spec's regex for its
lexical form (https://hl7.org/fhir/R4/datatypes.html#primitive), plus what a regex cannot say
(a 32-bit integer's range, that February has no 30th). Each type's check is built once."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from fireside.fhir.definitions import FhirDefinitions
from fireside.fhir.validation.narrative import xhtml_problem

Check = Callable[[object], str | None]  # why a value is not valid, or None

_INTEGER_RANGES = {
    "integer": (-(2**31), 2**31 - 1),
    "unsignedInt": (0, 2**31 - 1),
    "positiveInt": (1, 2**31 - 1),
}
_DATED = frozenset({"date", "dateTime", "instant"})
_FULL_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# The spec caps every string at 1 MB (https://hl7.org/fhir/R4/datatypes.html#string); checking
# the length in characters first avoids encoding ordinary strings.
_MAX_STRING_BYTES = 1024 * 1024


class PrimitiveChecker:
    def __init__(self, definitions: FhirDefinitions) -> None:
        self._definitions = definitions
        self._checks: dict[str, Check] = {}

    def checker(self, type_code: str) -> Check:
        check = self._checks.get(type_code)
        if check is None:
            check = self._checks[type_code] = self._build(type_code)
        return check

    def _build(self, type_code: str) -> Check:
        name = type_code[7:].lower() if type_code.startswith("System.") else type_code
        if name == "boolean":
            return _boolean
        if name in _INTEGER_RANGES:
            return _integer(name, *_INTEGER_RANGES[name])
        if name == "decimal":
            return _decimal
        if name == "xhtml":
            return _string(name, None, lambda value: xhtml_problem(str(value)))
        return _string(name, self._regex(type_code), _real_date if name in _DATED else None)

    def _regex(self, type_code: str) -> re.Pattern[str] | None:
        """The spec's regex for a primitive type's value, from `<type>.value`."""
        structure = self._definitions.types.get(type_code)
        value = structure.element(f"{type_code}.value") if structure else None
        if value is None or not value.types or not value.types[0].regex:
            return None
        # The spec's regexes are XML Schema / Java ones, where \s and \S are ASCII only; Python's
        # Unicode classes would reject a no-break space that Java accepts.
        return re.compile(value.types[0].regex, re.ASCII)


def _boolean(value: object) -> str | None:
    return None if isinstance(value, bool) else f"Expected true or false, got {shown(value)}"


def _decimal(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"Expected a decimal number, got {shown(value)}"
    return None


def _integer(name: str, low: int, high: int) -> Check:
    def check(value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"Expected a {name} ({low}..{high}), got {shown(value)}"
        return None

    return check


def _string(name: str, regex: re.Pattern[str] | None, further: Check | None) -> Check:
    def check(value: object) -> str | None:
        if not isinstance(value, str):
            return f"Expected a string ({name}), got {shown(value)}"
        if not value:
            return "Strings may not be empty"
        if len(value) > _MAX_STRING_BYTES // 4 and len(value.encode()) > _MAX_STRING_BYTES:
            return "The value is longer than the maximum of 1 MB"
        if regex is not None and not regex.fullmatch(value):
            return f"{shown(value)} is not a valid {name}"
        return further(value) if further is not None else None

    return check


def _real_date(value: object) -> str | None:
    match = _FULL_DATE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        datetime.date(year, month, day)
    except ValueError:
        return f"{shown(value)} is not a valid date: there is no such day"
    return None


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
