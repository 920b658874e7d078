"""A FHIR search query string, parsed into what to match and how to shape the result."""

from __future__ import annotations

from dataclasses import dataclass, field

from fireside.fhir.errors import FhirError
from fireside.store.indexing import IndexedParameter, SearchParameterRegistry

# Result parameters (https://hl7.org/fhir/R4/search.html#return) and others this module reads.
RESULT_PARAMETERS = frozenset({
    "_count", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude", "_contained",
    "_containedType", "_cursor", "_format", "_pretty",
})
DEFAULT_COUNT = 20
MAX_COUNT = 1000


@dataclass(frozen=True)
class Criterion:
    """One `name[:modifier]=v1,v2` parameter: its values are alternatives (OR)."""

    code: str
    modifier: str | None
    values: tuple[str, ...]
    parameter: IndexedParameter | None  # None for _id and _lastUpdated, served by the resource table

    @property
    def name(self) -> str:
        return f"{self.code}:{self.modifier}" if self.modifier else self.code


@dataclass
class SearchRequest:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)  # all must hold (AND)
    count: int = DEFAULT_COUNT
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (code, descending)
    total: str = "accurate"
    summary: str | None = None
    cursor: str | None = None
    ignored: list[str] = field(default_factory=list)


def parse_search(
    registry: SearchParameterRegistry, resource_type: str, params: list[tuple[str, str]], strict: bool = False
) -> SearchRequest:
    request = SearchRequest(resource_type)
    known = registry.for_type(resource_type)
    for name, value in params:
        code, _, modifier = name.partition(":")
        if code in RESULT_PARAMETERS:
            _read_result_parameter(request, code, value)
        elif code in ("_id", "_lastUpdated"):
            request.criteria.append(Criterion(code, modifier or None, _split_values(value), None))
        elif code in known:
            request.criteria.append(Criterion(code, modifier or None, _split_values(value), known[code]))
        elif strict:
            raise FhirError.single("not-supported", f"Unknown search parameter {name!r} for {resource_type}")
        else:
            request.ignored.append(name)
    return request


def _split_values(value: str) -> tuple[str, ...]:
    """Comma-separated alternatives; `\\,` is a literal comma (the spec's escaping)."""
    values, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    return tuple(values)


def _read_result_parameter(request: SearchRequest, code: str, value: str) -> None:
    if code == "_count":
        if not (value.isascii() and value.isdigit()) or len(value) > 9:
            raise FhirError.single("invalid", f"_count must be a non-negative integer, not {value!r}")
        request.count = min(int(value), MAX_COUNT)
    elif code == "_sort":
        request.sort = [(key.lstrip("-"), key.startswith("-")) for key in value.split(",") if key]
    elif code == "_total":
        if value not in ("none", "estimate", "accurate"):
            raise FhirError.single("invalid", f"_total must be none, estimate or accurate, not {value!r}")
        request.total = value
    elif code == "_summary":
        request.summary = value
    elif code == "_cursor":
        request.cursor = value
