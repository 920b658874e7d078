"""Primitive values, JSON shapes, references and required bindings, each issue at its path."""

from __future__ import annotations

from typing import Any

import pytest

from fireside.fhir import load_definitions
from fireside.fhir.validation import Validator

OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(load_definitions())


def problems(validator: Validator, resource: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(issue.code, issue.expression) for issue in validator.validate(resource) if issue.severity == "error"}


@pytest.mark.parametrize(("element", "value"), [
    ("birthDate", "2020-02-30"), ("birthDate", "2020-1-01"), ("birthDate", "20200101"), ("birthDate", 2020),
    ("active", "true"), ("active", 1), ("multipleBirthInteger", 2**31), ("multipleBirthInteger", 1.5),
    ("deceasedDateTime", "2020-01-01T10:00"), ("deceasedDateTime", "2020-01-01T25:00:00Z"), ("gender", ""),
    ("id", "a" * 65), ("id", "has space"), ("language", " en"), ("implicitRules", "has space"),
])
def test_a_malformed_primitive_is_reported_at_its_path(validator: Validator, element: str, value: Any) -> None:
    assert problems(validator, {"resourceType": "Patient", element: value}) == {("value", f"Patient.{element}")}


@pytest.mark.parametrize(("element", "value"), [
    ("birthDate", "2020"), ("birthDate", "2020-02"), ("birthDate", "2020-02-29"),
    ("deceasedDateTime", "2020-01-01T10:00:00.123+05:30"), ("multipleBirthInteger", -(2**31)),
    ("id", "A-1.b"), ("active", False),
])
def test_a_well_formed_primitive_is_accepted(validator: Validator, element: str, value: Any) -> None:
    assert problems(validator, {"resourceType": "Patient", element: value}) == set()


def test_numbers_follow_the_range_of_their_type(validator: Validator) -> None:
    sampled = {"origin": {"value": 0}, "period": 1, "dimensions": 0, "data": "1 2"}
    assert problems(validator, {**OBSERVATION, "valueSampledData": sampled}) == {
        ("value", "Observation.valueSampledData.dimensions")}
    assert problems(validator, {**OBSERVATION, "valueQuantity": {"value": "1"}}) == {
        ("value", "Observation.valueQuantity.value")}


def test_a_no_break_space_is_allowed_in_a_string_as_the_spec_regex_means(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "Patient", "name": [{"text": "Zoë\u00a0Smith"}]}) == set()


def test_an_abstract_or_unknown_resource_type_is_refused(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "DomainResource"}) == {("invalid", "resourceType")}
    assert problems(validator, {"resourceType": "Patients"}) == {("invalid", "resourceType")}
    assert problems(validator, {"name": []}) == {("invalid", "resourceType")}


def test_empty_objects_arrays_and_nulls_are_refused(validator: Validator) -> None:
    assert problems(validator, {"resourceType": "Patient", "name": []}) == {("structure", "Patient.name")}
    assert problems(validator, {"resourceType": "Patient", "maritalStatus": {}}) == {
        ("structure", "Patient.maritalStatus")}
    assert problems(validator, {"resourceType": "Patient", "maritalStatus": {"id": "x"}}) == {
        ("structure", "Patient.maritalStatus")}
    assert problems(validator, {"resourceType": "Patient", "gender": None}) == {("structure", "Patient.gender")}
    assert problems(validator, {"resourceType": "Patient", "name": [{"given": ["a", None]}]}) == {
        ("structure", "Patient.name[0].given[1]")}


def test_primitive_extensions_pair_with_their_values(validator: Validator) -> None:
    extension = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    assert problems(validator, {"resourceType": "Patient", "name": [{"given": ["a", None],
                                                                      "_given": [None, extension]}]}) == set()
    assert problems(validator, {"resourceType": "Patient", "name": [{"given": ["a", "b"],
                                                                      "_given": [extension]}]}) == {
        ("structure", "Patient.name[0]._given")}
    assert problems(validator, {"resourceType": "Patient", "_birthDate": {"extension": [{"url": "http://x"}]}}) == {
        ("invariant", "Patient.birthDate.extension[0]")}
    assert problems(validator, {"resourceType": "Patient", "_birthDate": {"colour": "red"}}) == {
        ("structure", "Patient.birthDate.colour")}


def test_a_required_element_may_be_present_only_as_an_extension(validator: Validator) -> None:
    absent = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                             "valueCode": "unknown"}]}
    assert problems(validator, {"resourceType": "Observation", "_status": absent, "code": {"text": "x"}}) == set()


def test_a_choice_type_not_allowed_names_the_allowed_ones(validator: Validator) -> None:
    issues = validator.validate({**OBSERVATION, "valueHumanName": {"family": "X"}})
    assert [(issue.expression, "valueQuantity" in issue.diagnostics) for issue in issues] == [
        ("Observation.valueHumanName", True)]


def test_references_may_be_conditional_absolute_or_urns(validator: Validator) -> None:
    for reference in ("Patient?identifier=http://x|1", "urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7",
                      "urn:oid:1.2.3", "https://example.org/fhir/Patient/1/_history/2", "#p"):
        subject = {"subject": {"reference": reference}}
        contained = {"contained": [{"resourceType": "Patient", "id": "p"}]} if reference == "#p" else {}
        assert problems(validator, {**OBSERVATION, **subject, **contained}) == set(), reference


def test_an_absolute_reference_names_an_allowed_type(validator: Validator) -> None:
    observation = {**OBSERVATION, "subject": {"reference": "https://example.org/fhir/Medication/1"}}
    assert problems(validator, observation) == {("value", "Observation.subject.reference")}


def test_a_reference_to_a_profile_allows_that_profile_type(validator: Validator) -> None:
    assert problems(validator, {**OBSERVATION, "hasMember": [{"reference": "Observation/2"}]}) == set()


def test_local_references_resolve_in_the_resource_that_contains_them(validator: Validator) -> None:
    payer = {"resourceType": "Organization", "id": "payer", "name": "Payer"}
    coverage = {"resourceType": "Coverage", "status": "active", "beneficiary": {"reference": "Patient/1"},
                "payor": [{"reference": "#payer"}], "contained": [payer]}
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "coverage", "resource": coverage}]}
    assert problems(validator, parameters) == set()


def test_contained_resources_referenced_by_canonical_are_referenced(validator: Validator) -> None:
    value_set = {"resourceType": "ValueSet", "id": "vs", "status": "active"}
    questionnaire = {"resourceType": "Questionnaire", "status": "active", "contained": [value_set], "item": [
        {"linkId": "1", "type": "choice", "answerValueSet": "#vs"}]}
    assert problems(validator, questionnaire) == set()


def test_a_coding_with_a_required_binding_must_be_in_the_value_set(validator: Validator) -> None:
    event = {"resourceType": "MessageHeader", "source": {"endpoint": "http://x"},
             "eventCoding": {"system": "http://example.org", "code": "x"}}
    assert problems(validator, event) == set()  # an example binding is not checked
    header = {"resourceType": "Questionnaire", "status": "active", "item": [{"linkId": "1", "type": "string",
                                                                            "enableWhen": [{"question": "q",
                                                                                            "operator": "~",
                                                                                            "answerBoolean": True}]}]}
    assert problems(validator, header) == {("code-invalid", "Questionnaire.item[0].enableWhen[0].operator")}


def test_value_sets_over_external_systems_are_not_checked(validator: Validator) -> None:
    attachment = {"contentType": "application/x-anything", "data": "aGVsbG8="}
    assert problems(validator, {"resourceType": "DocumentReference", "status": "current",
                                "content": [{"attachment": attachment}]}) == set()


def test_narratives_must_be_well_formed_xhtml(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "text": {"status": "generated",
                                                    "div": '<div xmlns="http://www.w3.org/1999/xhtml">&reg;</div>'}}
    assert problems(validator, patient) == {("invariant", "Patient.text.div")}


def test_hostile_nesting_is_refused_rather_than_exhausting_the_stack(validator: Validator) -> None:
    item: dict[str, Any] = {"linkId": "leaf", "type": "string"}
    for depth in range(400):
        item = {"linkId": str(depth), "type": "group", "item": [item]}
    issues = validator.validate({"resourceType": "Questionnaire", "status": "active", "item": [item]})
    assert [issue.code for issue in issues] == ["too-costly"]


def test_narratives_may_not_declare_entities(validator: Validator) -> None:
    div = '<!DOCTYPE div [<!ENTITY a "aaaa">]><div xmlns="http://www.w3.org/1999/xhtml">&a;</div>'
    patient = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    assert problems(validator, patient) == {("invariant", "Patient.text.div")}
