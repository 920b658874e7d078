"""A FHIR search query string, parsed into what to match and how to shape the result
(https://hl7.org/fhir/R4/search.html). Nothing here touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from fireside.fhir.errors import FhirError
from fireside.search.escaping import split_unescaped
from fireside.search.includes import Include, parse_include
from fireside.store.indexing import IndexedParameter, SearchParameterRegistry

DEFAULT_COUNT = 20
MAX_COUNT = 1000

# Shape the response, not the matches: the api layer applies them.
_PRESENTATION_PARAMETERS = frozenset({"_elements", "_format", "_pretty"})
# Known to the spec, answered by the full search (_contained, _query, ...) but not yet:
# reported back as ignored, or refused under `handling=strict`.
_NOT_YET_PARAMETERS = frozenset({
    "_contained", "_containedType", "_query", "_type",
})
# Answered by their own compilers (fireside/search/filters/special.py), not by one parameter's
# index rows: the filter language, List membership and full-text search.
SPECIAL_PARAMETERS = frozenset({"_filter", "_list", "_text", "_content"})
# Parameter types `_sort` can order by (search.html#sort): each has a value per index row
# (see fireside/search/sorting.py); composite and special do not.
SORTABLE = frozenset({"date", "string", "token", "number", "quantity", "reference", "uri"})


@dataclass(frozen=True)
class Criterion:
    """One `name[:modifier]=v1,v2` parameter: its values are alternatives (OR); the criteria of a
    request must all hold (AND), repeated parameters included."""

    name: str
    code: str
    modifier: str | None
    values: tuple[str, ...]
    parameter: IndexedParameter
    # A chain (`subject:Patient.name`, search.html#chaining): `parameter` is the reference to
    # follow and `chain` the criterion on each target type that has the next parameter. With
    # `reverse` (`_has:Observation:patient:code`, search.html#has), `parameter` is the other
    # type's reference to this one and `chain` the criterion on that type.
    chain: tuple[Link, ...] = ()
    reverse: bool = False


@dataclass(frozen=True)
class Link:
    """The resources at the other end of a chained reference: of `resource_type`, matching
    `criterion` (itself chained, for `subject.organization.name`)."""

    resource_type: str
    criterion: Criterion


@dataclass(frozen=True)
class AnyOf:
    """Criteria of which at least one must hold. A compartment is one (`Patient/1/Observation`:
    `subject` or `performer` is Patient/1; fireside/search/compartments.py), and so can an
    access policy be."""

    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class SpecialCriterion:
    """One `_filter`, `_list`, `_text` or `_content` parameter, its value not split on commas
    (each compiler reads its own syntax)."""

    name: str
    code: str
    modifier: str | None
    value: str


@dataclass(frozen=True)
class SortKey:
    """One `_sort` key: `-date` is SortKey("date", True, <date parameter>)."""

    code: str
    descending: bool
    parameter: IndexedParameter


@dataclass
class SearchRequest:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    specials: list[SpecialCriterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    # `_sort` keys in order; ties after the last are broken by id.
    sort: list[SortKey] = field(default_factory=list)
    # `_total` as given; None (not given) is a bounded count on the first page (engine._total).
    total: str | None = None
    summary: str | None = None
    cursor: str | None = None
    # Parameter names not applied, so that the caller can say so (search.html#errors).
    ignored: list[str] = field(default_factory=list)
    # `_include` and `_revinclude`, resolved per page (fireside/search/includes.py).
    includes: list[Include] = field(default_factory=list)
    # Set by the caller, not the query string: a compartment (see AnyOf).
    restrictions: list[AnyOf] = field(default_factory=list)


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
        if code == "_sort":
            _read_sort(request, registry, value, strict)
            continue
        if _read_result_parameter(request, code, value):
            continue
        if code in ("_include", "_revinclude"):
            include = parse_include(registry, name, value, strict)
            if include is None:
                request.ignored.append(f"{name}={value}")
            else:
                request.includes.append(include)
            continue
        if code in SPECIAL_PARAMETERS:
            request.specials.append(SpecialCriterion(name, code, modifier or None, value))
            continue
        values = tuple(_unescape_commas(v) for v in split_unescaped(value, ","))
        if code == "_has" or "." in name:
            chained = _parse_linked(registry, resource_type, name, name, values)
            if chained is None:
                _skip(request, registry, name, strict)
            else:
                request.criteria.append(chained)
            continue
        parameter = registry.parameter(resource_type, code)
        if parameter is None:
            _skip(request, registry, name, strict)
            continue
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
    known = code in _NOT_YET_PARAMETERS or code in registry.of_type(request.resource_type).unsupported
    if strict:
        why = "is not supported yet" if known else f"is not a search parameter of {request.resource_type}"
        raise FhirError.single("not-supported", f"Search parameter {name!r} {why}")
    request.ignored.append(name)


def _read_sort(request: SearchRequest, registry: SearchParameterRegistry, value: str, strict: bool) -> None:
    """`_sort=family,given,-birthdate` (search.html#sort): any date, string, token, number,
    quantity, reference or uri parameter of the type, `-` for descending. A key that names no
    such parameter is ignored and reported, or refused under `strict`."""
    seen = {key.code for key in request.sort}
    for key in value.split(","):
        code = key.removeprefix("-")
        if not code:
            continue
        parameter = registry.parameter(request.resource_type, code)
        sortable = parameter is not None and (parameter.resource_column is not None or parameter.type in SORTABLE)
        if parameter is None or not sortable:
            if strict:
                why = "is not a search parameter" if parameter is None else "cannot be sorted on"
                raise FhirError.single("invalid", f"Search parameter _sort: {key!r} {why} of {request.resource_type}")
            request.ignored.append(f"_sort={key}")
        elif code not in seen:  # a repeated key cannot change the order
            seen.add(code)
            request.sort.append(SortKey(code, key.startswith("-"), parameter))


def _read_result_parameter(request: SearchRequest, code: str, value: str) -> bool:
    if code == "_count":
        if not (value.isascii() and value.isdigit()):  # isdigit alone takes superscripts and other scripts' digits
            raise FhirError.single("invalid", f"Search parameter _count: {value!r} is not a non-negative integer")
        request.count = min(int(value), MAX_COUNT)
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


def _parse_linked(
    registry: SearchParameterRegistry, resource_type: str, part: str, name: str, values: tuple[str, ...]
) -> Criterion | None:
    """`part` of the parameter `name` on `resource_type`: `code[:modifier]`, a chain
    `code[:Type].rest` or `_has:Type:reference:rest` (search.html#chaining, #has). None when
    `code` is not a parameter of the type: the caller ignores or refuses it like any unknown
    parameter. A chain that cannot be followed (through a non-reference parameter, or to types
    none of which has the next parameter) is a 400."""
    if part.startswith("_has:") or part == "_has":
        return _parse_has(registry, resource_type, part, name, values)
    head, dot, rest = part.partition(".")
    code, _, modifier = head.partition(":")
    parameter = registry.parameter(resource_type, code)
    if parameter is None:
        return None
    if not dot:
        return Criterion(name, code, modifier or None, values, parameter)
    if parameter.type != "reference":
        raise _bad_chain(name, f"{code} is a {parameter.type} parameter of {resource_type}, not a reference to follow")
    targets = _chain_targets(registry, resource_type, parameter, modifier, name)
    links: list[Link] = []
    refusals: list[FhirError] = []
    for target in targets:
        try:
            criterion = _parse_linked(registry, target, rest, name, values)
        except FhirError as refusal:
            # One of several target types that cannot go on (its next parameter is not a
            # reference) leaves the others; only when none can is the chain refused.
            if len(targets) == 1:
                raise
            refusals.append(refusal)
            continue
        if criterion is not None:
            links.append(Link(target, criterion))
    if not links and refusals:
        raise refusals[0]
    if not links:
        next_code = rest.partition(".")[0].partition(":")[0]
        raise _bad_chain(name, f"no type that {resource_type}.{code} refers to has a parameter {next_code!r}")
    return Criterion(name, code, modifier or None, values, parameter, chain=tuple(links))


def _chain_targets(
    registry: SearchParameterRegistry, resource_type: str, parameter: IndexedParameter, modifier: str, name: str
) -> tuple[str, ...]:
    """The types a chain link may reach: the one its `:Type` modifier names, or each target type
    of the reference (every type, for a reference to Any)."""
    targets = (parameter.target_type,) if parameter.target_type else parameter.definition.target
    if not modifier:
        return targets or tuple(registry.definitions.resource_types)
    if (targets and modifier not in targets) or not registry.definitions.is_resource_type(modifier):
        raise _bad_chain(name, f":{modifier} is not a type that {resource_type}.{parameter.code} refers to")
    return (modifier,)


def _parse_has(
    registry: SearchParameterRegistry, resource_type: str, part: str, name: str, values: tuple[str, ...]
) -> Criterion:
    """`_has:Observation:patient:code`: resources of `resource_type` that an Observation refers
    to through `patient`, where that Observation matches `code` (which may itself be a `_has`)."""
    pieces = part.split(":", 3)
    if len(pieces) < 4 or not all(pieces[1:]):
        raise _bad_chain(name, "is not _has:[type]:[reference parameter]:[parameter]")
    _, source_type, code, rest = pieces
    if not registry.definitions.is_resource_type(source_type):
        raise _bad_chain(name, f"{source_type!r} is not a resource type")
    parameter = registry.parameter(source_type, code)
    if parameter is None or parameter.type != "reference":
        raise _bad_chain(name, f"{code!r} is not a reference parameter of {source_type}")
    targets = (parameter.target_type,) if parameter.target_type else parameter.definition.target
    if targets and resource_type not in targets:
        raise _bad_chain(name, f"{source_type}.{code} does not refer to {resource_type}")
    criterion = _parse_linked(registry, source_type, rest, name, values)
    if criterion is None:
        next_code = rest.partition(".")[0].partition(":")[0]
        raise _bad_chain(name, f"{next_code!r} is not a search parameter of {source_type}")
    return Criterion(name, "_has", None, values, parameter, chain=(Link(source_type, criterion),), reverse=True)


def _bad_chain(name: str, why: str) -> FhirError:
    return FhirError.single("invalid", f"Search parameter {name}: {why}")
