"""A SQL condition with its bound values, and the errors a search value can raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from fireside.fhir.errors import FhirError
from fireside.search.request import Criterion


@dataclass(frozen=True)
class Condition:
    """SQL over the index row `i` (value filters) or the resource row `r` (criteria). Every
    user value is in `params`, bound by the driver, never in the SQL text."""

    sql: sql.Composable
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class FilterContext:
    """What a value filter needs besides the value: the server's base URL, so that an absolute
    reference to this server matches the local reference it stands for."""

    base_url: str = ""
    # Codes by system of each terminology criterion value, by (modifier, value): resolved from
    # the project's CodeSystems and ValueSets before compiling (fireside/search/terminology.py).
    terminology: Mapping[tuple[str, str], Mapping[str, frozenset[str]]] = field(default_factory=dict)
    # Criteria (by `id()`, within one request) that match so many index rows that they are
    # checked on each resource row in page order instead of gathered in full (filters.walked).
    walked: frozenset[int] = frozenset()


def condition(text: str, *params: Any) -> Condition:
    return Condition(sql.SQL(text), params)


def all_of(*conditions: Condition) -> Condition:
    return Condition(sql.SQL(" AND ").join(c.sql for c in conditions), tuple(p for c in conditions for p in c.params))


def bad_value(criterion: Criterion, value: str, why: str) -> FhirError:
    """A 400 naming the parameter, the value and what is wrong with it."""
    return FhirError.single("invalid", f"Search parameter {criterion.name}: {value!r} {why}")


def bad_modifier(criterion: Criterion) -> FhirError:
    return FhirError.single(
        "invalid", f"Search parameter {criterion.name}: :{criterion.modifier} is not a modifier of "
        f"{criterion.parameter.type} parameters")


def modifier_not_yet(criterion: Criterion) -> FhirError:
    return FhirError.single(
        "not-supported", f"Search parameter {criterion.name}: :{criterion.modifier} is not supported yet")


def like_escape(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (backslash is LIKE's default escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`, in code point order (the
    "C" collation of the value columns), so a prefix match is `>= prefix AND < bound`: a range
    any B-tree plan can use, where `LIKE $1` needs the pattern known at planning."""
    if not prefix:
        return None
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates cannot be encoded; skip past them
        following = 0xE000
    if following > 0x10FFFF:
        return prefix_upper_bound(prefix[:-1])
    return prefix[:-1] + chr(following)
