"""_id, _lastUpdated, _count, _total, _summary=count, _sort and keyset paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    result = await searcher.search("Patient", "gender=male&_count=2")
    assert [r.id for r in result.resources] == ["a", "b"]
    assert result.total == 3 and result.next_cursor is not None


async def test_paging_by_cursor_reaches_every_match_once(searcher: Searcher) -> None:
    await five_patients(searcher)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = "_count=2" + (f"&_cursor={cursor}" if cursor else "")
        result = await searcher.search("Patient", query)
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
    result = await searcher.search("Patient", "identifier=7,http://b|7&_count=1")
    assert result.total == 2 and [r.id for r in result.resources] == ["once"]
    second = await searcher.search("Patient", f"identifier=7,http://b|7&_count=1&_cursor={result.next_cursor}")
    assert [r.id for r in second.resources] == ["twice"] and second.next_cursor is None
