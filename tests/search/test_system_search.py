"""System search, GET [base]?_type=...&... (https://hl7.org/fhir/R4/http.html#search): across
types, only with parameters every searched type has, and never beyond the caller's project."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import pytest

from fireside.fhir import FhirError
from fireside.search import SearchResult
from fireside.store import AccessContext
from tests.conftest import RunningServer
from tests.search.conftest import Searcher


async def system_search(searcher: Searcher, query: str) -> SearchResult:
    return await searcher.engine.search_system(searcher.ctx, parse_qsl(query, keep_blank_values=True))


async def found(searcher: Searcher, query: str) -> set[str]:
    result = await system_search(searcher, query)
    return {stored.reference for stored in result.resources}


async def same_id_in_three_types(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "x", "name": [{"family": "Smith"}], "gender": "male"},
        {"resourceType": "Observation", "id": "x", "status": "final", "code": {"text": "Smith test"}},
        {"resourceType": "Practitioner", "id": "x", "name": [{"family": "Smith"}]},
        {"resourceType": "Patient", "id": "y", "name": [{"family": "Jones"}]},
    )


@pytest.mark.anyio
async def test_type_lists_the_types_searched(searcher: Searcher) -> None:
    await same_id_in_three_types(searcher)
    assert await found(searcher, "_type=Patient,Observation&_id=x") == {"Patient/x", "Observation/x"}
    assert await found(searcher, "_type=Patient&_type=Practitioner&_id=x") == {"Patient/x", "Practitioner/x"}


@pytest.mark.anyio
async def test_without_type_every_type_of_the_project_is_searched(searcher: Searcher) -> None:
    await same_id_in_three_types(searcher)
    assert await found(searcher, "_lastUpdated=gt2000-01-01") == {
        "Patient/x", "Observation/x", "Practitioner/x", "Patient/y"}
    assert await found(searcher, "_id=x") == {"Patient/x", "Observation/x", "Practitioner/x"}


@pytest.mark.anyio
async def test_a_parameter_common_to_the_listed_types_searches_each(searcher: Searcher) -> None:
    await same_id_in_three_types(searcher)
    assert await found(searcher, "_type=Patient,Practitioner&name=smith") == {"Patient/x", "Practitioner/x"}


@pytest.mark.anyio
async def test_a_parameter_missing_from_one_listed_type_is_refused(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await system_search(searcher, "_type=Patient,Observation&gender=male")
    diagnostics = raised.value.issues[0].diagnostics
    assert "'gender' is not a parameter of every type searched (not of Observation)" in diagnostics


@pytest.mark.anyio
async def test_without_type_a_type_specific_parameter_is_refused(searcher: Searcher) -> None:
    await same_id_in_three_types(searcher)
    with pytest.raises(FhirError) as raised:
        await system_search(searcher, "name=smith")
    assert raised.value.issues[0].code == "invalid"


@pytest.mark.anyio
async def test_an_unknown_type_is_refused(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await system_search(searcher, "_type=Patient,Nope")
    assert "_type: 'Nope'" in raised.value.issues[0].diagnostics


@pytest.mark.anyio
async def test_special_parameters_work_across_types(searcher: Searcher) -> None:
    await same_id_in_three_types(searcher)
    assert await found(searcher, "_content=smith") == {"Patient/x", "Observation/x", "Practitioner/x"}
    assert await found(searcher, "_filter=_id+eq+y") == {"Patient/y"}


@pytest.mark.anyio
async def test_another_projects_resources_are_never_found(searcher: Searcher) -> None:
    await same_id_in_three_types(searcher)
    other = Searcher(searcher.store, searcher.engine, AccessContext(uuid.uuid4(), "Practitioner/other"))
    await other.put({"resourceType": "Patient", "id": "z", "name": [{"family": "Smith"}]},
                    {"resourceType": "Condition", "id": "x", "subject": {"reference": "Patient/z"}})
    assert await found(searcher, "_lastUpdated=gt2000-01-01") == {
        "Patient/x", "Observation/x", "Practitioner/x", "Patient/y"}
    assert await found(other, "_id=x") == {"Condition/x"}
    assert await found(other, "_type=Patient,Observation&_id=x") == set()


@pytest.mark.anyio
async def test_pages_continue_across_types_and_total_counts_all(searcher: Searcher) -> None:
    await same_id_in_three_types(searcher)
    first = await system_search(searcher, "_count=3&_sort=_id&_total=accurate")
    assert first.total == 4 and len(first.resources) == 3 and first.next_cursor
    rest = await system_search(searcher, f"_count=3&_sort=_id&_cursor={first.next_cursor}")
    assert {s.reference for s in first.resources + rest.resources} == {
        "Patient/x", "Observation/x", "Practitioner/x", "Patient/y"}


@pytest.mark.anyio
async def test_an_empty_project_has_nothing(searcher: Searcher) -> None:
    result = await system_search(searcher, "_lastUpdated=gt2000")
    assert result.resources == [] and result.total == 0


def test_system_search_over_http_returns_a_searchset_of_the_projects_resources(server: RunningServer) -> None:
    first = server.fhir_client(new_project="First")
    second = server.fhir_client(new_project="Second")
    patient = first.post("/Patient", json={"resourceType": "Patient", "gender": "male"}).json()
    first.post("/Observation", json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    second.post("/Patient", json={"resourceType": "Patient"})
    bundle = first.get("", params={"_type": "Patient,Observation"}).json()
    assert bundle["type"] == "searchset" and bundle["total"] == 2
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"Patient", "Observation"}
    assert bundle["link"][0]["url"].startswith(server.fhir_url + "?")
    by_id = first.get("", params={"_id": patient["id"]}).json()
    assert [e["fullUrl"] for e in by_id["entry"]] == [f"{server.fhir_url}/Patient/{patient['id']}"]
    assert second.get("", params={"_id": patient["id"]}).json()["total"] == 0
    refused = first.get("", params={"gender": "male"})
    assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"
    statement = first.get("/metadata").json()
    assert {"code": "search-system"} in statement["rest"][0]["interaction"]
