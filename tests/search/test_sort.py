"""_sort on search parameters of every type (https://hl7.org/fhir/R4/search.html#sort): several
keys, `-` for descending, missing values last, ties by id."""

from __future__ import annotations

from typing import Any

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def order(searcher: Searcher, resource_type: str, query: str) -> list[str]:
    result = await searcher.search(resource_type, query)
    assert result.next_cursor is None and not result.ignored, result.ignored
    return [stored.id for stored in result.resources]


async def both_ways(searcher: Searcher, resource_type: str, sort: str, query: str = "") -> tuple[list[str], list[str]]:
    """The order ascending and descending, each checked against the general SQL (a second key
    that cannot change the order turns off the index-driven plan)."""
    prefix = f"{query}&" if query else ""
    ascending = await order(searcher, resource_type, f"{prefix}_sort={sort}")
    descending = await order(searcher, resource_type, f"{prefix}_sort=-{sort}")
    assert await order(searcher, resource_type, f"{prefix}_sort={sort},_lastUpdated") == ascending
    assert await order(searcher, resource_type, f"{prefix}_sort=-{sort},-_lastUpdated") == descending
    return ascending, descending


def observation(id_: str, **elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": id_, "status": "final", "code": {"text": "x"}, **elements}


async def test_dates_sort_by_earliest_ascending_and_latest_descending_with_missing_last(searcher: Searcher) -> None:
    await searcher.put(
        observation("year", effectiveDateTime="2020"),  # [2020-01-01, 2021-01-01)
        observation("may", effectiveDateTime="2020-05-01"),
        # 2020-01-01T01:00Z: after the start of 2020 in UTC, though written on 2019-12-31
        observation("zoned", effectiveDateTime="2019-12-31T23:00:00-02:00"),
        observation("period", effectivePeriod={"start": "2019-06-01", "end": "2020-02-01"}),
        observation("none"),
    )
    ascending, descending = await both_ways(searcher, "Observation", "date")
    assert ascending == ["period", "year", "zoned", "may", "none"]
    assert descending == ["year", "may", "period", "zoned", "none"]


async def test_an_open_period_sorts_at_the_ends(searcher: Searcher) -> None:
    await searcher.put(
        observation("ongoing", effectivePeriod={"start": "2021-01-01"}),
        observation("since-ever", effectivePeriod={"end": "2000-01-01"}),
        observation("plain", effectiveDateTime="2010-01-01"),
    )
    ascending, descending = await both_ways(searcher, "Observation", "date")
    assert ascending == ["since-ever", "plain", "ongoing"]
    assert descending == ["ongoing", "plain", "since-ever"]


async def test_strings_sort_by_normalized_value_least_ascending_greatest_descending(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Zed"}]},
        {"resourceType": "Patient", "id": "p2", "name": [{"family": "Álvarez"}]},
        {"resourceType": "Patient", "id": "p3", "name": [{"family": "brown"}]},
        {"resourceType": "Patient", "id": "p4", "name": [{"family": "Young"}, {"family": "Adams"}]},
        {"resourceType": "Patient", "id": "p5", "name": [{"given": ["Nobody"]}]},
    )
    ascending, descending = await both_ways(searcher, "Patient", "family")
    assert ascending == ["p4", "p2", "p3", "p1", "p5"]  # adams, alvarez, brown, zed
    assert descending == ["p1", "p4", "p3", "p2", "p5"]  # zed, young, brown, alvarez


async def test_several_keys_sort_in_turn_each_in_its_own_direction(searcher: Searcher) -> None:
    def patient(id_: str, family: str, given: str, birth: str | None) -> dict[str, Any]:
        resource: dict[str, Any] = {"resourceType": "Patient", "id": id_,
                                    "name": [{"family": family, "given": [given]}]}
        return {**resource, "birthDate": birth} if birth else resource

    await searcher.put(
        patient("a", "Smith", "Jo", "1990-01-01"),
        patient("b", "Smith", "Jo", "2000-01-01"),
        patient("c", "Smith", "Al", "1980-01-01"),
        patient("d", "Jones", "Zoe", None),
        patient("e", "Smith", "Jo", None),
    )
    assert await order(searcher, "Patient", "_sort=family,given,-birthdate") == ["d", "c", "b", "a", "e"]
    assert await order(searcher, "Patient", "_sort=-family,-given,birthdate") == ["a", "b", "e", "c", "d"]


async def test_ties_are_broken_by_id_in_the_direction_of_the_first_key(searcher: Searcher) -> None:
    await searcher.put(*(observation(id_, effectiveDateTime="2020-01-01") for id_ in ("b", "c", "a")))
    assert await order(searcher, "Observation", "_sort=date") == ["a", "b", "c"]
    assert await order(searcher, "Observation", "_sort=-date") == ["c", "b", "a"]
    assert await order(searcher, "Observation", "_sort=-date,_id") == ["a", "b", "c"]
    assert await order(searcher, "Observation", "_sort=status,-_id") == ["c", "b", "a"]


async def test_tokens_sort_by_code_then_system(searcher: Searcher) -> None:
    def coded(id_: str, system: str, code: str) -> dict[str, Any]:
        return observation(id_, code={"coding": [{"system": system, "code": code}]})

    await searcher.put(coded("o1", "http://b", "100"), coded("o2", "http://a", "100"), coded("o3", "http://a", "20"),
                       coded("o4", "http://a", "1000"))
    ascending, descending = await both_ways(searcher, "Observation", "code")
    assert ascending == ["o2", "o1", "o4", "o3"]  # "100" < "1000" < "20": codes are text
    assert descending == ["o3", "o4", "o1", "o2"]


async def test_genders_sort_as_tokens_with_missing_last(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "f", "gender": "female"},
        {"resourceType": "Patient", "id": "m", "gender": "male"},
        {"resourceType": "Patient", "id": "u"},
    )
    assert await both_ways(searcher, "Patient", "gender") == (["f", "m", "u"], ["m", "f", "u"])


async def test_quantities_sort_by_value(searcher: Searcher) -> None:
    await searcher.put(
        observation("ten", valueQuantity={"value": 10, "unit": "kg"}),
        observation("nine", valueQuantity={"value": 9.5, "unit": "kg"}),
        observation("hundred", valueQuantity={"value": 100, "unit": "kg"}),
        observation("none"),
    )
    ascending, descending = await both_ways(searcher, "Observation", "value-quantity")
    assert ascending == ["nine", "ten", "hundred", "none"]
    assert descending == ["hundred", "ten", "nine", "none"]


async def test_numbers_sort_by_value(searcher: Searcher) -> None:
    def risk(id_: str, **prediction: Any) -> dict[str, Any]:
        return {"resourceType": "RiskAssessment", "id": id_, "status": "final", "subject": {"reference": "Patient/x"},
                "prediction": [prediction]}

    await searcher.put(
        risk("low", probabilityDecimal=0.1),
        risk("high", probabilityDecimal=0.9),
        risk("middle", probabilityDecimal=0.5),
        risk("unknown", outcome={"text": "?"}),
    )
    ascending, descending = await both_ways(searcher, "RiskAssessment", "probability")
    assert ascending == ["low", "middle", "high", "unknown"]
    assert descending == ["high", "middle", "low", "unknown"]


async def test_references_sort_by_target(searcher: Searcher) -> None:
    await searcher.put(
        observation("o1", subject={"reference": "Patient/b"}),
        observation("o2", subject={"reference": "Group/z"}),
        observation("o3", subject={"reference": "Patient/a"}),
        observation("o4"),
    )
    assert await both_ways(searcher, "Observation", "subject") == (["o2", "o3", "o1", "o4"], ["o1", "o3", "o2", "o4"])
    # `patient` reads the subject rows that point at a Patient: a Group subject has no value.
    assert await order(searcher, "Observation", "_sort=patient") == ["o3", "o1", "o2", "o4"]


async def test_uris_sort_by_value(searcher: Searcher) -> None:
    await searcher.put(*({"resourceType": "ValueSet", "id": id_, "status": "active", "url": url}
                         for id_, url in (("v1", "http://b.org/vs"), ("v2", "http://a.org/vs"),
                                          ("v3", "http://a.org/vs/2"))))
    assert await both_ways(searcher, "ValueSet", "url") == (["v2", "v3", "v1"], ["v1", "v3", "v2"])


async def test_sorting_applies_to_the_matches_of_the_criteria(searcher: Searcher) -> None:
    await searcher.put(
        observation("a", effectiveDateTime="2016-01-01", code={"text": "x", "coding": [{"code": "c"}]}),
        observation("b", effectiveDateTime="2014-01-01", code={"coding": [{"code": "c"}]}),
        observation("c", effectiveDateTime="2017-01-01", code={"coding": [{"code": "other"}]}),
        observation("d", effectiveDateTime="2018-01-01", code={"coding": [{"code": "c"}]}),
        observation("e", code={"coding": [{"code": "c"}]}),
    )
    assert await order(searcher, "Observation", "code=c&date=ge2015&_sort=-date") == ["d", "a"]
    assert await order(searcher, "Observation", "code=c&_sort=-date") == ["d", "a", "b", "e"]
    assert await order(searcher, "Observation", "code=c&_sort=date") == ["b", "a", "d", "e"]


async def test_sort_by_last_updated_and_id_in_either_direction(searcher: Searcher) -> None:
    for id_ in ("b", "a", "c"):  # one transaction each: distinct lastUpdated
        await searcher.put(observation(id_))
    assert await order(searcher, "Observation", "_sort=_lastUpdated") == ["b", "a", "c"]
    assert await order(searcher, "Observation", "_sort=-_lastUpdated") == ["c", "a", "b"]
    assert await order(searcher, "Observation", "_sort=-_id") == ["c", "b", "a"]
    assert await order(searcher, "Observation", "_sort=status,_lastUpdated") == ["b", "a", "c"]


async def test_an_unknown_sort_key_is_ignored_and_reported_or_refused_when_strict(searcher: Searcher) -> None:
    await searcher.put(observation("a"))
    result = await searcher.search("Observation", "_sort=-nonsense,date,combo-code-value-quantity")
    assert [s.code for s in result.request.sort] == ["date"]
    assert result.ignored == ["_sort=-nonsense", "_sort=combo-code-value-quantity"]
    for key in ("-nonsense", "combo-code-value-quantity"):
        with pytest.raises(FhirError) as raised:
            await searcher.search("Observation", f"_sort={key}", strict=True)
        assert raised.value.issues[0].code == "invalid" and "_sort" in raised.value.issues[0].diagnostics


async def test_a_cursor_of_another_sort_is_invalid(searcher: Searcher) -> None:
    await searcher.put(observation("a", effectiveDateTime="2020"), observation("b", effectiveDateTime="2021"))
    first = await searcher.search("Observation", "_sort=date&_count=1")
    with pytest.raises(FhirError) as raised:
        await searcher.search("Observation", f"_sort=-date&_count=1&_cursor={first.next_cursor}")
    assert raised.value.issues[0].code == "invalid" and "_cursor" in raised.value.issues[0].diagnostics


async def pages(searcher: Searcher, query: str) -> list[list[str]]:
    """Every page of a search, following its `next` cursors."""
    found: list[list[str]] = []
    cursor = ""
    while True:
        result = await searcher.search("Observation", query + cursor)
        found.append([stored.id for stored in result.resources])
        if result.next_cursor is None:
            return found
        cursor = f"&_cursor={result.next_cursor}"


async def test_pages_read_first_from_the_head_of_the_sort_index_are_the_same_pages(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every condition broad, a page is first looked for among the first WALK_FIRST_ROWS
    rows of the sort index (engine._page); whether those hold it whole or not, the pages are
    those of the general statement."""
    lab = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
    await searcher.put(*(
        observation(f"o{n}", effectiveDateTime=f"2020-01-{n + 1:02d}", category=[lab] if n % 3 else [],
                    code={"coding": [{"system": "http://loinc.org", "code": "2093-3" if n % 2 else "718-7"}]})
        for n in range(12)))
    query = "code=http://loinc.org|2093-3&category=laboratory&_count=2"
    general = await pages(searcher, f"{query}&_sort=-date,-_lastUpdated")
    assert general == [["o11", "o7"], ["o5", "o1"]]
    driven = await pages(searcher, f"{query}&_sort=-date")
    monkeypatch.setattr("fireside.search.engine.WALKED_FROM_ROWS", 1)
    for heads in ((3,), (5,), (100,), (3, 5)):  # the head holds no page, one page, every page; longer next
        monkeypatch.setattr("fireside.search.paging.WALK_FIRST_ROWS", heads)
        assert await pages(searcher, f"{query}&_sort=-date") == driven == general
    ascending = await pages(searcher, f"{query}&_sort=date")
    assert ascending == [["o1", "o5"], ["o7", "o11"]]
