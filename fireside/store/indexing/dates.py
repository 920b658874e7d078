"""FHIR date, dateTime and instant values as the time range they stand for
(https://hl7.org/fhir/R4/search.html#date: "the date parameter ... searches for a range").

`2020` is all of 2020, `2020-03` all of March, `2020-03-04T10:00Z` that minute: [low, high).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

# PostgreSQL's own spelling: an open Period end is stored as these, so every range comparison
# holds without special cases (Python's datetime has no infinity).
NEGATIVE_INFINITY = "-infinity"
POSITIVE_INFINITY = "infinity"

DateBound = datetime | str

_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?"
)
# The end of year 9999, where the next year cannot be written as a datetime.
LATEST = datetime.max.replace(tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
_ONE_MINUTE = timedelta(minutes=1)
_ONE_SECOND = timedelta(seconds=1)


def date_range(text: str) -> tuple[datetime, datetime] | None:
    """[low, high) at the value's precision, or None if `text` is not a FHIR date/dateTime/instant.

    A value without a zone is read as UTC: the spec leaves the zone of a zoneless time to the
    server, and UTC keeps index rows independent of the server's settings."""
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = UTC if zone is None or zone == "Z" else _offset(zone)
        if month is None:
            low = datetime(int(year), 1, 1, tzinfo=tz)
            return low, _after(_next_year, low)
        if day is None:
            low = datetime(int(year), int(month), 1, tzinfo=tz)
            return low, _after(_next_month, low)
        if hour is None:
            low = datetime(int(year), int(month), int(day), tzinfo=tz)
            return low, _after(lambda moment: moment + _ONE_DAY, low)
        low = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
        if second is None:
            return low, _after(lambda moment: moment + _ONE_MINUTE, low)
        if fraction is None:
            return low, _after(lambda moment: moment + _ONE_SECOND, low)
        return _with_fraction(low, fraction)
    except ValueError:  # 2020-02-30, 25:00, a zone of 24 hours, ...
        return None


def _after(step: Callable[[datetime], datetime], low: datetime) -> datetime:
    """The end of the range, or the end of 9999 where that cannot be written."""
    try:
        return step(low)
    except (ValueError, OverflowError):
        return LATEST


def _with_fraction(low: datetime, fraction: str) -> tuple[datetime, datetime]:
    digits = fraction[1:7]
    low = low.replace(microsecond=int(digits.ljust(6, "0")))
    step = timedelta(microseconds=10 ** (6 - len(digits)))
    return low, _after(lambda moment: moment + step, low)


def _next_year(low: datetime) -> datetime:
    return low.replace(year=low.year + 1)


def _next_month(low: datetime) -> datetime:
    return low.replace(year=low.year + 1, month=1) if low.month == 12 else low.replace(month=low.month + 1)


def _offset(zone: str) -> timezone:
    sign = 1 if zone[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
