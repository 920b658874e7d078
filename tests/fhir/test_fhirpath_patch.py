"""FHIRPath Patch applied to resource JSON, without a server: each operation, and each way one fails."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fireside.fhir import FhirDefinitions, FhirError, load_definitions
from fireside.fhir.fhirpath_patch import apply_fhirpath_patch, check_fhirpath_syntax

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p",
    "birthDate": "1970-01-01",
    "_birthDate": {"extension": [{"url": "http://example.org/accuracy", "valueCode": "estimated"}]},
    "name": [{"use": "old", "given": ["Ann", "Beth"]}, {"use": "official", "family": "Smith", "given": ["Cara"]}],
    "identifier": [{"system": "http://a", "value": "1"}, {"system": "http://b", "value": "2"}],
    "gender": "female",
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"text": "weight"},
    "valueQuantity": {"value": 70, "unit": "kg"},
}


@pytest.fixture(scope="module")
def definitions() -> FhirDefinitions:
    return load_definitions()


def operation(type: str, path: str, **parts: Any) -> dict[str, Any]:
    """One operation parameter: `value` is the value part's content ({"valueString": ...} or {"part": [...]})."""
    built = [{"name": "type", "valueCode": type}, {"name": "path", "valueString": path}]
    for name, content in parts.items():
        if name == "name":
            built.append({"name": "name", "valueString": content})
        elif name == "value":
            built.append({"name": "value", **content})
        else:
            built.append({"name": name, "valueInteger": content})
    return {"name": "operation", "part": built}


def patch(definitions: FhirDefinitions, resource: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
    return apply_fhirpath_patch(resource, {"resourceType": "Parameters", "parameter": list(operations)}, definitions)


def refusal(definitions: FhirDefinitions, resource: dict[str, Any], *operations: dict[str, Any]) -> FhirError:
    with pytest.raises(FhirError) as raised:
        patch(definitions, resource, *operations)
    return raised.value


def test_add_sets_a_missing_single_element(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT, operation("add", "Patient", name="active", value={"valueBoolean": True}))
    assert result["active"] is True


def test_add_appends_to_a_repeating_element_present_or_not(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT,
                   operation("add", "Patient.name[1]", name="given", value={"valueString": "Dee"}),
                   operation("add", "Patient", name="telecom", value={"valueContactPoint": {"value": "555"}}))
    assert result["name"][1]["given"] == ["Cara", "Dee"]
    assert result["telecom"] == [{"value": "555"}]


def test_add_builds_a_backbone_element_from_parts(definitions: FhirDefinitions) -> None:
    contact = {"part": [
        {"name": "name", "valueHumanName": {"family": "Smith"}},
        {"name": "relationship", "valueCodeableConcept": {"text": "mother"}},
        {"name": "telecom", "valueContactPoint": {"value": "1"}},
        {"name": "telecom", "valueContactPoint": {"value": "2"}},
    ]}
    result = patch(definitions, PATIENT, operation("add", "Patient", name="contact", value=contact))
    assert result["contact"] == [{"name": {"family": "Smith"}, "relationship": [{"text": "mother"}],
                                  "telecom": [{"value": "1"}, {"value": "2"}]}]


def test_add_names_a_choice_element_by_the_type_of_its_value(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT, operation("add", "Patient", name="deceased", value={"valueBoolean": False}))
    assert result["deceasedBoolean"] is False
    component = {"part": [{"name": "code", "valueCodeableConcept": {"text": "systolic"}},
                          {"name": "value", "valueQuantity": {"value": 120}}]}
    observation = patch(definitions, OBSERVATION, operation("add", "Observation", name="component", value=component))
    assert observation["component"] == [{"code": {"text": "systolic"}, "valueQuantity": {"value": 120}}]


def test_add_refuses_an_element_that_already_has_a_value(definitions: FhirDefinitions) -> None:
    error = refusal(definitions, PATIENT, operation("add", "Patient", name="gender", value={"valueCode": "male"}))
    assert error.http_status == 422 and "use replace" in error.issues[0].diagnostics
    observation = refusal(definitions, OBSERVATION,
                          operation("add", "Observation", name="value", value={"valueString": "heavy"}))
    assert observation.http_status == 422


def test_add_refuses_an_element_the_type_does_not_define(definitions: FhirDefinitions) -> None:
    error = refusal(definitions, PATIENT, operation("add", "Patient", name="colour", value={"valueString": "red"}))
    assert error.http_status == 422 and "no element 'colour'" in error.issues[0].diagnostics


def test_insert_puts_a_value_at_an_index_of_a_list(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT,
                   operation("insert", "Patient.identifier", index=1, value={"valueIdentifier": {"value": "x"}}),
                   operation("insert", "Patient.name[0].given", index=2, value={"valueString": "Cy"}))
    assert [i["value"] for i in result["identifier"]] == ["1", "x", "2"]
    assert result["name"][0]["given"] == ["Ann", "Beth", "Cy"]


def test_insert_into_an_absent_list_creates_it(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT,
                   operation("insert", "Patient.telecom", index=0, value={"valueContactPoint": {"value": "1"}}))
    assert result["telecom"] == [{"value": "1"}]


def test_insert_refuses_an_index_past_the_end_and_a_single_element(definitions: FhirDefinitions) -> None:
    past = refusal(definitions, PATIENT,
                   operation("insert", "Patient.identifier", index=3, value={"valueIdentifier": {"value": "x"}}))
    assert past.http_status == 422 and "beyond the end" in past.issues[0].diagnostics
    single = refusal(definitions, PATIENT, operation("insert", "Patient.gender", index=0,
                                                    value={"valueCode": "male"}))
    assert "not a repeating element" in single.issues[0].diagnostics


def test_delete_removes_one_element_found_by_any_path(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT,
                   operation("delete", "Patient.name.where(use = 'official').given.first()"),
                   operation("delete", "Patient.identifier.where(system = 'http://a')"))
    assert result["name"][1] == {"use": "official", "family": "Smith"}
    assert result["identifier"] == [{"system": "http://b", "value": "2"}]


def test_delete_takes_a_primitives_extensions_and_empty_parents_with_it(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT,
                   operation("delete", "Patient.birthDate"),
                   operation("delete", "Patient.name[1].family"),
                   operation("delete", "Patient.name[1].given"),
                   operation("delete", "Patient.name[1].use"))
    assert "birthDate" not in result and "_birthDate" not in result
    assert result["name"] == [PATIENT["name"][0]]


def test_delete_of_nothing_does_nothing_but_of_several_is_refused(definitions: FhirDefinitions) -> None:
    assert patch(definitions, PATIENT, operation("delete", "Patient.active")) == PATIENT
    error = refusal(definitions, PATIENT, operation("delete", "Patient.identifier"))
    assert error.http_status == 422 and "2 elements" in error.issues[0].diagnostics


def test_replace_changes_a_primitive_in_a_list_and_keeps_the_key_order(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT, operation("replace", "Patient.name[0].given[1]", value={"valueString": "Bo"}),
                   operation("replace", "Patient.gender", value={"valueCode": "other"}))
    assert result["name"][0]["given"] == ["Ann", "Bo"]
    assert list(result) == list(PATIENT) and result["gender"] == "other"


def test_replace_of_a_primitive_drops_its_extensions(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT, operation("replace", "Patient.birthDate", value={"valueDate": "1971-02-03"}))
    assert result["birthDate"] == "1971-02-03" and "_birthDate" not in result


def test_replace_of_a_choice_element_may_change_its_type(definitions: FhirDefinitions) -> None:
    result = patch(definitions, OBSERVATION, operation("replace", "Observation.value", value={"valueString": "heavy"}))
    assert result["valueString"] == "heavy" and "valueQuantity" not in result
    nested = patch(definitions, OBSERVATION, operation("replace", "Observation.value.value",
                                                       value={"valueDecimal": 71.5}))
    assert nested["valueQuantity"] == {"value": 71.5, "unit": "kg"}


def test_replace_refuses_a_value_of_the_wrong_type(definitions: FhirDefinitions) -> None:
    error = refusal(definitions, PATIENT, operation("replace", "Patient.gender",
                                                   value={"valueHumanName": {"family": "X"}}))
    assert error.http_status == 422 and "HumanName cannot go in Patient.gender" in error.issues[0].diagnostics
    choice = refusal(definitions, OBSERVATION, operation("replace", "Observation.value",
                                                         value={"valueAddress": {"city": "X"}}))
    assert choice.http_status == 422


def test_replace_needs_exactly_one_element(definitions: FhirDefinitions) -> None:
    none = refusal(definitions, PATIENT, operation("replace", "Patient.active", value={"valueBoolean": True}))
    several = refusal(definitions, PATIENT, operation("replace", "Patient.name.given", value={"valueString": "X"}))
    assert "no element" in none.issues[0].diagnostics and "3 elements" in several.issues[0].diagnostics


def test_move_reorders_a_list(definitions: FhirDefinitions) -> None:
    result = patch(definitions, PATIENT, operation("move", "Patient.identifier", source=0, destination=1))
    assert [i["value"] for i in result["identifier"]] == ["2", "1"]
    error = refusal(definitions, PATIENT, operation("move", "Patient.identifier", source=2, destination=0))
    assert error.http_status == 422


def test_primitive_extension_lists_follow_their_values(definitions: FhirDefinitions) -> None:
    resource = {"resourceType": "Patient", "name": [{"given": ["A", "B"], "_given": [None, {"id": "b"}]}]}
    moved = patch(definitions, resource, operation("move", "Patient.name[0].given", source=1, destination=0))
    assert moved["name"][0] == {"given": ["B", "A"], "_given": [{"id": "b"}, None]}
    deleted = patch(definitions, resource, operation("delete", "Patient.name[0].given[1]"))
    assert deleted["name"][0] == {"given": ["A"]}


def test_operations_apply_in_order_to_a_copy(definitions: FhirDefinitions) -> None:
    original = copy.deepcopy(PATIENT)
    result = patch(definitions, PATIENT,
                   operation("add", "Patient", name="active", value={"valueBoolean": True}),
                   operation("replace", "Patient.active", value={"valueBoolean": False}))
    assert result["active"] is False and original == PATIENT


def test_contained_resources_are_patched_by_their_own_definitions(definitions: FhirDefinitions) -> None:
    resource = {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "name": "A"}]}
    result = patch(definitions, resource, operation("replace", "Patient.contained[0].name", value={"valueString": "B"}),
                   operation("add", "Patient.contained[0]", name="alias", value={"valueString": "C"}))
    assert result["contained"][0] == {"resourceType": "Organization", "id": "o", "name": "B", "alias": ["C"]}


@pytest.mark.parametrize("parameters", [
    {"resourceType": "Patient"},
    {"resourceType": "Parameters", "parameter": {"name": "operation"}},
    {"resourceType": "Parameters", "parameter": [{"name": "op", "part": []}]},
    {"resourceType": "Parameters", "parameter": [operation("upsert", "Patient")]},
    {"resourceType": "Parameters", "parameter": [operation("add", "Patient", name="active")]},
    {"resourceType": "Parameters", "parameter": [operation("add", "Patient", name="not a name",
                                                           value={"valueString": "x"})]},
    {"resourceType": "Parameters", "parameter": [operation("insert", "Patient.identifier", index=-1,
                                                           value={"valueIdentifier": {}})]},
    {"resourceType": "Parameters", "parameter": [operation("replace", "Patient.gender", value={"value": "x"})]},
    {"resourceType": "Parameters", "parameter": [operation("replace", "Patient.gender", value={})]},
])
def test_a_malformed_patch_document_is_a_400(definitions: FhirDefinitions, parameters: dict[str, Any]) -> None:
    with pytest.raises(FhirError) as raised:
        apply_fhirpath_patch(PATIENT, parameters, definitions)
    assert raised.value.http_status == 400


@pytest.mark.parametrize(("path", "status"), [
    ("Patient.name[", 400),
    ("Patient..gender", 400),
    ("Patient.gender)", 400),
    ("Patient.managingOrganization.resolve().name", 400),
    ("Patient.name.count()", 422),
    ("Patient.gender.nosuchfunction()", 422),
])
def test_a_path_that_is_no_element_of_the_resource_is_refused(
    definitions: FhirDefinitions, path: str, status: int
) -> None:
    error = refusal(definitions, PATIENT, operation("replace", path, value={"valueString": "x"}))
    assert error.http_status == status
    assert "Parameters.parameter[0]" in error.issues[0].diagnostics


def test_syntax_check_accepts_the_paths_patches_use() -> None:
    for path in ("Patient", "Patient.name.where(use = 'official').given[0]", "Observation.value.ofType(Quantity)",
                 "Patient.extension('http://x').value", "name.first()"):
        assert check_fhirpath_syntax(path) is None, path
    assert check_fhirpath_syntax("") is not None


def test_values_under_the_extension_function_are_found_through_their_extension(definitions: FhirDefinitions) -> None:
    resource = {"resourceType": "Patient", "extension": [{"url": "http://a", "valueString": "old"},
                                                         {"url": "http://b", "valueCode": "keep"}]}
    result = patch(definitions, resource,
                   operation("replace", "Patient.extension('http://a').value", value={"valueString": "new"}))
    assert result["extension"] == [{"url": "http://a", "valueString": "new"}, {"url": "http://b", "valueCode": "keep"}]
