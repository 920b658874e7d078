"""FHIR date, dateTime and instant values as the time range they stand for."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def date_range(text: str) -> tuple[datetime, datetime] | None:
    """[low, high) at the value's precision: '2020' is all of 2020, '2020-03-04T10:00Z' one minute.

    A time without a zone is read as UTC (the spec leaves it to the server)."""
    match = _DATE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = _zone(zone)
        if month is None:
            low = datetime(int(year), 1, 1, tzinfo=tz)
            return low, low.replace(year=low.year + 1)
        if day is None:
            low = datetime(int(year), int(month), 1, tzinfo=tz)
            high = low.replace(year=low.year + 1, month=1) if low.month == 12 else low.replace(month=low.month + 1)
            return low, high
        if hour is None:
            low = datetime(int(year), int(month), int(day), tzinfo=tz)
            return low, low + timedelta(days=1)
        low = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
        if second is None:
            return low, low + timedelta(minutes=1)
        if fraction:
            micro = round(float(fraction) * 1_000_000)
            low = low.replace(microsecond=min(micro, 999_999))
            return low, low + timedelta(microseconds=10 ** max(0, 6 - (len(fraction) - 1)))
        return low, low + timedelta(seconds=1)
    except ValueError:
        return None


def _zone(zone: str | None) -> timezone:
    if zone is None or zone == "Z":
        return UTC
    sign = 1 if zone[0] == "+" else -1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
