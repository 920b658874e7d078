"""_list (https://hl7.org/fhir/R4/search.html#list): the resources of the searched type that
are items of a List in the same project."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fireside.fhir import FhirError
from fireside.store import AccessContext
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


def a_list(list_id: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "List", "id": list_id, "status": "current", "mode": "working", "entry": list(entries)}


def item(reference: str, **extra: Any) -> dict[str, Any]:
    return {"item": {"reference": reference}, **extra}


async def patients(searcher: Searcher, *ids: str) -> None:
    await searcher.put(*({"resourceType": "Patient", "id": i} for i in ids))


async def test_list_matches_its_items_of_the_searched_type(searcher: Searcher) -> None:
    await patients(searcher, "a", "b", "c")
    await searcher.put({"resourceType": "Observation", "id": "a", "status": "final", "code": {"text": "x"}})
    await searcher.put(a_list("ward", item("Patient/a"), item("Patient/b"), item("Observation/a")))
    assert await searcher.ids("Patient", "_list=ward") == {"a", "b"}
    assert await searcher.ids("Patient", "_list=List/ward") == {"a", "b"}
    assert await searcher.ids("Observation", "_list=ward") == {"a"}


async def test_versioned_and_absolute_references_to_this_server_count(searcher: Searcher) -> None:
    await patients(searcher, "a", "b", "c")
    await searcher.put(a_list("ward", item("Patient/a/_history/1"), item("https://fhir.example/R4/Patient/b"),
                              item("https://elsewhere.example/Patient/c")))
    result = await searcher.search("Patient", "_list=ward", base_url="https://fhir.example/R4")
    assert {stored.id for stored in result.resources} == {"a", "b"}


async def test_deleted_items_and_entries_flagged_deleted_are_not_in_the_list(searcher: Searcher) -> None:
    await patients(searcher, "a", "b", "c")
    await searcher.put(a_list("ward", item("Patient/a"), item("Patient/b"), item("Patient/c", deleted=True)))
    await searcher.delete("Patient", "b")
    assert await searcher.ids("Patient", "_list=ward") == {"a"}


async def test_a_deleted_or_missing_list_matches_nothing(searcher: Searcher) -> None:
    await patients(searcher, "a")
    await searcher.put(a_list("ward", item("Patient/a")))
    assert await searcher.ids("Patient", "_list=nowhere") == set()
    await searcher.delete("List", "ward")
    assert await searcher.ids("Patient", "_list=ward") == set()


async def test_list_combines_with_other_criteria_and_several_lists_are_alternatives(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "Patient", "id": "a", "gender": "male"},
                       {"resourceType": "Patient", "id": "b", "gender": "female"},
                       {"resourceType": "Patient", "id": "c", "gender": "female"})
    await searcher.put(a_list("one", item("Patient/a"), item("Patient/b")), a_list("two", item("Patient/c")))
    assert await searcher.ids("Patient", "_list=one&gender=female") == {"b"}
    assert await searcher.ids("Patient", "_list=one,two") == {"a", "b", "c"}
    assert await searcher.ids("Patient", "_list=one&_list=two") == set()


async def test_a_list_of_another_project_is_not_seen(searcher: Searcher) -> None:
    await patients(searcher, "a")
    await searcher.put(a_list("ward", item("Patient/a")))
    other = Searcher(searcher.store, searcher.engine, AccessContext(uuid.uuid4(), "Practitioner/other"))
    await patients(other, "a")
    assert await other.ids("Patient", "_list=ward") == set()


async def test_functional_lists_are_not_supported(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Patient", "_list=$current-allergies")
    assert raised.value.issues[0].code == "not-supported"
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Patient", "_list=Group/x")
    assert raised.value.issues[0].code == "invalid" and "_list" in raised.value.issues[0].diagnostics
