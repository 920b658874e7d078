"""Date search: values and search values are ranges at their precision; prefixes compare ranges."""

from __future__ import annotations

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def births(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "day", "birthDate": "1980-05-17"},
        {"resourceType": "Patient", "id": "year", "birthDate": "1980"},
        {"resourceType": "Patient", "id": "later", "birthDate": "2001-02-03"},
    )


async def test_a_partial_date_matches_values_within_it(searcher: Searcher) -> None:
    await births(searcher)
    assert await searcher.ids("Patient", "birthdate=1980") == {"day", "year"}
    assert await searcher.ids("Patient", "birthdate=1980-05") == {"day"}
    assert await searcher.ids("Patient", "birthdate=1980-05-17") == {"day"}


async def test_a_value_less_precise_than_the_search_does_not_equal_it(searcher: Searcher) -> None:
    await births(searcher)
    # all of 1980 is not within May 1980
    assert "year" not in await searcher.ids("Patient", "birthdate=1980-05")


async def test_prefixes_compare_the_ranges(searcher: Searcher) -> None:
    await births(searcher)
    assert await searcher.ids("Patient", "birthdate=ge2000-01-01") == {"later"}
    assert await searcher.ids("Patient", "birthdate=gt1980-05") == {"year", "later"}
    assert await searcher.ids("Patient", "birthdate=lt1980-06") == {"day", "year"}
    assert await searcher.ids("Patient", "birthdate=le1980-05-17") == {"day", "year"}
    assert await searcher.ids("Patient", "birthdate=ne1980") == {"later"}
    # 1980 as a whole does not start after March 1980; 17 May 1980 does
    assert await searcher.ids("Patient", "birthdate=sa1980-03") == {"day", "later"}
    assert await searcher.ids("Patient", "birthdate=eb1981") == {"day", "year"}


async def test_approximately_widens_the_search_range(searcher: Searcher) -> None:
    await births(searcher)
    assert await searcher.ids("Patient", "birthdate=ap1980-05-18") == {"day", "year"}
    assert await searcher.ids("Patient", "birthdate=ap1990") == set()


async def test_a_period_open_at_the_end_reaches_every_later_date(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Encounter", "id": "ongoing", "status": "in-progress", "class": {"code": "IMP"},
         "period": {"start": "2020-01-01T08:00:00Z"}},
        {"resourceType": "Encounter", "id": "closed", "status": "finished", "class": {"code": "IMP"},
         "period": {"start": "2019-01-01T08:00:00Z", "end": "2019-01-02T08:00:00Z"}},
        {"resourceType": "Encounter", "id": "since-ever", "status": "finished", "class": {"code": "IMP"},
         "period": {"end": "2018-06-01"}},
    )
    assert await searcher.ids("Encounter", "date=gt2999-01-01") == {"ongoing"}
    assert await searcher.ids("Encounter", "date=lt1900") == {"since-ever"}
    assert await searcher.ids("Encounter", "date=ge2019-01-01&date=le2019-12-31") == {"closed"}
    assert await searcher.ids("Encounter", "date=2019") == {"closed"}


async def test_time_zones_are_compared_as_instants(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Observation", "id": "late", "status": "final", "code": {"text": "x"},
         "effectiveDateTime": "2020-01-01T23:30:00-05:00"},
    )
    # 23:30 at UTC-5 is 04:30 UTC on the 2nd
    assert await searcher.ids("Observation", "date=2020-01-02") == {"late"}
    assert await searcher.ids("Observation", "date=2020-01-01") == set()
    assert await searcher.ids("Observation", "date=2020-01-02T04:30:00Z") == {"late"}
    assert await searcher.ids("Observation", "date=ge2020-01-01T23:00:00-05:00") == {"late"}


async def test_an_unencoded_plus_in_a_zone_is_read_as_plus(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                        "effectiveDateTime": "2020-01-01T10:00:00+01:00"})
    # `+` in a query string decodes to a space
    assert await searcher.ids("Observation", "date=2020-01-01T10:00:00+01:00") == {"o"}


async def test_instants_with_fractions_are_ranges_of_their_precision(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                        "issued": "2020-01-01T10:00:00.123Z", "effectiveDateTime": "2020-01-01T10:00:00.123Z"})
    assert await searcher.ids("Observation", "date=2020-01-01T10:00:00Z") == {"o"}
    assert await searcher.ids("Observation", "date=gt2020-01-01T10:00:00.122Z") == {"o"}
    assert await searcher.ids("Observation", "date=gt2020-01-01T10:00:00.123Z") == set()


async def test_a_malformed_date_is_invalid_and_names_the_parameter(searcher: Searcher) -> None:
    for value in ("yesterday", "2020-13-01", "ge", "2020-02-30"):
        with pytest.raises(FhirError) as raised:
            await searcher.ids("Patient", f"birthdate={value}")
        assert raised.value.issues[0].code == "invalid"
        assert "birthdate" in raised.value.issues[0].diagnostics
