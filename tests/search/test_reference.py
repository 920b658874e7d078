"""Reference search: Type/id, id, :Type, absolute URLs, canonicals, and derived parameters."""

from __future__ import annotations

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def observations(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Observation", "id": "p1", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Patient/1"}},
        {"resourceType": "Observation", "id": "g1", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Group/1"}},
        {"resourceType": "Observation", "id": "h1", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Patient/1/_history/3"}},
        {"resourceType": "Observation", "id": "far", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "https://other.example/fhir/Patient/1"}},
        {"resourceType": "Observation", "id": "mine", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Patient/2"}},
    )


async def test_type_and_id_match_that_target_whatever_version_it_names(searcher: Searcher) -> None:
    await observations(searcher)
    assert await searcher.ids("Observation", "subject=Patient/1") == {"p1", "h1"}


async def test_a_bare_id_matches_any_target_type(searcher: Searcher) -> None:
    await observations(searcher)
    assert await searcher.ids("Observation", "subject=1") == {"p1", "g1", "h1"}


async def test_a_type_modifier_restricts_a_bare_id(searcher: Searcher) -> None:
    await observations(searcher)
    assert await searcher.ids("Observation", "subject:Group=1") == {"g1"}


async def test_a_type_modifier_that_contradicts_the_reference_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Observation", "subject:Group=Patient/1")
    assert raised.value.issues[0].code == "invalid" and "subject:Group" in raised.value.issues[0].diagnostics


async def test_an_absolute_url_matches_only_that_url(searcher: Searcher) -> None:
    await observations(searcher)
    assert await searcher.ids("Observation", "subject=https://other.example/fhir/Patient/1") == {"far"}
    assert await searcher.ids("Observation", "patient=https://other.example/fhir/Patient/1") == {"far"}


async def test_an_absolute_url_to_this_server_is_the_local_reference(searcher: Searcher) -> None:
    await observations(searcher)
    found = await searcher.ids("Observation", "subject=https://fireside.example/fhir/R4/Patient/2",
                               base_url="https://fireside.example/fhir/R4")
    assert found == {"mine"}


async def test_patient_is_subject_restricted_to_patients(searcher: Searcher) -> None:
    await observations(searcher)
    assert await searcher.ids("Observation", "patient=1") == {"p1", "h1"}
    assert await searcher.ids("Observation", "patient=Patient/2") == {"mine"}
    assert await searcher.ids("Observation", "patient=Group/1") == set()


async def test_repeated_reference_and_token_criteria_must_all_hold(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Observation", "id": "hr", "status": "final", "subject": {"reference": "Patient/1"},
         "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}},
        {"resourceType": "Observation", "id": "bp", "status": "final", "subject": {"reference": "Patient/1"},
         "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}},
        {"resourceType": "Observation", "id": "other", "status": "final", "subject": {"reference": "Patient/9"},
         "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}},
    )
    found = await searcher.ids("Observation", "subject=Patient/1&code=http://loinc.org|8867-4")
    assert found == {"hr"}


async def test_encounter_practitioner_is_derived_from_participant_individuals(searcher: Searcher) -> None:
    await searcher.put({
        "resourceType": "Encounter", "id": "e1", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "participant": [{"individual": {"reference": "Practitioner/7"}},
                        {"individual": {"reference": "RelatedPerson/8"}}],
    })
    assert await searcher.ids("Encounter", "practitioner=7") == {"e1"}
    assert await searcher.ids("Encounter", "practitioner=8") == set()
    assert await searcher.ids("Encounter", "participant=RelatedPerson/8") == {"e1"}


async def test_canonical_references_match_the_url_with_or_without_version(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "QuestionnaireResponse", "id": "qr1", "status": "completed",
         "questionnaire": "http://forms.example/Questionnaire/phq9|2.0"},
        {"resourceType": "QuestionnaireResponse", "id": "qr2", "status": "completed",
         "questionnaire": "http://forms.example/Questionnaire/phq9|1.0"},
    )
    url = "http://forms.example/Questionnaire/phq9"
    assert await searcher.ids("QuestionnaireResponse", f"questionnaire={url}") == {"qr1", "qr2"}
    assert await searcher.ids("QuestionnaireResponse", f"questionnaire={url}|2.0") == {"qr1"}
