""":missing, and how criteria combine: comma OR within a parameter, AND across parameters."""

from __future__ import annotations

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def patients(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "ana", "gender": "female", "birthDate": "1980-05-17", "active": True},
        {"resourceType": "Patient", "id": "bob", "gender": "male", "birthDate": "1990"},
        {"resourceType": "Patient", "id": "cy", "name": [{"family": "Chen"}]},
    )


async def test_missing_true_matches_resources_without_a_value(searcher: Searcher) -> None:
    await patients(searcher)
    assert await searcher.ids("Patient", "active:missing=true") == {"bob", "cy"}
    assert await searcher.ids("Patient", "birthdate:missing=true") == {"cy"}
    assert await searcher.ids("Patient", "name:missing=true") == {"ana", "bob"}


async def test_missing_false_matches_resources_with_a_value(searcher: Searcher) -> None:
    await patients(searcher)
    assert await searcher.ids("Patient", "active:missing=false") == {"ana"}
    assert await searcher.ids("Patient", "birthdate:missing=false") == {"ana", "bob"}


async def test_missing_takes_only_true_or_false(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Patient", "active:missing=maybe")
    assert raised.value.issues[0].code == "invalid" and "active:missing" in raised.value.issues[0].diagnostics


async def test_missing_works_on_derived_parameters(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Observation", "id": "mine", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Patient/1"}},
        {"resourceType": "Observation", "id": "group", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Group/1"}},
    )
    assert await searcher.ids("Observation", "patient:missing=true") == {"group"}
    assert await searcher.ids("Observation", "patient:missing=false") == {"mine"}


async def test_commas_are_or_and_repeated_parameters_are_and(searcher: Searcher) -> None:
    await patients(searcher)
    assert await searcher.ids("Patient", "gender=female,male&birthdate=1990") == {"bob"}
    assert await searcher.ids("Patient", "birthdate=ge1980&birthdate=lt1985") == {"ana"}
    assert await searcher.ids("Patient", "birthdate=1980,1990") == {"ana", "bob"}


async def test_a_deleted_resource_is_no_longer_found(searcher: Searcher) -> None:
    await patients(searcher)
    await searcher.delete("Patient", "ana")
    assert await searcher.ids("Patient", "gender=female") == set()
    assert await searcher.ids("Patient", "active:missing=true") == {"bob", "cy"}
    assert await searcher.ids("Patient", "") == {"bob", "cy"}


async def test_an_updated_resource_is_found_by_its_new_values_only(searcher: Searcher) -> None:
    await patients(searcher)
    await searcher.put({"resourceType": "Patient", "id": "ana", "gender": "other"})
    assert await searcher.ids("Patient", "gender=female") == set()
    assert await searcher.ids("Patient", "gender=other") == {"ana"}
    assert await searcher.ids("Patient", "birthdate=1980") == set()
