"""Comparison prefixes of ordered values: `ge2020`, `lt5.4` (https://hl7.org/fhir/R4/search.html#prefix)."""

from __future__ import annotations

PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})


def split_prefix(value: str) -> tuple[str, str]:
    """(prefix, rest); `eq` when the value has none."""
    if len(value) > 2 and value[:2] in PREFIXES and (value[2].isdigit() or value[2] in "+-."):
        return value[:2], value[2:]
    return "eq", value
