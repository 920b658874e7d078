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
