"""The spec's FHIRPath invariants, native and interpreted."""

from __future__ import annotations

import pytest

from fireside.fhir import load_definitions
from fireside.fhir.validation import Validator

OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(load_definitions())


def keys(validator: Validator, resource: dict[str, object]) -> set[tuple[str, str | None]]:
    return {(issue.diagnostics.split(":")[0], issue.expression) for issue in validator.validate(resource)
            if issue.code == "invariant"}


def test_an_extension_needs_a_value_or_nested_extensions(validator: Validator) -> None:
    assert keys(validator, {"resourceType": "Patient", "extension": [{"url": "http://x"}]}) == {
        ("ext-1", "Patient.extension[0]")}
    assert keys(validator, {"resourceType": "Patient", "extension": [{"url": "http://x", "valueBoolean": True}]}) \
        == set()


def test_data_absent_reason_excludes_a_value(validator: Validator) -> None:
    found = keys(validator, {**OBSERVATION, "valueString": "a", "dataAbsentReason": {"text": "n/a"}})
    assert found == {("obs-6", "Observation")}


def test_a_period_may_not_end_before_it_starts(validator: Validator) -> None:
    found = keys(validator, {**OBSERVATION, "effectivePeriod": {"start": "2020-02-01", "end": "2020-01-01"}})
    assert found == {("per-1", "Observation.effectivePeriod")}


def test_contained_resources_must_be_referenced(validator: Validator) -> None:
    unreferenced = {"resourceType": "Patient", "contained": [{"resourceType": "Practitioner", "id": "p"}]}
    assert keys(validator, unreferenced) == {("dom-3", "Patient")}
    referenced = {**unreferenced, "generalPractitioner": [{"reference": "#p"}]}
    assert keys(validator, referenced) == set()


def test_local_references_must_resolve_to_a_contained_resource(validator: Validator) -> None:
    found = keys(validator, {"resourceType": "Patient", "generalPractitioner": [{"reference": "#nowhere"}]})
    assert found == {("ref-1", "Patient.generalPractitioner[0]")}


def test_a_coded_quantity_needs_a_system(validator: Validator) -> None:
    found = keys(validator, {**OBSERVATION, "valueQuantity": {"value": 1, "code": "mg"}})
    assert found == {("qty-3", "Observation.valueQuantity")}


def test_invariants_are_skipped_when_the_structure_is_already_wrong(validator: Validator) -> None:
    issues = validator.validate({**OBSERVATION, "valueString": "a", "dataAbsentReason": {"text": "n/a"}, "bad": 1})
    assert {issue.code for issue in issues} == {"structure"}


HEART_RATE = "http://hl7.org/fhir/StructureDefinition/heartrate"


def test_a_resource_is_checked_against_the_loaded_profiles_it_claims(validator: Validator) -> None:
    observation = {**OBSERVATION, "meta": {"profile": [HEART_RATE]}}
    issues = validator.validate(observation)
    paths = {issue.expression for issue in issues if issue.severity == "error"}
    assert "Observation.subject" in paths and "Observation.category" in paths
    assert all("heartrate" in issue.diagnostics for issue in issues if issue.severity == "error")


def test_a_conforming_resource_passes_its_profile(validator: Validator) -> None:
    observation = {
        "resourceType": "Observation", "status": "final", "meta": {"profile": [HEART_RATE]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/1"}, "effectiveDateTime": "2020-01-01",
        "valueQuantity": {"value": 60, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }
    assert [i for i in validator.validate(observation) if i.severity == "error"] == []


def test_an_unknown_profile_is_reported_but_not_an_error(validator: Validator) -> None:
    issues = validator.validate({**OBSERVATION, "meta": {"profile": ["http://example.org/nothing"]}})
    assert [(i.severity, i.code) for i in issues] == [("information", "not-supported")]


def test_validate_operation_checks_the_requested_profile(validator: Validator) -> None:
    issues = validator.validate(OBSERVATION, profiles=[HEART_RATE])
    assert any(i.severity == "error" for i in issues)


def test_invariants_that_trace_print_nothing(validator: Validator, capsys: pytest.CaptureFixture[str]) -> None:
    # que-1 calls trace(); fhirpathpy would print the traced content (PHI) to stdout.
    questionnaire = {"resourceType": "Questionnaire", "status": "draft",
                     "item": [{"linkId": "1", "type": "display", "text": "Secret Patient Name"}]}
    validator.validate(questionnaire)
    assert capsys.readouterr().out == ""


def narrative(div: str) -> dict[str, object]:
    return {"resourceType": "Patient", "text": {"status": "generated", "div": div}}


def test_a_plain_narrative_is_valid(validator: Validator) -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Peter <b>Chalmers</b></p><a href="#x">x</a></div>'
    assert validator.validate(narrative(div)) == []


def test_scripts_and_event_handlers_in_narratives_are_refused(validator: Validator) -> None:
    for div in ('<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>x</div>',
                '<div xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="alert(1)"/>x</div>',
                '<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:alert(1)">x</a></div>'):
        assert keys(validator, narrative(div)) == {("txt-1", "Patient.text.div")}, div


def test_a_narrative_needs_the_xhtml_div_and_content(validator: Validator) -> None:
    assert ("txt-1", "Patient.text.div") in keys(validator, narrative("<p>x</p>"))
    assert keys(validator, narrative('<div xmlns="http://www.w3.org/1999/xhtml">  </div>')) == {
        ("txt-2", "Patient.text.div")}


def test_invariants_see_the_resource_as_percent_resource(validator: Validator) -> None:
    code = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
    observation = {**OBSERVATION, "code": code, "valueString": "x", "component": [{"code": code}]}
    assert keys(validator, observation) == {("obs-7", "Observation")}
