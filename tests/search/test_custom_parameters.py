"""Custom search parameters: a SearchParameter stored in a project applies there, and only there."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fireside.fhir import FhirError
from fireside.store import AccessContext
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

NICKNAME_URL = "http://example.org/fhir/StructureDefinition/nickname"


def search_parameter(code: str, expression: str, kind: str = "string", base: tuple[str, ...] = ("Patient",),
                     **extra: Any) -> dict[str, Any]:
    return {"resourceType": "SearchParameter", "id": code, "url": f"http://example.org/SearchParameter/{code}",
            "name": code, "status": "active", "description": code, "code": code, "base": list(base),
            "type": kind, "expression": expression, **extra}


def nickname_parameter() -> dict[str, Any]:
    return search_parameter("nickname", f"Patient.extension.where(url = '{NICKNAME_URL}').value")


def patient(resource_id: str, nickname: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": resource_id,
            "extension": [{"url": NICKNAME_URL, "valueString": nickname}]}


def in_other_project(searcher: Searcher) -> Searcher:
    return Searcher(searcher.store, searcher.engine, AccessContext(uuid.uuid4(), "Practitioner/other"))


async def test_a_stored_search_parameter_makes_later_writes_searchable_by_it(searcher: Searcher) -> None:
    await searcher.put(nickname_parameter())
    await searcher.put(patient("ana", "Nana"), patient("bob", "Bobby"))
    assert await searcher.ids("Patient", "nickname=nan") == {"ana"}


async def test_resources_written_in_the_same_transaction_as_the_parameter_are_indexed_by_it(
    searcher: Searcher,
) -> None:
    await searcher.put(nickname_parameter(), patient("ana", "Nana"))
    assert await searcher.ids("Patient", "nickname=nan") == {"ana"}


async def test_a_refused_search_parameter_leaves_the_project_as_it_was(searcher: Searcher) -> None:
    with pytest.raises(FhirError):
        await searcher.put(nickname_parameter(), search_parameter("broken", "Patient.name.where("))
    await searcher.put(patient("ana", "Nana"))
    assert (await searcher.search("Patient", "nickname=nan")).ignored == ["nickname"]


async def test_a_custom_parameter_is_searchable_only_in_its_own_project(searcher: Searcher) -> None:
    other = in_other_project(searcher)
    await searcher.put(nickname_parameter())
    await other.put(patient("cy", "Nana"))
    result = await other.search("Patient", "nickname=nan")
    assert result.ignored == ["nickname"] and {s.id for s in result.resources} == {"cy"}
    with pytest.raises(FhirError):
        await other.search("Patient", "nickname=nan", strict=True)


async def test_a_token_parameter_with_a_compiled_expression_matches_codes(searcher: Searcher) -> None:
    await searcher.put(search_parameter("marital", "Patient.maritalStatus", kind="token"))
    await searcher.put({"resourceType": "Patient", "id": "ana", "maritalStatus": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]}},
        {"resourceType": "Patient", "id": "bob"})
    assert await searcher.ids("Patient", "marital=M") == {"ana"}


async def test_an_expression_beyond_the_compiler_is_interpreted(searcher: Searcher) -> None:
    await searcher.put(search_parameter("first-given", "Patient.name.given.first()"))
    await searcher.put({"resourceType": "Patient", "id": "ana", "name": [{"given": ["Ana", "Maria"]}]})
    assert await searcher.ids("Patient", "first-given=ana") == {"ana"}
    assert await searcher.ids("Patient", "first-given=maria") == set()


async def test_deleting_the_search_parameter_removes_it_from_search(searcher: Searcher) -> None:
    await searcher.put(nickname_parameter())
    await searcher.put(patient("ana", "Nana"))
    await searcher.delete("SearchParameter", "nickname")
    result = await searcher.search("Patient", "nickname=nan")
    assert result.ignored == ["nickname"]


async def test_a_retired_search_parameter_no_longer_applies(searcher: Searcher) -> None:
    await searcher.put(nickname_parameter())
    await searcher.put({**nickname_parameter(), "status": "retired"})
    assert (await searcher.search("Patient", "nickname=nan")).ignored == ["nickname"]


@pytest.mark.parametrize(("parameter", "status", "expression"), [
    (search_parameter("broken", "Patient.name.where("), 400, "SearchParameter.expression"),
    (search_parameter("elsewhere", "Observation.code", kind="token"), 400, "SearchParameter.expression"),
    (search_parameter("pair", "Patient.name", kind="composite"), 400, "SearchParameter.type"),
    (search_parameter("near-me", "Patient.address", kind="special"), 400, "SearchParameter.type"),
    (search_parameter("gender", "Patient.gender", kind="token"), 422, "SearchParameter.code"),
    (search_parameter("_secret", "Patient.gender", kind="token"), 400, "SearchParameter.code"),
    (search_parameter("nowhere", "Patient.gender", kind="token", base=("NotAType",)), 400,
     "SearchParameter.base[0]"),
])
async def test_a_search_parameter_that_cannot_apply_is_refused(
    searcher: Searcher, parameter: dict[str, Any], status: int, expression: str
) -> None:
    with pytest.raises(FhirError) as refused:
        await searcher.put(parameter)
    assert refused.value.http_status == status
    assert refused.value.issues[0].expression == expression
    assert await searcher.ids("SearchParameter", "") == set()


async def test_two_search_parameters_with_one_code_on_one_type_are_refused(searcher: Searcher) -> None:
    await searcher.put(nickname_parameter())
    with pytest.raises(FhirError) as refused:
        await searcher.put({**nickname_parameter(), "id": "nickname-again"})
    assert refused.value.http_status == 422


async def test_a_resource_wide_parameter_applies_to_every_type_it_has_a_path_on(searcher: Searcher) -> None:
    await searcher.put(search_parameter("lab-origin", "Resource.meta.source", kind="uri", base=("Resource",)))
    await searcher.put({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                        "meta": {"source": "http://lab.example.org"}})
    assert await searcher.ids("Observation", "lab-origin=http://lab.example.org") == {"o"}
