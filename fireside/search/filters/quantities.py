"""Number and quantity criteria (https://hl7.org/fhir/R4/search.html#number, #quantity).

The search value's precision is the range eq matches: `100` is [99.5, 100.5), `100.0` is
[99.95, 100.05). Other prefixes compare with the value itself. Rows are [low, high] (a point has
low = high); the conditions range over `low` where they can, which the value index covers.
A quantity adds `|system|code`, or `||code` to match the code or the written unit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fireside.search.escaping import split_unescaped, unescape
from fireside.search.filters.condition import Condition, FilterContext, all_of, bad_modifier, bad_value, condition
from fireside.search.filters.prefixes import split_prefix
from fireside.search.request import Criterion


def compile_number_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    if criterion.modifier is not None:
        raise bad_modifier(criterion)
    prefix, text = split_prefix(value)
    return number_condition(prefix, _number(criterion, value, text))


def compile_quantity_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    if criterion.modifier is not None:
        raise bad_modifier(criterion)
    prefix, text = split_prefix(value)
    parts = split_unescaped(text, "|")
    number = _number(criterion, value, parts[0])
    if len(parts) == 1:
        return number_condition(prefix, number)
    if len(parts) != 3:
        raise bad_value(criterion, value, "is not number, number|system|code or number||code")
    system, code = unescape(parts[1]), unescape(parts[2])
    if not code:
        raise bad_value(criterion, value, "has a system but no unit code")
    if not system:
        unit = condition("(i.code = %s OR i.unit = %s)", code, code)
    else:
        unit = condition("i.system = %s AND i.code = %s", system, code)
    return all_of(number_condition(prefix, number), unit)


def number_condition(prefix: str, number: Decimal) -> Condition:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: _number refuses NaN and infinities
    half = Decimal(1).scaleb(exponent) / 2
    if prefix == "eq":
        return condition("i.low >= %s AND i.low < %s AND i.high < %s", number - half, number + half, number + half)
    if prefix == "ne":
        return condition("NOT (i.low >= %s AND i.high < %s)", number - half, number + half)
    if prefix == "ap":
        margin = max(abs(number) / 10, half)
        return condition("i.low <= %s AND i.high >= %s", number + margin, number - margin)
    return condition(_ORDERED[prefix], number)


_ORDERED = {
    "gt": "i.high > %s",
    "lt": "i.low < %s",
    "ge": "i.high >= %s",
    "le": "i.low <= %s",
    "sa": "i.low > %s",
    "eb": "i.high < %s",
}


# Far beyond any measurement, well within PostgreSQL numeric and Python's decimal context.
_LARGEST_EXPONENT = 300


def _number(criterion: Criterion, value: str, text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise bad_value(criterion, value, "is not a number (like 5.4, with an optional prefix: gt5.4)")
    exponent = number.as_tuple().exponent
    if abs(number.adjusted()) > _LARGEST_EXPONENT or not isinstance(exponent, int) or exponent < -_LARGEST_EXPONENT:
        raise bad_value(criterion, value, "is out of range")
    return number
