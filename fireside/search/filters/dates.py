"""Date criteria (https://hl7.org/fhir/R4/search.html#date): the search value is a range at its
precision (`2020-03` is all of March) compared with the range each index row covers.

With [ql, qh) the search range and [low, high) a row's:
  eq  the search range contains the row's            low >= ql and high <= qh
  gt  the range after the search range overlaps it   high > qh
  lt  the range before it overlaps it                low < ql
  ge  gt or eq,  le  lt or eq
  sa  the row starts after the search range          low >= qh
  eb  the row ends before it                         high <= ql
  ap  the row overlaps the search range widened by 10% of its distance from now (at least a day)
  ne  not eq
Each is written with a range on one indexed column (low for eq/lt/le/sa, high for gt/ge/eb),
so that the search_date low or high index can answer it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fireside.search.filters.condition import Condition, FilterContext, bad_modifier, bad_value, condition
from fireside.search.filters.prefixes import split_prefix
from fireside.search.request import Criterion
from fireside.store.indexing import LATEST, date_range

# `+01:00` unencoded in a URL arrives as ` 01:00`: a query string turns `+` into a space.
_ZONE_WITHOUT_PLUS = re.compile(r" (\d{2}:\d{2})$")

# prefix -> (SQL, which search bound each placeholder takes: l = ql, h = qh)
_RANGE_TEMPLATES = {
    "eq": ("i.low >= %s AND i.low < %s AND i.high <= %s", "lhh"),
    "ne": ("NOT (i.low >= %s AND i.high <= %s)", "lh"),
    "gt": ("i.high > %s", "h"),
    "lt": ("i.low < %s", "l"),
    "ge": ("i.high > %s AND (i.high > %s OR i.low >= %s)", "lhl"),
    "le": ("i.low < %s AND (i.low < %s OR i.high <= %s)", "hlh"),
    "sa": ("i.low >= %s", "h"),
    "eb": ("i.high <= %s", "l"),
    "ap": ("i.low < %s AND i.high > %s", "hl"),
}

# meta.lastUpdated is one instant t, i.e. the range [t, t + 1 microsecond).
_INSTANT_TEMPLATES = {
    "eq": ("r.last_updated >= %s AND r.last_updated < %s", "lh"),
    "ne": ("NOT (r.last_updated >= %s AND r.last_updated < %s)", "lh"),
    "gt": ("r.last_updated >= %s", "h"),
    "lt": ("r.last_updated < %s", "l"),
    "ge": ("r.last_updated >= %s", "l"),
    "le": ("r.last_updated < %s", "h"),
    "sa": ("r.last_updated >= %s", "h"),
    "eb": ("r.last_updated < %s", "l"),
    "ap": ("r.last_updated >= %s AND r.last_updated < %s", "lh"),
}


def compile_date_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    if criterion.modifier is not None:
        raise bad_modifier(criterion)
    return _templated(_RANGE_TEMPLATES, criterion, value)


def compile_last_updated_filter(criterion: Criterion, value: str) -> Condition:
    if criterion.modifier is not None:
        raise bad_modifier(criterion)
    return _templated(_INSTANT_TEMPLATES, criterion, value)


def _templated(templates: dict[str, tuple[str, str]], criterion: Criterion, value: str) -> Condition:
    prefix, query_low, query_high = search_range(criterion, value)
    template, bounds = templates[prefix]
    return condition(template, *(query_low if bound == "l" else query_high for bound in bounds))


def search_range(criterion: Criterion, value: str) -> tuple[str, datetime, datetime]:
    """The prefix and [low, high) of a date search value; `ap` already widened."""
    prefix, text = split_prefix(value)
    found = date_range(_ZONE_WITHOUT_PLUS.sub(r"+\1", text))
    if found is None:
        raise bad_value(criterion, value, "is not a date, dateTime or instant (like 2020, 2020-03-04 or "
                        "2020-03-04T10:00:00Z), with an optional prefix (ge, lt, ...)")
    query_low, query_high = found
    if prefix == "ap":
        margin = max(abs(datetime.now(UTC) - query_low) / 10, timedelta(days=1))
        query_low = _shifted(query_low, -margin, datetime.min.replace(tzinfo=UTC))
        query_high = _shifted(query_high, margin, LATEST)
    return prefix, query_low, query_high


def _shifted(moment: datetime, delta: timedelta, limit: datetime) -> datetime:
    try:
        return moment + delta
    except OverflowError:  # past year 1 or 9999
        return limit
