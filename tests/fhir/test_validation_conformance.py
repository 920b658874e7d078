"""The HL7 validator test cases (R4, JSON) on which our verdict, valid or invalid, agrees with the
Java reference validator's. `conformance.json` lists them, and the known disagreements with
their reasons; `python -m tests.fhir.conformance --write` regenerates it."""

from __future__ import annotations

import json

import pytest

from fireside.fhir import load_definitions
from fireside.fhir.validation import Validator
from tests.fhir.conformance import CASES, EXPECTATIONS, Case, r4_json_cases, run, verdict

AGREEING = json.loads(EXPECTATIONS.read_bytes())["agree"]


@pytest.fixture(scope="module")
def cases() -> dict[str, Case]:
    if not CASES.exists():
        pytest.skip("the HL7 validator test cases (../shared/fhir-validator-tests) are not present")
    return {case.name: case for case in r4_json_cases()}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(load_definitions())


@pytest.mark.parametrize("name", AGREEING)
def test_our_verdict_agrees_with_the_reference_validator(name: str, cases: dict[str, Case],
                                                         validator: Validator) -> None:
    case = cases[name]
    expected = case.expected_errors
    assert expected is not None
    issues = run(case, validator)
    assert verdict(issues) == (expected > 0), [issue.to_json() for issue in issues or []]


def test_the_known_disagreements_each_have_a_reason() -> None:
    disagreements = json.loads(EXPECTATIONS.read_bytes())["disagree"]
    assert all(reason and reason != "unclassified" for reason in disagreements.values())
