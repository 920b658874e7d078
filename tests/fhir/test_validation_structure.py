"""Structural validation against the R4 StructureDefinitions, with element paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fireside.fhir import load_definitions
from fireside.fhir.validation import Validator


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(load_definitions())


def problems(validator: Validator, resource: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(issue.code, issue.expression) for issue in validator.validate(resource)}


def test_a_minimal_patient_is_valid(validator: Validator) -> None:
    assert validator.validate({"resourceType": "Patient"}) == []


def test_unknown_elements_are_reported_with_their_path(validator: Validator) -> None:
    found = problems(validator, {"resourceType": "Patient", "name": [{"family": "X", "nickname": "Y"}], "shoe": 1})
    assert found == {("structure", "Patient.name[0].nickname"), ("structure", "Patient.shoe")}


def test_empty_strings_in_arrays_are_reported_with_their_index(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "Patient", "name": [{"given": ["a", ""]}]}) == {
        ("value", "Patient.name[0].given[1]")}


def test_primitive_formats_follow_the_spec_regexes(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "Patient", "birthDate": "2020-13-01"}) == {
        ("value", "Patient.birthDate")}
    assert problems(validator, {"resourceType": "Patient", "birthDate": "2020-02"}) == set()
    assert problems(validator, {"resourceType": "Patient", "active": "true"}) == {("value", "Patient.active")}
    assert problems(validator, {"resourceType": "Patient", "multipleBirthInteger": 2**40}) == {
        ("value", "Patient.multipleBirthInteger")}


def test_cardinality_single_versus_array(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "Patient", "gender": ["male"]}) == {("structure", "Patient.gender")}
    assert problems(validator, {"resourceType": "Patient", "name": {"family": "X"}}) == {("structure", "Patient.name")}


def test_required_elements_must_be_present(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "Observation", "code": {"text": "x"}}) == {
        ("required", "Observation.status")}


def test_only_one_choice_type_may_be_present(validator: Validator) -> None:
    found = problems(validator, {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                 "valueString": "a", "valueBoolean": True})
    assert found == {("structure", "Observation.valueBoolean")}


def test_choice_types_must_be_allowed_ones(validator: Validator) -> None:
    found = problems(validator, {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                 "valueHumanName": {"family": "X"}})
    assert found == {("structure", "Observation.valueHumanName")}


def test_reference_targets_and_formats_are_checked(validator: Validator) -> None:
    base = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    assert problems(validator, {**base, "subject": {"reference": "Medication/1"}}) == {
        ("value", "Observation.subject.reference")}
    assert problems(validator, {**base, "subject": {"reference": "not a reference"}}) == {
        ("value", "Observation.subject.reference")}
    assert problems(validator, {**base, "subject": {"reference": "Patient/1/_history/2"}}) == set()
    assert problems(validator, {**base, "subject": {"reference": "https://example.org/fhir/Patient/1"}}) == set()


def test_contained_resources_are_validated_in_place(validator: Validator) -> None:
    found = problems(validator, {"resourceType": "Patient", "contained": [{"resourceType": "Practitioner",
                                                                            "bad": 1}]})
    assert found == {("structure", "Patient.contained[0].bad")}


def test_recursive_elements_follow_their_content_reference(validator: Validator) -> None:
    found = problems(validator, {"resourceType": "Questionnaire", "status": "draft", "item": [
        {"linkId": "1", "type": "group", "item": [{"linkId": "2", "type": "string", "bogus": 1}]}]})
    assert found == {("structure", "Questionnaire.item[0].item[0].bogus")}


def test_primitive_extensions_are_elements(validator: Validator) -> None:
    ok = {"resourceType": "Patient", "_birthDate": {"extension": [{"url": "http://x", "valueString": "y"}]}}
    assert problems(validator, ok) == set()
    with_null = {"resourceType": "Patient", "name": [{"given": [None, "b"],
                                                      "_given": [{"id": "g1"}, None]}]}
    assert problems(validator, with_null) == set()
    assert problems(validator, {"resourceType": "Patient", "_nothing": {}}) == {("structure", "Patient._nothing")}


def test_bundle_entries_are_validated_as_resources(validator: Validator) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Patient", "birthDate": "yesterday"}}]}
    assert problems(validator, bundle) == {("value", "Bundle.entry[0].resource.birthDate")}


def test_every_sample_resource_is_valid(validator: Validator, shared_dir: Path) -> None:
    for path in sorted((shared_dir / "data" / "bundles").glob("*.json")):
        for entry in json.loads(path.read_bytes())["entry"]:
            assert validator.validate(entry["resource"]) == [], path.name


def test_codes_with_a_required_binding_must_come_from_the_value_set(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "Patient", "gender": "robot"}) == {("code-invalid", "Patient.gender")}
    assert problems(validator, {"resourceType": "Patient", "gender": "unknown"}) == set()


def test_codeable_concepts_with_a_required_binding_need_one_coding_from_it(validator: Validator) -> None:
    base = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"}}
    system = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
    good = {**base, "clinicalStatus": {"coding": [{"system": system, "code": "active"}]}}
    bad = {**base, "clinicalStatus": {"coding": [{"system": system, "code": "sleepy"}]}}
    assert problems(validator, good) == set()
    assert problems(validator, bad) == {("code-invalid", "AllergyIntolerance.clinicalStatus")}
