"""`_filter` (https://hl7.org/fhir/R4/search_filter.html) compiled to SQL: each `name op value`
becomes the criterion an ordinary parameter would (`birthdate ge 2014` is `birthdate=ge2014`,
`name co pet` is `name:contains=pet`), and `and`, `or` and `not()` combine their conditions.

Operators by parameter type (anything else is a 400):
  number, date, quantity   eq ne gt lt ge le sa eb ap as search prefixes; po (date: the
                           value's period overlaps the resource's)
  string                   eq (the whole value, ignoring case and accents) ne co sw ew
  token                    eq ne (as :not), in ni (:in, :not-in), ss sb (:below, :above)
  reference                eq re ne
  uri                      eq ne sw (:below)
  every type               pr true|false (:missing=false|true)
`ne` on a number, date or quantity is the `ne` prefix: some value differs. On other types it
is "not eq", which, like :not, also matches resources without any value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from fireside.search.filter_expression import (
    Comparison,
    FilterExpression,
    Logical,
    Negation,
    filter_error,
    parse_filter,
)
from fireside.search.filters import compile_criterion, compile_value_condition
from fireside.search.filters.condition import Condition, condition, like_escape
from fireside.search.filters.dates import search_range
from fireside.search.request import Criterion, SpecialCriterion
from fireside.store.indexing import IndexedParameter, SearchParameterRegistry, cut, normalize_string

if TYPE_CHECKING:
    from fireside.search.filters.special import SpecialScope

_PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
_ORDERED_TYPES = frozenset({"number", "date", "quantity"})
# Operators that are an ordinary search modifier of the type.
_MODIFIERS: dict[str, dict[str, str | None]] = {
    "string": {"co": "contains", "sw": None},
    "token": {"eq": None, "ne": "not", "in": "in", "ni": "not-in", "ss": "below", "sb": "above"},
    "reference": {"eq": None, "re": None},
    "uri": {"eq": None, "sw": "below"},
}
# "not eq" for the types whose `ne` is not a prefix.
_NEGATED_EQ = frozenset({"string", "reference", "uri"})


def compile_filter_parameter(special: SpecialCriterion, scope: SpecialScope) -> Condition:
    if special.modifier is not None:
        raise filter_error(f"_filter takes no modifier (:{special.modifier})")
    return _compile(parse_filter(special.value), scope)


def filter_terminology_criteria(
    special: SpecialCriterion, registry: SearchParameterRegistry, resource_type: str
) -> list[Criterion]:
    """The token criteria with a terminology modifier among the filter's comparisons."""
    found: list[Criterion] = []
    pending = [parse_filter(special.value)]
    while pending:
        expression = pending.pop()
        if isinstance(expression, Logical):
            pending.extend(expression.operands)
        elif isinstance(expression, Negation):
            pending.append(expression.operand)
        else:
            parameter = registry.parameter(resource_type, expression.name)
            modifier = _MODIFIERS["token"].get(expression.operator)
            if parameter is not None and parameter.type == "token" and modifier not in (None, "not"):
                found.append(_as_criterion(expression, parameter, modifier, _escaped(expression.value)))
    return found


def _compile(expression: FilterExpression, scope: SpecialScope) -> Condition:
    if isinstance(expression, Comparison):
        return _comparison(expression, scope)
    if isinstance(expression, Negation):
        return _negated(_compile(expression.operand, scope))
    operands = [_compile(operand, scope) for operand in expression.operands]
    joiner = sql.SQL(" AND " if expression.operator == "and" else " OR ")
    return Condition(
        sql.SQL("({})").format(joiner.join(sql.SQL("({})").format(o.sql) for o in operands)),
        tuple(p for o in operands for p in o.params),
    )


def _comparison(comparison: Comparison, scope: SpecialScope) -> Condition:
    parameter = _parameter(comparison, scope)
    operator, kind = comparison.operator, parameter.type
    if operator == "pr":
        return _present(comparison, parameter, scope)
    if parameter.resource_column == "last_updated":
        prefix = "eq" if operator == "po" else operator  # an instant overlaps a period it is in
        if prefix in _PREFIXES:
            return _criterion(comparison, parameter, scope, None, prefix + comparison.value)
    elif parameter.resource_column == "id":
        if operator in ("eq", "ne"):
            found = _criterion(comparison, parameter, scope, None, comparison.value)
            return found if operator == "eq" else _negated(found)
    elif kind in _ORDERED_TYPES and operator in _PREFIXES:
        return _criterion(comparison, parameter, scope, None, operator + comparison.value)
    elif kind == "date" and operator == "po":
        return _overlaps(comparison, parameter, scope)
    elif kind == "string" and operator in ("eq", "ne", "ew"):
        return _string(comparison, parameter, scope)
    elif operator in _MODIFIERS.get(kind, {}):
        return _criterion(comparison, parameter, scope, _MODIFIERS[kind][operator], _escaped(comparison.value))
    elif kind in _NEGATED_EQ and operator == "ne":
        return _negated(_criterion(comparison, parameter, scope, None, _escaped(comparison.value)))
    raise filter_error(f"the operator {operator!r} does not apply to {kind} parameters such as "
                       f"{comparison.name!r}", comparison.position)


def _parameter(comparison: Comparison, scope: SpecialScope) -> IndexedParameter:
    parameter = scope.registry.parameter(scope.resource_type, comparison.name)
    if parameter is not None:
        return parameter
    if comparison.name in scope.registry.of_type(scope.resource_type).unsupported:
        raise filter_error(f"the parameter {comparison.name!r} is not supported in filters", comparison.position)
    raise filter_error(f"{comparison.name!r} is not a search parameter of {scope.resource_type}",
                       comparison.position)


def _criterion(
    comparison: Comparison, parameter: IndexedParameter, scope: SpecialScope, modifier: str | None, value: str
) -> Condition:
    criterion = _as_criterion(comparison, parameter, modifier, value)
    return compile_criterion(criterion, scope.project_id, scope.resource_type, scope.context).condition


def _as_criterion(comparison: Comparison, parameter: IndexedParameter, modifier: str | None, value: str) -> Criterion:
    # Named so that a value filter's error reads "Search parameter _filter (birthdate at
    # position 1): 'x' is not a date ...".
    name = f"_filter ({comparison.name} at position {comparison.position})"
    return Criterion(name, parameter.code, modifier, (value,), parameter)


def _present(comparison: Comparison, parameter: IndexedParameter, scope: SpecialScope) -> Condition:
    if comparison.value not in ("true", "false"):
        raise filter_error(f"pr takes true or false, not {comparison.value!r}", comparison.position)
    if parameter.resource_column is not None:  # every resource has an id and a lastUpdated
        return condition("TRUE" if comparison.value == "true" else "FALSE")
    missing = "false" if comparison.value == "true" else "true"
    return _criterion(comparison, parameter, scope, "missing", missing)


def _string(comparison: Comparison, parameter: IndexedParameter, scope: SpecialScope) -> Condition:
    """eq is the whole value and ew its end, both ignoring case and accents as the string
    search does; no index serves ew (like :contains, other criteria narrow it first)."""
    normalized = cut(normalize_string(comparison.value))
    if comparison.operator == "ew":
        value = condition("i.normalized LIKE %s", "%" + like_escape(normalized))
    else:
        value = condition("i.normalized = %s", normalized)
    criterion = _as_criterion(comparison, parameter, None, comparison.value)
    compiled = compile_value_condition(criterion, scope.project_id, scope.resource_type, value,
                                       negated=comparison.operator == "ne")
    return compiled.condition


def _overlaps(comparison: Comparison, parameter: IndexedParameter, scope: SpecialScope) -> Condition:
    """po: the resource's period and the value's (`2020-03` is all of March) share an instant."""
    criterion = _as_criterion(comparison, parameter, None, comparison.value)
    if comparison.value[:2].isalpha():
        raise filter_error(f"po takes a date without a prefix, not {comparison.value!r}", comparison.position)
    _, low, high = search_range(criterion, comparison.value)
    value = condition("i.low < %s AND i.high > %s", high, low)
    return compile_value_condition(criterion, scope.project_id, scope.resource_type, value).condition


def _negated(inner: Condition) -> Condition:
    # Every condition on `r` is true or false, never NULL (IN over non-null ids, EXISTS, =).
    return Condition(sql.SQL("NOT ({})").format(inner.sql), inner.params)


def _escaped(value: str) -> str:
    """A filter value is literal; the search value syntax it is handed to reads `\\` as an
    escape. `|` keeps its meaning: a filter token is `system|code` too."""
    return value.replace("\\", "\\\\")
