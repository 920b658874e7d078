"""Reverse chaining with _has (https://hl7.org/fhir/R4/search.html#has)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fireside.fhir import FhirError
from fireside.store import AccessContext
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


def coded(resource_id: str, subject: str, code: str, value: float | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": resource_id, "status": "final", "subject": {"reference": subject},
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}
    if value is not None:
        resource["valueQuantity"] = {"value": value, "system": "http://unitsofmeasure.org", "code": "kg"}
    return resource


async def patients_with_observations(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "a"},
        {"resourceType": "Patient", "id": "b"},
        {"resourceType": "Patient", "id": "c"},
        {"resourceType": "Group", "id": "a", "type": "person", "actual": True},
        coded("oa", "Patient/a", "1234-5", 70),
        coded("ob", "Patient/b", "9999-9", 90),
        coded("oc", "Patient/c", "1234-5", 110),
        coded("og", "Group/a", "1234-5"),
    )


async def test_has_finds_resources_that_matching_resources_refer_to(searcher: Searcher) -> None:
    await patients_with_observations(searcher)
    assert await searcher.ids("Patient", "_has:Observation:patient:code=1234-5") == {"a", "c"}
    assert await searcher.ids("Patient", "_has:Observation:subject:code=9999-9") == {"b"}


async def test_has_through_a_reference_to_other_types_keeps_the_outer_type(searcher: Searcher) -> None:
    await patients_with_observations(searcher)
    assert await searcher.ids("Group", "_has:Observation:subject:code=1234-5") == {"a"}


async def test_has_takes_alternatives_prefixes_and_modifiers_on_its_last_parameter(searcher: Searcher) -> None:
    await patients_with_observations(searcher)
    assert await searcher.ids("Patient", "_has:Observation:patient:code=1234-5,9999-9") == {"a", "b", "c"}
    assert await searcher.ids("Patient", "_has:Observation:patient:value-quantity=gt80") == {"b", "c"}
    assert await searcher.ids("Patient", "_has:Observation:patient:code:not=1234-5") == {"b"}
    assert await searcher.ids("Patient", "_has:Observation:patient:_id=oa") == {"a"}


async def test_has_and_other_criteria_must_all_hold(searcher: Searcher) -> None:
    await patients_with_observations(searcher)
    query = "_has:Observation:patient:code=1234-5&_has:Observation:patient:value-quantity=lt100"
    assert await searcher.ids("Patient", query) == {"a"}
    assert await searcher.ids("Patient", "_has:Observation:patient:code=1234-5&_id=c") == {"c"}


async def test_nested_has_follows_each_level(searcher: Searcher) -> None:
    await patients_with_observations(searcher)
    await searcher.put(
        {"resourceType": "AuditEvent", "id": "audit", "type": {"code": "rest"}, "recorded": "2024-01-01T00:00:00Z",
         "agent": [{"requestor": True, "who": {"reference": "Practitioner/x"}}],
         "source": {"observer": {"reference": "Device/d"}}, "entity": [{"what": {"reference": "Observation/oc"}}]},
    )
    found = await searcher.ids("Patient", "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/x")
    assert found == {"c"}


async def test_has_does_not_return_deleted_resources_or_count_dangling_references(searcher: Searcher) -> None:
    await patients_with_observations(searcher)
    await searcher.put(coded("dangling", "Patient/ghost", "1234-5"))
    await searcher.delete("Patient", "c")
    result = await searcher.search("Patient", "_has:Observation:patient:code=1234-5")
    assert {r.id for r in result.resources} == {"a"} and result.total == 1


async def test_has_never_crosses_projects(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "Patient", "id": "mine"})
    other = Searcher(searcher.store, searcher.engine, AccessContext(uuid.uuid4(), "Practitioner/other"))
    await other.put({"resourceType": "Patient", "id": "mine"}, coded("theirs", "Patient/mine", "1234-5"))
    assert await searcher.ids("Patient", "_has:Observation:patient:code=1234-5") == set()
    assert await other.ids("Patient", "_has:Observation:patient:code=1234-5") == {"mine"}


async def test_has_combines_with_a_forward_chain(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "p", "name": [{"family": "Chalmers"}]},
        {"resourceType": "Encounter", "id": "e", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/p"}},
        coded("o", "Patient/p", "1234-5") | {"encounter": {"reference": "Encounter/e"}},
    )
    assert await searcher.ids("Encounter", "_has:Observation:encounter:subject:Patient.name=chalmers") == {"e"}
    assert await searcher.ids("Observation", "encounter._has:Observation:encounter:code=1234-5") == {"o"}


@pytest.mark.parametrize("query", [
    "_has:Observation:patient=1",
    "_has:Nonsense:patient:code=1",
    "_has:Observation:code:code=1",
    "_has:Observation:encounter:code=1",
    "_has:Observation:patient:nonsense=1",
])
async def test_a_malformed_has_is_invalid_and_named(searcher: Searcher, query: str) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Patient", query)
    name = query.partition("=")[0]
    assert raised.value.issues[0].code == "invalid" and name in raised.value.issues[0].diagnostics


async def test_a_has_over_many_sources_is_walked_with_the_same_matches_and_pages(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past WALKED_FROM_ROWS sources, _has is checked on each Patient in id order (filters):
    the matches, the paging and the count are those of the gathered form."""
    await patients_with_observations(searcher)
    gathered = await searcher.search("Patient", "_has:Observation:patient:code=1234-5&_count=1&_total=accurate")
    monkeypatch.setattr("fireside.search.engine.WALKED_FROM_ROWS", 1)
    walked = await searcher.search("Patient", "_has:Observation:patient:code=1234-5&_count=1")
    assert [s.id for s in walked.resources] == [s.id for s in gathered.resources] == ["a"]
    assert gathered.total == 2 and walked.next_cursor is not None
    following = await searcher.search("Patient", f"_has:Observation:patient:code=1234-5&_count=1"
                                                 f"&_cursor={walked.next_cursor}")
    assert [s.id for s in following.resources] == ["c"]
    assert await searcher.ids("Patient", "_has:Observation:patient:code=1234-5") == {"a", "c"}
    assert await searcher.ids("Group", "_has:Observation:subject:code=1234-5") == {"a"}
    asked = await searcher.search("Patient", "_has:Observation:patient:code=1234-5&_total=accurate")
    assert asked.total == 2
