"""Chained search (https://hl7.org/fhir/R4/search.html#chaining) and the :identifier modifier."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fireside.fhir import FhirError
from fireside.store import AccessContext
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


def patient(resource_id: str, family: str, given: str = "", **extra: Any) -> dict[str, Any]:
    name: dict[str, Any] = {"family": family}
    if given:
        name["given"] = [given]
    return {"resourceType": "Patient", "id": resource_id, "name": [name], **extra}


def observation(resource_id: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": resource_id, "status": "final", "code": {"text": "x"},
            "subject": {"reference": subject}, **extra}


async def people(searcher: Searcher) -> None:
    await searcher.put(
        patient("peter", "Chalmers", "Peter"),
        patient("paul", "Chalmers", "Paul"),
        patient("zoe", "Zoë", "Ångström"),
        {"resourceType": "Location", "id": "peterhouse", "name": "Peterhouse"},
        observation("o-peter", "Patient/peter"),
        observation("o-paul", "Patient/paul"),
        observation("o-zoe", "Patient/zoe"),
        observation("o-place", "Location/peterhouse"),
        observation("o-none", "Patient/nobody"),
    )


async def test_a_typed_chain_matches_through_the_reference(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Observation", "subject:Patient.name=peter") == {"o-peter"}


async def test_an_untyped_chain_follows_every_target_type_that_has_the_parameter(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Observation", "subject.name=peter") == {"o-peter", "o-place"}


async def test_a_chain_through_a_derived_reference_keeps_its_target_type(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Observation", "patient.name=peter") == {"o-peter"}


async def test_comma_alternatives_in_a_chain_are_any_of(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Observation", "subject:Patient.name=peter,paul") == {"o-peter", "o-paul"}


async def test_repeated_chained_parameters_must_all_hold(searcher: Searcher) -> None:
    await people(searcher)
    found = await searcher.ids("Observation", "subject:Patient.name=chalmers&subject:Patient.given=paul")
    assert found == {"o-paul"}


async def test_a_modifier_on_the_last_link_applies_to_its_parameter(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Observation", "subject:Patient.name:exact=Peter") == {"o-peter"}
    assert await searcher.ids("Observation", "subject:Patient.name:exact=peter") == set()
    assert await searcher.ids("Observation", "subject:Patient.family:contains=lmer") == {"o-peter", "o-paul"}


async def test_unicode_names_match_without_case_or_accents(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Observation", "subject:Patient.name=zoe") == {"o-zoe"}
    assert await searcher.ids("Observation", "subject:Patient.given=ångs") == {"o-zoe"}


async def test_a_chain_ending_in_a_resource_column_reads_the_target_resource(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Observation", "subject:Patient._id=paul") == {"o-paul"}
    assert await searcher.ids("Observation", "subject:Patient.gender:missing=true") == {"o-peter", "o-paul", "o-zoe"}


async def test_a_chain_to_a_deleted_target_does_not_match(searcher: Searcher) -> None:
    await people(searcher)
    await searcher.delete("Patient", "peter")
    assert await searcher.ids("Observation", "subject:Patient.name=peter") == set()
    assert await searcher.ids("Observation", "subject:Patient._id=peter") == set()


async def test_a_chain_never_reaches_another_projects_resources(searcher: Searcher) -> None:
    await searcher.put(observation("mine", "Patient/shared"))
    other = Searcher(searcher.store, searcher.engine, AccessContext(uuid.uuid4(), "Practitioner/other"))
    await other.put(patient("shared", "Chalmers", "Peter"), observation("theirs", "Patient/shared"))
    assert await searcher.ids("Observation", "subject:Patient.name=peter") == set()
    assert await searcher.ids("Observation", "subject:Patient._id=shared") == set()
    assert await other.ids("Observation", "subject:Patient.name=peter") == {"theirs"}


async def test_chains_nest_to_any_depth(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Organization", "id": "acme", "name": "Acme Hospital"},
        {"resourceType": "Organization", "id": "other", "name": "Other Clinic"},
        patient("p1", "One", managingOrganization={"reference": "Organization/acme"}),
        patient("p2", "Two", managingOrganization={"reference": "Organization/other"}),
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/p1"}},
        {"resourceType": "Encounter", "id": "e2", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/p2"}},
    )
    assert await searcher.ids("Encounter", "subject.organization.name=acme") == {"e1"}
    query = "subject:Patient.organization:Organization.name:exact=Other Clinic"
    assert await searcher.ids("Encounter", query) == {"e2"}


async def test_a_chain_ends_in_an_identifier_token(searcher: Searcher) -> None:
    await searcher.put(
        patient("p1", "One", identifier=[{"system": "http://x", "value": "1"}]),
        patient("p2", "Two", identifier=[{"system": "http://x", "value": "2"}]),
        observation("o1", "Patient/p1"),
        observation("o2", "Patient/p2"),
        {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "code": {"text": "x"},
         "result": [{"reference": "Observation/o1"}]},
        {"resourceType": "DiagnosticReport", "id": "r2", "status": "final", "code": {"text": "x"},
         "result": [{"reference": "Observation/o2"}]},
    )
    assert await searcher.ids("DiagnosticReport", "result.subject.identifier=http://x|1") == {"r1"}


async def test_a_chain_result_pages_and_counts(searcher: Searcher) -> None:
    await people(searcher)
    result = await searcher.search("Observation", "subject.name=p&_count=1&_total=accurate")
    assert result.total == 3 and len(result.resources) == 1 and result.next_cursor is not None


async def test_a_chain_through_a_non_reference_parameter_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Observation", "code.name=x")
    issue = raised.value.issues[0]
    assert issue.code == "invalid" and "code.name" in issue.diagnostics and "not a reference" in issue.diagnostics


async def test_a_chain_to_a_parameter_no_target_type_has_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Observation", "subject.nonsense=x")
    assert raised.value.issues[0].code == "invalid" and "nonsense" in raised.value.issues[0].diagnostics


async def test_a_type_modifier_that_is_not_a_target_of_the_link_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Observation", "subject:Organization.name=x")
    assert raised.value.issues[0].code == "invalid" and ":Organization" in raised.value.issues[0].diagnostics


async def test_a_chain_from_an_unknown_parameter_is_ignored_and_reported(searcher: Searcher) -> None:
    await people(searcher)
    result = await searcher.search("Observation", "nonsense.name=x")
    assert len(result.resources) == 5 and result.ignored == ["nonsense.name"]
    with pytest.raises(FhirError):
        await searcher.search("Observation", "nonsense.name=x", strict=True)


async def test_a_bad_modifier_on_the_last_link_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Observation", "subject:Patient.name:above=x")
    issue = raised.value.issues[0]
    assert issue.code == "invalid" and "subject:Patient.name:above" in issue.diagnostics


async def test_identifier_modifier_matches_the_reference_identifier(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Observation", "id": "logical", "status": "final", "code": {"text": "x"},
         "subject": {"identifier": {"system": "http://x", "value": "123"}}},
        {"resourceType": "Observation", "id": "both", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Patient/9", "identifier": {"system": "http://x", "value": "123"}}},
        {"resourceType": "Observation", "id": "other", "status": "final", "code": {"text": "x"},
         "subject": {"identifier": {"system": "http://y", "value": "123"}}},
        {"resourceType": "Observation", "id": "group", "status": "final", "code": {"text": "x"},
         "subject": {"type": "Group", "identifier": {"system": "http://x", "value": "123"}}},
    )
    assert await searcher.ids("Observation", "subject:identifier=http://x|123") == {"logical", "both", "group"}
    assert await searcher.ids("Observation", "subject:identifier=123") == {"logical", "both", "other", "group"}
    assert await searcher.ids("Observation", "subject:identifier=http://y|") == {"other"}
    assert await searcher.ids("Observation", "patient:identifier=http://x|123") == {"logical", "both"}
    assert await searcher.ids("Observation", "subject=Patient/9") == {"both"}


async def test_identifier_rows_follow_updates(searcher: Searcher) -> None:
    first = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
             "subject": {"identifier": {"system": "http://x", "value": "1"}}}
    await searcher.put(first)
    await searcher.put({**first, "subject": {"identifier": {"system": "http://x", "value": "2"}}})
    assert await searcher.ids("Observation", "subject:identifier=http://x|1") == set()
    assert await searcher.ids("Observation", "subject:identifier=http://x|2") == {"o"}


async def test_an_untyped_chain_that_no_target_type_can_follow_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Observation", "subject.identifier.name=x")
    issue = raised.value.issues[0]
    assert issue.code == "invalid" and "subject.identifier.name" in issue.diagnostics
    assert "not a reference" in issue.diagnostics
