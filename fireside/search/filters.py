"""Each search criterion compiled to a SQL condition on the resource row `r`.

A criterion becomes `r.id IN (SELECT resource_id FROM search_<type> ...)`, which PostgreSQL
answers from the index table's (project, type, code, value...) B-tree. Every user value is a
bound parameter. Semantics follow https://hl7.org/fhir/R4/search.html per parameter type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg import sql

from fireside.fhir.errors import FhirError
from fireside.search.parameters import Criterion
from fireside.store.indexing import date_range, normalize_string, split_reference

Condition = tuple[sql.Composable, list[Any]]
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def bad_value(criterion: Criterion, value: str, why: str) -> FhirError:
    return FhirError.single("invalid", f"Search parameter {criterion.name}: {value!r} {why}")


def compile_criterion(criterion: Criterion, project_id: Any, resource_type: str, base_url: str) -> Condition:
    if criterion.code == "_id":
        return sql.SQL("r.id = ANY(%s)"), [list(criterion.values)]
    if criterion.code == "_lastUpdated":
        column = sql.SQL("r.last_updated")
        alternatives = [_date_condition(criterion, v, column, column, point=True) for v in criterion.values]
        return _any_of(alternatives)
    assert criterion.parameter is not None
    kind = criterion.parameter.type
    table = sql.Identifier(_TABLE_OF[kind])
    membership = sql.SQL(
        "r.id {negation}IN (SELECT i.resource_id FROM {table} i WHERE i.project_id = %s AND i.resource_type = %s"
        " AND i.code = %s{condition})"
    )
    scope = [project_id, resource_type, criterion.code]
    if criterion.modifier == "missing":
        missing = _missing_flag(criterion)
        return membership.format(negation=sql.SQL("NOT " if missing else ""), table=table,
                                 condition=sql.SQL("")), scope
    negate = criterion.modifier == "not"
    compile_value = _VALUE_COMPILERS[kind]
    condition, params = _any_of([compile_value(criterion, value, base_url) for value in criterion.values])
    return (
        membership.format(negation=sql.SQL("NOT " if negate else ""), table=table,
                          condition=sql.SQL(" AND ({})").format(condition)),
        scope + params,
    )


_TABLE_OF = {
    "token": "search_token", "string": "search_string", "reference": "search_reference",
    "date": "search_date", "number": "search_number", "quantity": "search_number", "uri": "search_uri",
}


def _missing_flag(criterion: Criterion) -> bool:
    if criterion.values not in (("true",), ("false",)):
        raise bad_value(criterion, ",".join(criterion.values), "is not true or false")
    return criterion.values == ("true",)


def _any_of(conditions: list[Condition]) -> Condition:
    if len(conditions) == 1:
        return conditions[0]
    params: list[Any] = [p for _, ps in conditions for p in ps]
    return sql.SQL("({})").format(sql.SQL(" OR ").join(c for c, _ in conditions)), params


def _token(criterion: Criterion, value: str, base_url: str) -> Condition:
    if criterion.modifier == "text":
        return sql.SQL("i.display ILIKE %s"), [_like_prefix(value) + "%"]
    if criterion.modifier not in (None, "not"):
        raise bad_value(criterion, value, f"cannot be used with the :{criterion.modifier} modifier (yet)")
    if "|" not in value:
        return sql.SQL("i.value = %s"), [value]
    system, _, code = value.partition("|")
    if not system:
        return sql.SQL("i.system IS NULL AND i.value = %s"), [code]
    if not code:
        return sql.SQL("i.system = %s"), [system]
    return sql.SQL("i.value = %s AND i.system = %s"), [code, system]


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _string(criterion: Criterion, value: str, base_url: str) -> Condition:
    if criterion.modifier == "exact":
        return sql.SQL("i.value = %s"), [value]
    if criterion.modifier == "contains":
        return sql.SQL("i.normalized LIKE %s"), ["%" + _like_prefix(normalize_string(value)) + "%"]
    if criterion.modifier not in (None, "not"):
        raise bad_value(criterion, value, f"cannot be used with the :{criterion.modifier} modifier")
    return sql.SQL("i.normalized LIKE %s"), [_like_prefix(normalize_string(value)) + "%"]


def _reference(criterion: Criterion, value: str, base_url: str) -> Condition:
    target_type = criterion.modifier if criterion.modifier and criterion.modifier[:1].isupper() else None
    if criterion.modifier not in (None, "not") and target_type is None:
        raise bad_value(criterion, value, f"cannot be used with the :{criterion.modifier} modifier (yet)")
    if value.startswith(base_url + "/"):
        value = value[len(base_url) + 1:]
    if "://" in value or value.startswith("urn:"):
        return sql.SQL("i.url = %s"), [value.split("|", 1)[0]]
    kind, identifier, _ = split_reference(value)
    if kind and identifier:
        if target_type and target_type != kind:
            raise bad_value(criterion, value, f"is not a {target_type} reference")
        return sql.SQL("i.target_id = %s AND i.target_type = %s"), [identifier, kind]
    if target_type:
        return sql.SQL("i.target_id = %s AND i.target_type = %s"), [value, target_type]
    return sql.SQL("i.target_id = %s"), [value]


def _split_prefix(value: str) -> tuple[str, str]:
    if value[:2] in PREFIXES and len(value) > 2 and not value[2:3].isalpha():
        return value[:2], value[2:]
    return "eq", value


def _date(criterion: Criterion, value: str, base_url: str) -> Condition:
    return _date_condition(criterion, value, sql.SQL("i.low"), sql.SQL("i.high"))


def _date_condition(
    criterion: Criterion, value: str, low: sql.Composable, high: sql.Composable, point: bool = False
) -> Condition:
    """Precision-aware: the target range [low, high) against the search value's range [ql, qh).

    `point` marks a single instant (meta.lastUpdated), where low and high are the same column."""
    prefix, text = _split_prefix(value)
    found = date_range(text)
    if found is None:
        raise bad_value(criterion, value, "is not a FHIR date, dateTime or instant (e.g. 2020-03-04)")
    query_low, query_high = found
    templates: dict[str, tuple[str, list[Any]]] = {
        "eq": ("{low} >= %s AND {high} <= %s", [query_low, query_high]),
        "ne": ("NOT ({low} >= %s AND {high} <= %s)", [query_low, query_high]),
        "gt": ("{high} > %s", [query_high]),
        "lt": ("{low} < %s", [query_low]),
        "ge": ("({high} > %s OR ({low} >= %s AND {high} <= %s))", [query_high, query_low, query_high]),
        "le": ("({low} < %s OR ({low} >= %s AND {high} <= %s))", [query_low, query_low, query_high]),
        "sa": ("{low} >= %s", [query_high]),
        "eb": ("{high} <= %s", [query_low]),
    }
    if prefix == "ap":
        margin = max(abs(datetime.now(UTC) - query_low) * 0.1, timedelta(days=1))
        return (sql.SQL("{low} < %s AND {high} > %s").format(low=low, high=high),
                [query_high + margin, query_low - margin])
    if point:
        templates["eq"] = ("{low} >= %s AND {low} < %s", [query_low, query_high])
        templates["ne"] = ("NOT ({low} >= %s AND {low} < %s)", [query_low, query_high])
        templates["gt"] = ("{low} >= %s", [query_high])
        templates["ge"] = ("{low} >= %s", [query_low])
        templates["le"] = ("{low} < %s", [query_high])
    template, params = templates[prefix]
    return sql.SQL(template).format(low=low, high=high), params


def _number(criterion: Criterion, value: str, base_url: str) -> Condition:
    prefix, text = _split_prefix(value)
    number_text, _, unit_part = text.partition("|")
    try:
        number = Decimal(number_text)
    except InvalidOperation as error:
        raise bad_value(criterion, value, "is not a number") from error
    # The value's own precision sets the range eq matches: 100 means [99.5, 100.5).
    half = Decimal(1).scaleb(number.as_tuple().exponent) / 2  # type: ignore[arg-type]
    low, high = number - half, number + half
    margin = abs(number) * Decimal("0.1")
    templates: dict[str, tuple[str, list[Any]]] = {
        "eq": ("i.value >= %s AND i.value < %s", [low, high]),
        "ne": ("NOT (i.value >= %s AND i.value < %s)", [low, high]),
        "gt": ("i.value > %s", [number]), "sa": ("i.value > %s", [number]),
        "lt": ("i.value < %s", [number]), "eb": ("i.value < %s", [number]),
        "ge": ("i.value >= %s", [number]), "le": ("i.value <= %s", [number]),
        "ap": ("i.value BETWEEN %s AND %s", [number - margin, number + margin]),
    }
    template, params = templates[prefix]
    condition: sql.Composable = sql.SQL(template)
    if unit_part:
        system, _, code = unit_part.partition("|")
        if not code:
            system, code = "", system
        condition = sql.SQL("{} AND i.unit = %s").format(condition)
        params = [*params, code]
        if system:
            condition = sql.SQL("{} AND i.system = %s").format(condition)
            params.append(system)
    return condition, params


def _uri(criterion: Criterion, value: str, base_url: str) -> Condition:
    if criterion.modifier == "below":
        return sql.SQL("i.value LIKE %s"), [_like_prefix(value) + "%"]
    if criterion.modifier == "above":
        return sql.SQL("%s LIKE (i.value || '%%')"), [value]
    return sql.SQL("i.value = %s"), [value]


_VALUE_COMPILERS: dict[str, Callable[[Criterion, str, str], Condition]] = {
    "token": _token, "string": _string, "reference": _reference, "date": _date,
    "number": _number, "quantity": _number, "uri": _uri,
}
