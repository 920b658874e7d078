"""What a profile states about an element's value, beyond its type: fixed[x], pattern[x],
maxLength, minValue[x] and maxValue[x]
(https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.fixed_x_).
Each element's rules are read once and cached."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fireside.fhir.definitions import ElementDefinition
from fireside.fhir.validation.patterns import matches_fixed, matches_pattern

Rule = Callable[[Any], str | None]  # why the value breaks the rule, or None


class StatedValues:
    def __init__(self) -> None:
        self._rules: dict[int, tuple[Rule, ...]] = {}

    def problems(self, value: Any, element: ElementDefinition) -> list[str]:
        rules = self._rules.get(id(element))
        if rules is None:
            rules = self._rules[id(element)] = tuple(_rules(element))
        return [problem for rule in rules if (problem := rule(value)) is not None]


def _rules(element: ElementDefinition) -> list[Rule]:
    rules: list[Rule] = []
    for key, stated in element.raw.items():
        if key.startswith("fixed"):
            rules.append(_fixed(stated))
        elif key.startswith("pattern"):
            rules.append(_pattern(stated))
        elif key == "maxLength" and isinstance(stated, int):
            rules.append(_max_length(stated))
        elif key.startswith(("minValue", "maxValue")):
            rules.append(_bound(stated, minimum=key.startswith("min")))
    return rules


def _fixed(expected: Any) -> Rule:
    def rule(value: Any) -> str | None:
        return None if matches_fixed(value, expected) else f"The value must be {json.dumps(expected)} (fixed)"

    return rule


def _pattern(expected: Any) -> Rule:
    def rule(value: Any) -> str | None:
        return None if matches_pattern(value, expected) else f"The value must match the pattern {json.dumps(expected)}"

    return rule


def _max_length(limit: int) -> Rule:
    def rule(value: Any) -> str | None:
        return f"The value is longer than {limit} characters" if isinstance(value, str) and len(value) > limit else None

    return rule


def _bound(limit: Any, minimum: bool) -> Rule:
    """A numeric bound, or a date/time one compared as text: ISO 8601 values of the same precision
    sort as their text does. Values of another precision or a Quantity are not compared."""
    def rule(value: Any) -> str | None:
        comparable = (isinstance(value, int | float) and isinstance(limit, int | float)
                      and not isinstance(value, bool)) or (isinstance(value, str) and isinstance(limit, str)
                                                           and len(value) == len(limit))
        if not comparable:
            return None
        if minimum and value < limit:
            return f"The value {value} is below the minimum {limit}"
        if not minimum and value > limit:
            return f"The value {value} is above the maximum {limit}"
        return None

    return rule
