"""Invariants decided from which elements are present, without evaluating FHIRPath."""

from __future__ import annotations

from fireside.fhir import load_definitions
from fireside.fhir.validation import Validator
from fireside.fhir.validation.shortcuts import shortcut


def test_an_or_with_an_empty_term_holds_when_that_element_is_absent() -> None:
    decide = shortcut("dataAbsentReason.empty() or value.empty()")
    assert decide is not None
    assert decide({"status": "final"})
    assert decide({"valueString": "x"})
    assert not decide({"valueString": "x", "dataAbsentReason": {"text": "n/a"}})


def test_a_path_through_where_is_empty_when_its_start_is_absent() -> None:
    decide = shortcut("value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()")
    assert decide is not None
    assert decide({"valueQuantity": {"value": 1}})
    assert not decide({"valueQuantity": {"value": 1}, "component": [{"code": {"text": "x"}}]})


def test_an_implication_holds_when_its_condition_is_absent() -> None:
    decide = shortcut("duration.exists() implies duration >= 0")
    assert decide is not None
    assert decide({"period": 1})
    assert not decide({"duration": -1})


def test_an_exists_term_holds_when_that_element_is_present() -> None:
    decide = shortcut("low.exists() or high.exists() or text.exists()")
    assert decide is not None
    assert decide({"text": "normal"})
    assert not decide({"appliesTo": [{"text": "x"}]})


def test_expressions_that_an_absent_element_does_not_decide_get_no_shortcut() -> None:
    assert shortcut("a.count().empty() or b.exists().not()") is None  # count() of nothing is 0
    assert shortcut("a.empty() or b xor c") is None  # (a.empty() or b) xor c
    assert shortcut("a.empty() or b implies c") is None
    assert shortcut("a.empty() = b.empty()") is None
    assert shortcut("hasValue() or (children().count() > id.count())") is None


def test_an_invariant_fhirpathpy_cannot_evaluate_is_not_enforced() -> None:
    # ctm-1 uses resolve(), which fhirpathpy lacks.
    team = {"resourceType": "CareTeam", "participant": [{"member": {"reference": "Practitioner/1"},
                                                         "onBehalfOf": {"reference": "Organization/1"}}]}
    assert Validator(load_definitions()).validate(team) == []
