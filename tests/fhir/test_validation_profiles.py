"""Profiles: the spec's own, registered ones (with a snapshot or only a differential), slices,
fixed and pattern values, and profiles claimed in meta.profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fireside.fhir import FhirError, load_definitions
from fireside.fhir.validation import Validator

BODY_TEMPERATURE = "http://hl7.org/fhir/StructureDefinition/bodytemp"
PROFILE = "http://example.org/StructureDefinition/strict-patient"
RACE = "http://example.org/StructureDefinition/race"


def errors(validator: Validator, resource: dict[str, Any],
           profiles: tuple[str, ...] = ()) -> set[tuple[str, str | None]]:
    return {(issue.code, issue.expression) for issue in validator.validate(resource, profiles)
            if issue.severity == "error"}


def differential(url: str, base: str, resource_type: str, *elements: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "StructureDefinition", "url": url, "name": url.rsplit("/", 1)[-1], "status": "active",
            "kind": "resource" if resource_type != "Extension" else "complex-type", "abstract": False,
            "type": resource_type, "baseDefinition": base, "derivation": "constraint",
            "differential": {"element": list(elements)}}


@pytest.fixture(scope="module")
def validator() -> Validator:
    validator = Validator(load_definitions())
    validator.register_profile(differential(
        RACE, "http://hl7.org/fhir/StructureDefinition/Extension", "Extension",
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": RACE},
        {"id": "Extension.value[x]", "path": "Extension.value[x]", "type": [{"code": "Coding"}]},
    ))
    validator.register_profile(differential(
        PROFILE, "http://hl7.org/fhir/StructureDefinition/Patient", "Patient",
        {"id": "Patient.extension", "path": "Patient.extension",
         "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}},
        {"id": "Patient.extension:race", "path": "Patient.extension", "sliceName": "race", "min": 1, "max": "1",
         "type": [{"code": "Extension", "profile": [RACE]}]},
        {"id": "Patient.identifier", "path": "Patient.identifier", "min": 1},
        {"id": "Patient.identifier.system", "path": "Patient.identifier.system", "min": 1,
         "fixedUri": "http://example.org/mrn"},
        {"id": "Patient.name", "path": "Patient.name", "max": "1"},
        {"id": "Patient.maritalStatus", "path": "Patient.maritalStatus",
         "patternCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"}]}},
        {"id": "Patient.photo", "path": "Patient.photo", "max": "0"},
        {"id": "Patient.name.family", "path": "Patient.name.family", "maxLength": 20},
        {"id": "Patient.birthDate", "path": "Patient.birthDate", "minValueDate": "1900-01-01"},
    ))
    return validator


def conforming_patient(**changes: Any) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient", "meta": {"profile": [PROFILE]},
        "extension": [{"url": RACE, "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3"}}],
        "identifier": [{"system": "http://example.org/mrn", "value": "1"}],
        "name": [{"family": "Chalmers"}],
    }
    patient.update(changes)
    return {key: value for key, value in patient.items() if value is not None}


def test_a_resource_that_meets_its_registered_profile_is_valid(validator: Validator) -> None:
    assert validator.validate(conforming_patient()) == []


def test_a_profile_given_only_as_a_differential_constrains_cardinality(validator: Validator) -> None:
    assert errors(validator, conforming_patient(identifier=None)) == {("required", "Patient.identifier")}
    two_names = conforming_patient(name=[{"family": "A"}, {"family": "B"}])
    assert errors(validator, two_names) == {("structure", "Patient.name")}
    assert errors(validator, conforming_patient(photo=[{"url": "http://x/y.png"}])) == {
        ("structure", "Patient.photo")}


def test_profile_errors_name_the_profile(validator: Validator) -> None:
    issues = validator.validate(conforming_patient(identifier=None))
    assert [PROFILE in issue.diagnostics for issue in issues] == [True]


def test_fixed_values_must_match_exactly(validator: Validator) -> None:
    patient = conforming_patient(identifier=[{"system": "http://example.org/other", "value": "1"}])
    assert errors(validator, patient) == {("value", "Patient.identifier[0].system")}


def test_a_pattern_needs_only_what_it_states(validator: Validator) -> None:
    system = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
    married = {"coding": [{"system": system, "code": "M", "display": "Married"}], "text": "married"}
    assert errors(validator, conforming_patient(maritalStatus=married)) == set()
    other = {"coding": [{"system": "http://example.org/status", "code": "M"}]}
    assert errors(validator, conforming_patient(maritalStatus=other)) == {("value", "Patient.maritalStatus")}


def test_lengths_and_bounds_stated_by_the_profile_are_checked(validator: Validator) -> None:
    assert errors(validator, conforming_patient(name=[{"family": "X" * 21}])) == {("value", "Patient.name[0].family")}
    assert errors(validator, conforming_patient(birthDate="1899-12-31")) == {("value", "Patient.birthDate")}
    assert errors(validator, conforming_patient(birthDate="1980-01-01")) == set()


def test_a_required_extension_slice_is_matched_by_url(validator: Validator) -> None:
    assert errors(validator, conforming_patient(extension=None)) == {("required", "Patient.extension")}
    twice = conforming_patient()["extension"] * 2
    assert errors(validator, conforming_patient(extension=twice)) == {("structure", "Patient.extension")}


def test_an_extension_is_checked_against_its_definition(validator: Validator) -> None:
    wrong_type = [{"url": RACE, "valueString": "white"}]
    assert errors(validator, conforming_patient(extension=wrong_type)) == {
        ("structure", "Patient.extension[0].valueString")}


def test_known_extensions_are_checked_without_any_profile(validator: Validator) -> None:
    birth_place = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
    assert errors(validator, {"resourceType": "Patient", "extension": [{"url": birth_place, "valueAddress": {
        "city": "Utrecht"}}]}) == set()
    assert errors(validator, {"resourceType": "Patient", "extension": [{"url": birth_place, "valueString": "x"}]}) \
        == {("structure", "Patient.extension[0].valueString"), ("required", "Patient.extension[0].value[x]")}


def test_a_modifier_extension_must_be_in_modifier_extension(validator: Validator) -> None:
    modifier = {"url": "http://hl7.org/fhir/StructureDefinition/request-doNotPerform", "valueBoolean": True}
    request = {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "subject": {
        "reference": "Patient/1"}}
    assert errors(validator, {**request, "modifierExtension": [modifier]}) == set()
    assert errors(validator, {**request, "extension": [modifier]}) == {("structure", "ServiceRequest.extension[0]")}


def test_the_spec_profiles_check_their_slices(validator: Validator) -> None:
    temperature = {
        "resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/1"},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        "effectiveDateTime": "2020-01-01",
        "valueQuantity": {"value": 37.5, "unit": "C", "system": "http://unitsofmeasure.org", "code": "Cel"},
    }
    assert errors(validator, temperature, (BODY_TEMPERATURE,)) == set()
    weight = {**temperature, "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}}
    assert errors(validator, weight, (BODY_TEMPERATURE,)) == {("required", "Observation.code.coding")}


def test_a_profile_for_another_type_is_an_error(validator: Validator) -> None:
    issues = validator.validate({"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
                                [PROFILE])
    assert [(issue.code, issue.severity) for issue in issues] == [("invalid", "error")]


def test_an_unknown_requested_profile_is_an_error(validator: Validator) -> None:
    issues = validator.validate({"resourceType": "Patient"}, ["http://example.org/nothing"])
    assert [(issue.code, issue.severity) for issue in issues] == [("not-supported", "error")]


def test_a_profile_whose_base_is_unknown_cannot_be_registered(validator: Validator) -> None:
    with pytest.raises(FhirError):
        validator.register_profile(differential("http://example.org/x", "http://example.org/unknown", "Patient"))


def test_only_profiles_can_be_registered(validator: Validator) -> None:
    with pytest.raises(FhirError):
        validator.register_profile({"resourceType": "Patient", "url": "http://example.org/p"})


def test_the_us_core_examples_meet_their_us_core_profiles(shared_dir: Path) -> None:
    package = shared_dir / "us-core" / "7.0.0" / "package"
    validator = Validator(load_definitions())
    for path in sorted(package.glob("StructureDefinition-*.json")):
        validator.register_profile(json.loads(path.read_bytes()))
    for path in sorted((package / "example").glob("*.json")):
        example = json.loads(path.read_bytes())
        assert [i for i in validator.validate(example) if i.severity == "error"] == [], path.name


def test_a_profile_adds_its_own_invariants_and_skips_warnings() -> None:
    validator = Validator(load_definitions())
    validator.register_profile(differential(
        "http://example.org/StructureDefinition/named", "http://hl7.org/fhir/StructureDefinition/Patient", "Patient",
        {"id": "Patient", "path": "Patient", "constraint": [
            {"key": "named-1", "severity": "error", "human": "A name or an identifier",
             "expression": "name.exists() or identifier.exists()"},
            {"key": "named-2", "severity": "warning", "human": "A birth date", "expression": "birthDate.exists()"},
        ]},
    ))
    patient = {"resourceType": "Patient", "meta": {"profile": ["http://example.org/StructureDefinition/named"]}}
    issues = validator.validate(patient)
    assert [(issue.code, issue.diagnostics.split(":")[0], issue.expression) for issue in issues] == [
        ("invariant", "named-1", "Patient")]
    assert validator.validate({**patient, "name": [{"family": "X"}]}) == []
