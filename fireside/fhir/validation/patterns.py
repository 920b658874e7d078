"""fixed[x] and pattern[x] (https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.pattern_x_):
a fixed value must be matched exactly; a pattern only in what it states, so an instance may carry
more (further codings, a display)."""

from __future__ import annotations

from typing import Any

# Elements that may always be added to a fixed complex value without changing its meaning.
_IGNORED_IN_FIXED = frozenset({"id", "extension"})


def matches_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and matches_pattern(value[key], expected) for key, expected in pattern.items()
        )
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(matches_pattern(item, expected) for item in items) for expected in pattern)
    return _same_primitive(value, pattern)


def matches_fixed(value: Any, fixed: Any) -> bool:
    if isinstance(fixed, dict):
        if not isinstance(value, dict) or set(value) - set(fixed) - _IGNORED_IN_FIXED:
            return False
        return all(key in value and matches_fixed(value[key], expected) for key, expected in fixed.items())
    if isinstance(fixed, list):
        return isinstance(value, list) and len(value) == len(fixed) and all(
            matches_fixed(item, expected) for item, expected in zip(value, fixed, strict=True)
        )
    return _same_primitive(value, fixed)


def _same_primitive(value: Any, expected: Any) -> bool:
    # JSON true is not the number 1, though Python says they are equal.
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)


def values_at(value: Any, steps: list[str]) -> list[Any]:
    """The values under a dotted path of plain element names, arrays flattened."""
    current = value if isinstance(value, list) else [value]
    for step in steps:
        found: list[Any] = []
        for item in current:
            child = item.get(step) if isinstance(item, dict) else None
            if isinstance(child, list):
                found.extend(child)
            elif child is not None:
                found.append(child)
        current = found
    return current
