"""_total (https://hl7.org/fhir/R4/search.html#total): accurate counts, estimate asks the
planner, none leaves it out; `_count=0` answers with the total alone. Without `_total`, only a
first page that holds every match carries the total (it counted them)."""

from __future__ import annotations

import pytest

from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def twelve_patients(searcher: Searcher) -> None:
    await searcher.put(*({"resourceType": "Patient", "id": f"p{n}", "gender": "male" if n % 3 else "female"}
                         for n in range(12)))


async def test_accurate_counts_every_match_on_every_page(searcher: Searcher) -> None:
    await twelve_patients(searcher)
    first = await searcher.search("Patient", "gender=male&_count=3&_total=accurate")
    assert first.total == 8
    later = await searcher.search("Patient", f"gender=male&_count=3&_total=accurate&_cursor={first.next_cursor}")
    assert later.total == 8


async def test_unasked_total_comes_only_with_a_page_that_holds_every_match(searcher: Searcher) -> None:
    await twelve_patients(searcher)
    first = await searcher.search("Patient", "gender=male&_count=3")
    assert first.total is None and first.next_cursor is not None
    later = await searcher.search("Patient", f"gender=male&_count=3&_cursor={first.next_cursor}")
    assert later.total is None
    assert (await searcher.search("Patient", "gender=female&_count=4")).total == 4
    assert (await searcher.search("Patient", "gender=male&_count=3&_total=accurate")).total == 8
    assert (await searcher.search("Patient", "gender=male&_summary=count")).total == 8


async def test_estimate_is_a_planner_estimate_of_the_matches(searcher: Searcher) -> None:
    await twelve_patients(searcher)
    for query in ("gender=male", "gender=male&_id=p1,p2", ""):
        result = await searcher.search("Patient", f"{query}&_count=2&_total=estimate")
        assert result.total is not None and result.total >= 1, query


async def test_estimate_on_a_first_page_that_holds_every_match_is_exact(searcher: Searcher) -> None:
    await twelve_patients(searcher)
    result = await searcher.search("Patient", "gender=female&_total=estimate")
    assert result.total == 4


async def test_none_leaves_the_total_out(searcher: Searcher) -> None:
    await twelve_patients(searcher)
    result = await searcher.search("Patient", "_count=2&_total=none")
    assert result.total is None and len(result.resources) == 2


async def test_count_zero_returns_only_the_total_in_any_mode(searcher: Searcher) -> None:
    await twelve_patients(searcher)
    accurate = await searcher.search("Patient", "gender=male&_count=0")
    assert accurate.resources == [] and accurate.total == 8 and accurate.next_cursor is None
    estimate = await searcher.search("Patient", "gender=male&_count=0&_total=estimate")
    assert estimate.resources == [] and estimate.total is not None
