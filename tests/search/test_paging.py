"""_id, _lastUpdated, _count, _total, _summary=count, _sort and keyset paging
(https://hl7.org/fhir/R4/search.html#count, #sort)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from fireside.fhir import FhirError
from fireside.search import SearchResult
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def five_patients(searcher: Searcher) -> None:
    for name in ("a", "b", "c", "d", "e"):  # one transaction each: distinct lastUpdated
        await searcher.put({"resourceType": "Patient", "id": name, "gender": "male" if name < "d" else "female"})


async def test_id_matches_any_of_the_given_ids(searcher: Searcher) -> None:
    await five_patients(searcher)
    assert await searcher.ids("Patient", "_id=a,c,zz") == {"a", "c"}


async def test_last_updated_compares_the_write_time(searcher: Searcher) -> None:
    await five_patients(searcher)
    today = datetime.now(UTC).date().isoformat()
    assert await searcher.ids("Patient", f"_lastUpdated={today}") == {"a", "b", "c", "d", "e"}
    assert await searcher.ids("Patient", "_lastUpdated=lt2000") == set()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert await searcher.ids("Patient", f"_lastUpdated=ge{tomorrow}") == set()


async def test_count_limits_the_page_and_total_counts_every_match(searcher: Searcher) -> None:
    await five_patients(searcher)
    result = await searcher.search("Patient", "gender=male&_count=2&_total=accurate")
    assert [r.id for r in result.resources] == ["a", "b"]
    assert result.total == 3 and result.next_cursor is not None


async def test_paging_by_cursor_reaches_every_match_once(searcher: Searcher) -> None:
    await five_patients(searcher)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = "_count=2" + (f"&_cursor={cursor}" if cursor else "")
        result = await searcher.search("Patient", query + "&_total=accurate")
        assert result.total == 5
        seen += [r.id for r in result.resources]
        cursor = result.next_cursor
        if cursor is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]


async def test_sort_by_last_updated_descending_pages_newest_first(searcher: Searcher) -> None:
    await five_patients(searcher)
    first: SearchResult = await searcher.search("Patient", "_sort=-_lastUpdated&_count=3")
    assert [r.id for r in first.resources] == ["e", "d", "c"]
    second = await searcher.search("Patient", f"_sort=-_lastUpdated&_count=3&_cursor={first.next_cursor}")
    assert [r.id for r in second.resources] == ["b", "a"] and second.next_cursor is None


async def test_summary_count_and_count_zero_return_only_the_total(searcher: Searcher) -> None:
    await five_patients(searcher)
    for query in ("_summary=count", "_count=0"):
        result = await searcher.search("Patient", "gender=female&" + query)
        assert result.resources == [] and result.total == 2


async def test_total_none_skips_counting(searcher: Searcher) -> None:
    await five_patients(searcher)
    result = await searcher.search("Patient", "_count=1&_total=none")
    assert result.total is None and len(result.resources) == 1


async def test_a_forged_cursor_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.search("Patient", "_cursor=not-a-cursor")
    assert raised.value.issues[0].code == "invalid"


async def test_bad_result_parameters_are_invalid_and_named(searcher: Searcher) -> None:
    for query, name in (("_count=-1", "_count"), ("_total=some", "_total"), ("_summary=brief", "_summary")):
        with pytest.raises(FhirError) as raised:
            await searcher.search("Patient", query)
        assert raised.value.issues[0].code == "invalid" and name in raised.value.issues[0].diagnostics


async def test_sort_by_id_descending_pages_in_reverse_with_and_without_criteria(searcher: Searcher) -> None:
    await five_patients(searcher)
    for query in ("_sort=-_id&_count=2", "gender=male,female&_sort=-_id&_count=2"):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            result = await searcher.search("Patient", query + (f"&_cursor={cursor}" if cursor else ""))
            seen += [r.id for r in result.resources]
            cursor = result.next_cursor
            if cursor is None:
                break
        assert seen == ["e", "d", "c", "b", "a"], query


async def test_a_resource_matching_a_criterion_twice_is_counted_and_listed_once(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "twice", "identifier": [{"system": "http://a", "value": "7"},
                                                                   {"system": "http://b", "value": "7"}]},
        {"resourceType": "Patient", "id": "once", "identifier": [{"system": "http://a", "value": "7"}]},
        {"resourceType": "Patient", "id": "other", "identifier": [{"system": "http://a", "value": "8"}]},
    )
    result = await searcher.search("Patient", "identifier=7,http://b|7&_count=1&_total=accurate")
    assert result.total == 2 and [r.id for r in result.resources] == ["once"]
    second = await searcher.search("Patient", f"identifier=7,http://b|7&_count=1&_cursor={result.next_cursor}")
    assert [r.id for r in second.resources] == ["twice"] and second.next_cursor is None


# --- keyset paging with any sort, both ways ------------------------------------------------

SORTS = (
    "_sort=date", "_sort=-date", "_sort=value-quantity,-date", "_sort=-code,date", "_sort=subject,-value-quantity",
    "_sort=_lastUpdated", "_sort=-_lastUpdated", "_sort=-_id", "_sort=status,-_id", "_sort=_lastUpdated,-_id",
    "code=c0,c1&_sort=-date", "code=c0,c1&_sort=date", "code=c0,c1", "code=c0,c1&_sort=-_id",
    "status=final&_sort=-subject",
)


async def eleven_observations(searcher: Searcher) -> None:
    """Values with ties and gaps, so that every key has equal and missing values."""
    dates = ["2020", "2020-05-01", None, "2019-12-31T23:00:00-02:00", "2020", None, "2021-03-04T05:06:07Z",
             "2020-05-01", "2018", None, "2020-05-01T00:00:00+14:00"]
    for n, date in enumerate(dates):  # one transaction each: distinct lastUpdated
        resource: dict[str, Any] = {
            "resourceType": "Observation", "id": f"o{(n * 7) % 11:02}", "status": "final",
            "code": {"coding": [{"system": "http://x", "code": f"c{n % 3}"}]},
        }
        if date:
            resource["effectiveDateTime"] = date
        if n % 4:
            resource["valueQuantity"] = {"value": n % 3, "unit": "g"}
        if n % 5:
            resource["subject"] = {"reference": f"Patient/p{n % 2}"}
        await searcher.put(resource)


async def walk(
    searcher: Searcher, query: str, cursor: str | None = None, *, backward: bool = False
) -> list[SearchResult]:
    """Every page from `cursor` on, following next (or previous) cursors."""
    pages: list[SearchResult] = []
    while True:
        page = await searcher.search("Observation", query + (f"&_cursor={cursor}" if cursor else ""))
        pages.append(page)
        cursor = page.previous_cursor if backward else page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 50, "paging does not end"


def ids(pages: list[SearchResult]) -> list[str]:
    return [stored.id for page in pages for stored in page.resources]


async def test_paging_forward_and_back_with_any_sort_returns_each_match_once_in_order(searcher: Searcher) -> None:
    await eleven_observations(searcher)
    for sort in SORTS:
        whole = ids([await searcher.search("Observation", f"{sort}&_count=100")])
        forward = await walk(searcher, f"{sort}&_count=3")
        assert ids(forward) == whole, sort
        assert forward[0].previous_cursor is None and all(p.previous_cursor for p in forward[1:]), sort
        assert len(forward) >= 3, sort
        before_last = len(whole) - len(forward[-1].resources)
        backward = await walk(searcher, f"{sort}&_count=3", forward[-1].previous_cursor, backward=True)
        assert ids(list(reversed(backward))) == whole[:before_last], sort
        assert all(len(p.resources) == 3 for p in backward) and backward[-1].previous_cursor is None, sort
        # Forward again from a page reached backwards: the page after it.
        again = await searcher.search("Observation", f"{sort}&_count=3&_cursor={backward[1].next_cursor}")
        assert [r.id for r in again.resources] == whole[before_last - 3:before_last], sort


async def test_paging_back_from_a_page_of_resources_without_the_value_reaches_those_with_it(
    searcher: Searcher,
) -> None:
    await eleven_observations(searcher)
    for sort in ("_sort=date", "_sort=-date", "_sort=-date,status"):
        whole = ids([await searcher.search("Observation", f"{sort}&_count=100")])
        last = (await walk(searcher, f"{sort}&_count=2"))[-1]  # o.. without a date, the last of them
        backward = await walk(searcher, f"{sort}&_count=2", last.previous_cursor, backward=True)
        assert ids(list(reversed(backward))) + [r.id for r in last.resources] == whole, sort


async def test_resources_created_between_pages_never_repeat_or_hide_earlier_matches(searcher: Searcher) -> None:
    await eleven_observations(searcher)
    for round_, sort in enumerate(SORTS):
        expected = {stored.id for stored in (await searcher.search("Observation", f"{sort}&_count=100")).resources}
        seen: list[str] = []
        cursor: str | None = None
        page_number = 0
        while True:
            page = await searcher.search("Observation", f"{sort}&_count=3" + (f"&_cursor={cursor}" if cursor else ""))
            seen += [stored.id for stored in page.resources]
            page_number += 1
            if page_number <= 2:  # New matches on both sides of the cursor: dates before and after, none at all.
                await searcher.put(*({"resourceType": "Observation", "id": f"new-{round_}-{page_number}-{n}",
                                      "status": "final", "code": {"coding": [{"system": "http://x", "code": "c1"}]},
                                      **({"effectiveDateTime": date} if date else {})}
                                     for n, date in enumerate(("1990", "2030", None))))
            cursor = page.next_cursor
            if cursor is None:
                break
            assert page_number < 50, sort
        assert len(seen) == len(set(seen)), sort
        assert expected <= set(seen), sort


async def test_count_above_the_maximum_is_clamped(searcher: Searcher) -> None:
    result = await searcher.search("Patient", "_count=5000")
    assert result.request.count == 1000


async def test_a_cursor_with_a_bad_key_value_is_invalid(searcher: Searcher) -> None:
    await eleven_observations(searcher)
    page = await searcher.search("Observation", "_sort=date&_count=2")
    assert page.next_cursor is not None
    document = orjson.loads(base64.urlsafe_b64decode(page.next_cursor + "=" * (-len(page.next_cursor) % 4)))
    for change in ({"k": ["not a date"]}, {"k": [1]}, {"k": []}, {"k": ["2020-01-01T00:00:00"]},
                   {"k": ["2020-01-01T00:00:00Z\u0000"]}, {"id": "o\u0000"}, {"d": "sideways"}):
        forged = base64.urlsafe_b64encode(orjson.dumps({**document, **change})).decode()
        with pytest.raises(FhirError) as raised:
            await searcher.search("Observation", f"_sort=date&_count=2&_cursor={forged}")
        assert raised.value.issues[0].code == "invalid", change
