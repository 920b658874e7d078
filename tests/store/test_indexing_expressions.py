"""Search parameter expressions: parsed, compiled against the definitions, derived from each other."""

from __future__ import annotations

import pytest

from fireside.fhir import load_definitions
from fireside.store.indexing import SearchParameterRegistry
from fireside.store.indexing.expressions import (
    Child,
    Index,
    OfType,
    Root,
    UnsupportedExpression,
    WhereEquals,
    WhereResolveIs,
    parse_expression,
)
from fireside.store.indexing.navigation import compile_path


@pytest.fixture(scope="module")
def registry() -> SearchParameterRegistry:
    return SearchParameterRegistry(load_definitions())


def test_a_union_parses_into_one_path_per_alternative() -> None:
    assert parse_expression("Patient.name | Practitioner.name.given") == [
        (Root("Patient"), Child("name")),
        (Root("Practitioner"), Child("name"), Child("given")),
    ]


def test_as_operator_as_function_and_of_type_parse_the_same() -> None:
    expected = (Root("Observation"), Child("value"), OfType("Quantity"))
    assert parse_expression("(Observation.value as Quantity)") == [expected]
    assert parse_expression("Observation.value.as(Quantity)") == [expected]
    assert parse_expression("Observation.value.ofType(Quantity)") == [expected]


def test_where_filters_indexers_and_trailing_paths_parse() -> None:
    assert parse_expression("Observation.subject.where(resolve() is Patient)") == [
        (Root("Observation"), Child("subject"), WhereResolveIs("Patient"))]
    assert parse_expression("Patient.telecom.where(system='phone')") == [
        (Root("Patient"), Child("telecom"), WhereEquals("system", "phone"))]
    assert parse_expression("(Observation.value as CodeableConcept).text") == [
        (Root("Observation"), Child("value"), OfType("CodeableConcept"), Child("text"))]
    assert parse_expression("Bundle.entry[0].resource") == [
        (Root("Bundle"), Child("entry"), Index(0), Child("resource"))]


def test_expressions_beyond_the_subset_are_refused() -> None:
    for expression in ("Patient.deceased.exists() and Patient.deceased != false", "name", "Patient.name.first()"):
        with pytest.raises(UnsupportedExpression):
            parse_expression(expression)


def test_a_choice_element_compiles_to_one_branch_per_type() -> None:
    definitions = load_definitions()
    branches = compile_path(definitions, "Observation", (Root("Observation"), Child("effective")))
    assert sorted(b.type_code for b in branches) == ["Period", "Timing", "dateTime", "instant"]
    quantity = compile_path(definitions, "Observation", parse_expression("(Observation.value as Quantity)")[0])
    assert [b.type_code for b in quantity] == ["Quantity"]
    assert quantity[0].navigate({"valueQuantity": {"value": 1}, "valueString": "x"}) == [{"value": 1}]


def test_as_accepts_specializations_of_the_type() -> None:
    definitions = load_definitions()
    age = compile_path(definitions, "Condition", parse_expression("Condition.onset.as(Quantity)")[0])
    assert [b.type_code for b in age] == ["Age"]


def test_paths_rooted_at_another_type_compile_to_nothing() -> None:
    assert compile_path(load_definitions(), "Patient", (Root("Observation"), Child("code"))) == []


def test_backbone_elements_and_content_references_are_followed() -> None:
    definitions = load_definitions()
    nested = compile_path(definitions, "Questionnaire", (Root("Questionnaire"), Child("item"), Child("item"),
                                                         Child("code")))
    assert [b.type_code for b in nested] == ["Coding"]
    questionnaire = {"item": [{"item": [{"code": [{"code": "a"}]}, {"code": [{"code": "b"}]}]}]}
    assert nested[0].navigate(questionnaire) == [{"code": "a"}, {"code": "b"}]


def test_every_r4_parameter_of_an_indexed_type_compiles(registry: SearchParameterRegistry) -> None:
    definitions = registry.definitions
    indexed = ("token", "string", "reference", "date", "number", "quantity", "uri")
    for resource_type in definitions.resource_types:
        parameters = registry.of_type(resource_type)
        for definition in definitions.search_parameters_for(resource_type):
            if definition.type in indexed and definition.expression:
                assert definition.code in parameters.searchable, (resource_type, definition.code)


def test_parameters_holding_the_values_of_others_are_derived_not_stored(registry: SearchParameterRegistry) -> None:
    observation = registry.of_type("Observation")
    patient = observation.searchable["patient"]
    assert (patient.rows_in, patient.target_type, patient.extract) == (("subject",), "Patient", None)
    assert observation.searchable["combo-code"].rows_in == ("code", "component-code")
    assert observation.searchable["combo-value-quantity"].rows_in == ("component-value-quantity", "value-quantity")
    stored = {code for code, _, _ in observation.stored}
    assert {"subject", "code", "component-code"} <= stored
    assert not {"patient", "combo-code", "combo-value-quantity"} & stored
