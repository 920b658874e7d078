"""A FHIR search query string, parsed into what to match and how to shape the result
(https://hl7.org/fhir/R4/search.html). Nothing here touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from fireside.fhir.errors import FhirError
from fireside.search.escaping import split_unescaped
from fireside.store.indexing import IndexedParameter, SearchParameterRegistry

DEFAULT_COUNT = 20
MAX_COUNT = 1000

# Shape the response, not the matches: the api layer applies them.
_PRESENTATION_PARAMETERS = frozenset({"_elements", "_format", "_pretty"})
# Known to the spec, answered by the full search (chains, _has, _include, ...) but not yet:
# reported back as ignored, or refused under `handling=strict`.
_NOT_YET_PARAMETERS = frozenset({
    "_include", "_revinclude", "_contained", "_containedType", "_filter", "_list", "_query",
    "_type", "_text", "_content", "_has",
})
# The spec's _sort keys served by the resource table; sorting by a parameter comes later.
SORTABLE = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True)
class Criterion:
    """One `name[:modifier]=v1,v2` parameter: its values are alternatives (OR); the criteria of a
    request must all hold (AND), repeated parameters included."""

    name: str
    code: str
    modifier: str | None
    values: tuple[str, ...]
    parameter: IndexedParameter


@dataclass
class SearchRequest:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    # (code, descending): only the first sortable key is used for now.
    sort: list[tuple[str, bool]] = field(default_factory=list)
    total: str = "accurate"
    summary: str | None = None
    cursor: str | None = None
    # Parameter names not applied, so that the caller can say so (search.html#errors).
    ignored: list[str] = field(default_factory=list)


def parse_search(
    registry: SearchParameterRegistry, resource_type: str, params: list[tuple[str, str]], strict: bool = False
) -> SearchRequest:
    """Unknown or not yet supported parameters are ignored and listed, unless `strict`
    (`Prefer: handling=strict`, or a conditional interaction), where they are an error."""
    request = SearchRequest(resource_type)
    for name, raw_value in params:
        # PostgreSQL text cannot hold NUL; indexed values never contain it (see tables.cut).
        value = raw_value.replace("\x00", "")
        code, _, modifier = name.partition(":")
        if code in _PRESENTATION_PARAMETERS:
            continue
        if value == "" and code not in ("_cursor",):
            continue  # the spec: a parameter with no value is ignored
        if _read_result_parameter(request, code, value):
            continue
        # A chain (`subject.name`, `subject:Patient.name`) is answered by the full search.
        parameter = registry.parameter(resource_type, code) if "." not in name else None
        if parameter is None:
            _skip(request, registry, name, strict)
            continue
        values = tuple(_unescape_commas(v) for v in split_unescaped(value, ","))
        request.criteria.append(Criterion(name, code, modifier or None, values, parameter))
    return request


def parse_conditional_url(url: str) -> tuple[str, list[tuple[str, str]]]:
    """`Patient?identifier=http://x|1` (or the same after a base URL) as type and parameters."""
    address, question, query = url.partition("?")
    resource_type = urlsplit(address).path.rstrip("/").rpartition("/")[2]
    if not question or not resource_type[:1].isupper():
        raise FhirError.single("invalid", f"{url!r} is not a conditional search URL ([type]?[parameters])")
    return resource_type, parse_qsl(query, keep_blank_values=True)


def _unescape_commas(value: str) -> str:
    # Only `\,` belongs to this level; the parameter type undoes the rest (`\|`, `\$`, `\\`).
    return value.replace("\\,", ",")


def _skip(request: SearchRequest, registry: SearchParameterRegistry, name: str, strict: bool) -> None:
    code = name.partition(":")[0]
    known = code in _NOT_YET_PARAMETERS or "." in name or code in registry.of_type(request.resource_type).unsupported
    if strict:
        why = "is not supported yet" if known else f"is not a search parameter of {request.resource_type}"
        raise FhirError.single("not-supported", f"Search parameter {name!r} {why}")
    request.ignored.append(name)


def _read_result_parameter(request: SearchRequest, code: str, value: str) -> bool:
    if code == "_count":
        if not (value.isascii() and value.isdigit()):  # isdigit alone takes superscripts and other scripts' digits
            raise FhirError.single("invalid", f"Search parameter _count: {value!r} is not a non-negative integer")
        request.count = min(int(value), MAX_COUNT)
    elif code == "_sort":
        for key in value.split(","):
            name = key.lstrip("-")
            if name in SORTABLE:
                request.sort.append((name, key.startswith("-")))
            elif name:
                request.ignored.append(f"_sort={key}")
    elif code == "_total":
        if value not in ("none", "estimate", "accurate"):
            raise FhirError.single("invalid", f"Search parameter _total: {value!r} is not none, estimate or accurate")
        request.total = value
    elif code == "_summary":
        if value not in ("true", "false", "text", "data", "count"):
            raise FhirError.single("invalid", f"Search parameter _summary: {value!r} is not a summary mode")
        request.summary = value
    elif code == "_cursor":
        request.cursor = value or None
    else:
        return False
    return True
