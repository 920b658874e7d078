"""FHIR dates as the range their precision covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fireside.store.indexing import LATEST, date_range


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
       microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


@pytest.mark.parametrize(("text", "low", "high"), [
    ("2020", at(2020, 1, 1), at(2021, 1, 1)),
    ("2020-12", at(2020, 12, 1), at(2021, 1, 1)),
    ("2020-02-29", at(2020, 2, 29), at(2020, 3, 1)),
    ("2020-03-04T10:05Z", at(2020, 3, 4, 10, 5), at(2020, 3, 4, 10, 6)),
    ("2020-03-04T10:05:06Z", at(2020, 3, 4, 10, 5, 6), at(2020, 3, 4, 10, 5, 7)),
    ("2020-03-04T10:05:06.25Z", at(2020, 3, 4, 10, 5, 6, 250000), at(2020, 3, 4, 10, 5, 6, 260000)),
    ("2020-03-04T10:05:06.1234567Z", at(2020, 3, 4, 10, 5, 6, 123456), at(2020, 3, 4, 10, 5, 6, 123457)),
])
def test_a_date_is_the_range_of_its_precision(text: str, low: datetime, high: datetime) -> None:
    assert date_range(text) == (low, high)


def test_a_zone_offset_is_kept_and_a_missing_zone_is_utc() -> None:
    found = date_range("2020-01-01T23:30:00-05:00")
    assert found is not None and found[0] == at(2020, 1, 2, 4, 30)
    assert date_range("2020-01-01T23:30:00") == (at(2020, 1, 1, 23, 30), at(2020, 1, 1, 23, 30, 1))
    assert date_range("2020-01-01") == (at(2020, 1, 1), at(2020, 1, 1) + timedelta(days=1))


def test_the_last_year_ends_at_the_latest_instant_python_can_hold() -> None:
    assert date_range("9999") == (at(9999, 1, 1), LATEST)
    assert date_range("9999-12-31T23:59:59.999999Z") == (at(9999, 12, 31, 23, 59, 59, 999999), LATEST)


@pytest.mark.parametrize("text", ["2020-13", "2020-02-30", "2020-01-01T24:00:00Z", "20200101", "2020-1-1",
                                  "0000", "2020-01-01T10:00:00+24:00", "yesterday", ""])
def test_what_is_not_a_fhir_date_has_no_range(text: str) -> None:
    assert date_range(text) is None
