"""patch over real HTTP: JSON Patch, FHIRPath Patch, conditional patch, and patches in Bundles."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "http://mrn", "value": "7"}],
    "name": [{"family": "Chalmers", "given": ["Peter"]}],
    "gender": "male",
}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def json_patch(fhir: httpx.Client, url: str, operations: Any, **headers: str) -> httpx.Response:
    return fhir.patch(url, content=json.dumps(operations), headers={**JSON_PATCH, **headers})


def fhirpath_patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "operation", "part": [{"name": name, **value} for name, value in operation.items()]}
        for operation in operations
    ]}


def stored_patient(fhir: httpx.Client, resource_id: str = "p") -> dict[str, Any]:
    response = fhir.put(f"/Patient/{resource_id}", json={**PATIENT, "id": resource_id})
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def test_json_patch_replaces_an_element_and_saves_a_new_version(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    response = json_patch(fhir, "/Patient/p", [{"op": "replace", "path": "/gender", "value": "female"}])
    assert response.status_code == 200
    body = response.json()
    assert body["gender"] == "female" and body["name"] == PATIENT["name"]
    assert body["meta"]["versionId"] == "2" and response.headers["etag"] == 'W/"2"'
    assert response.headers["location"].endswith("/Patient/p/_history/2")
    assert fhir.get("/Patient/p").json() == body
    assert fhir.get("/Patient/p/_history/1").json()["gender"] == "male"


def test_json_patch_applies_every_operation_in_order(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    response = json_patch(fhir, "/Patient/p", [
        {"op": "test", "path": "/name/0/family", "value": "Chalmers"},
        {"op": "add", "path": "/name/0/given/-", "value": "James"},
        {"op": "add", "path": "/birthDate", "value": "1974-12-25"},
        {"op": "remove", "path": "/identifier"},
    ])
    assert response.status_code == 200
    body = response.json()
    assert body["name"][0]["given"] == ["Peter", "James"] and body["birthDate"] == "1974-12-25"
    assert "identifier" not in body


@pytest.mark.parametrize(("operations", "status"), [
    ([{"op": "test", "path": "/gender", "value": "female"}], 422),
    ([{"op": "replace", "path": "/name/5/family", "value": "X"}], 422),
    ([{"op": "remove", "path": "/birthDate"}], 422),
    ([{"op": "bogus", "path": "/gender"}], 400),
    ([{"op": "replace", "path": "gender", "value": "female"}], 400),
    ([{"op": "add", "path": "/gender"}], 400),
    ({"op": "replace", "path": "/gender", "value": "female"}, 400),
])
def test_a_json_patch_that_cannot_apply_is_refused_and_changes_nothing(
    fhir: httpx.Client, operations: Any, status: int
) -> None:
    stored_patient(fhir)
    response = json_patch(fhir, "/Patient/p", operations)
    assert response.status_code == status
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and "operation" in outcome["issue"][0]["diagnostics"].lower()
    assert fhir.get("/Patient/p").json()["meta"]["versionId"] == "1"


def test_fhirpath_patch_adds_replaces_inserts_and_deletes(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    patch = fhirpath_patch(
        {"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.gender"}, "value": {"valueCode": "other"}},
        {"type": {"valueCode": "add"}, "path": {"valueString": "Patient"}, "name": {"valueString": "birthDate"},
         "value": {"valueDate": "1974-12-25"}},
        {"type": {"valueCode": "insert"}, "path": {"valueString": "Patient.name[0].given"},
         "index": {"valueInteger": 0}, "value": {"valueString": "Dr"}},
        {"type": {"valueCode": "add"}, "path": {"valueString": "Patient"}, "name": {"valueString": "contact"},
         "value": {"part": [{"name": "name", "valueHumanName": {"family": "Chalmers"}},
                            {"name": "relationship", "valueCodeableConcept": {"text": "mother"}}]}},
        {"type": {"valueCode": "delete"}, "path": {"valueString": "Patient.identifier.where(system='http://mrn')"}},
    )
    response = fhir.patch("/Patient/p", json=patch)
    assert response.status_code == 200
    body = response.json()
    assert body["gender"] == "other" and body["birthDate"] == "1974-12-25"
    assert body["name"][0]["given"] == ["Dr", "Peter"]
    assert body["contact"] == [{"name": {"family": "Chalmers"}, "relationship": [{"text": "mother"}]}]
    assert "identifier" not in body and body["meta"]["versionId"] == "2"


@pytest.mark.parametrize(("operation", "status"), [
    ({"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.name["}, "value": {"valueString": "x"}}, 400),
    ({"type": {"valueCode": "rename"}, "path": {"valueString": "Patient.gender"}}, 400),
    ({"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.gender"}}, 400),
    ({"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.birthDate"},
      "value": {"valueDate": "2000-01-01"}}, 422),
    ({"type": {"valueCode": "add"}, "path": {"valueString": "Patient"}, "name": {"valueString": "gender"},
      "value": {"valueCode": "female"}}, 422),
    ({"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.gender"},
      "value": {"valueHumanName": {"family": "X"}}}, 422),
])
def test_a_fhirpath_patch_that_cannot_apply_is_refused_with_the_operation_named(
    fhir: httpx.Client, operation: dict[str, Any], status: int
) -> None:
    stored_patient(fhir)
    response = fhir.patch("/Patient/p", json=fhirpath_patch(operation))
    assert response.status_code == status
    issue = response.json()["issue"][0]
    assert "Parameters.parameter[0]" in issue["diagnostics"] or issue["expression"][0].startswith("Parameters")
    assert fhir.get("/Patient/p").json()["meta"]["versionId"] == "1"


def test_a_patch_may_not_change_the_id(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    by_json = json_patch(fhir, "/Patient/p", [{"op": "replace", "path": "/id", "value": "q"}])
    by_fhirpath = fhir.patch("/Patient/p", json=fhirpath_patch(
        {"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.id"}, "value": {"valueId": "q"}}))
    removed = json_patch(fhir, "/Patient/p", [{"op": "remove", "path": "/id"}])
    for response in (by_json, by_fhirpath, removed):
        assert response.status_code == 400
        assert response.json()["issue"][0]["expression"] == ["Patient.id"]
    assert fhir.get("/Patient/q").status_code == 404


def test_a_patch_may_not_change_the_resource_type(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    response = json_patch(fhir, "/Patient/p", [{"op": "replace", "path": "/resourceType", "value": "Person"}])
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.resourceType"]


def test_a_patch_that_leaves_no_resource_is_refused(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    response = json_patch(fhir, "/Patient/p", [{"op": "replace", "path": "", "value": [1, 2]}])
    assert response.status_code == 422


def test_patch_with_a_stale_if_match_returns_412_and_a_current_one_succeeds(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    json_patch(fhir, "/Patient/p", [{"op": "replace", "path": "/gender", "value": "female"}])
    operations = [{"op": "replace", "path": "/gender", "value": "other"}]
    assert json_patch(fhir, "/Patient/p", operations, **{"If-Match": 'W/"1"'}).status_code == 412
    response = json_patch(fhir, "/Patient/p", operations, **{"If-Match": 'W/"2"'})
    assert response.status_code == 200 and response.json()["meta"]["versionId"] == "3"


def test_patch_of_an_unknown_resource_returns_404_and_of_a_deleted_one_410(fhir: httpx.Client) -> None:
    operations = [{"op": "replace", "path": "/gender", "value": "female"}]
    assert json_patch(fhir, "/Patient/nobody", operations).status_code == 404
    stored_patient(fhir)
    fhir.delete("/Patient/p")
    assert json_patch(fhir, "/Patient/p", operations).status_code == 410


def test_patch_honours_prefer_return_minimal(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    response = json_patch(fhir, "/Patient/p", [{"op": "replace", "path": "/gender", "value": "female"}],
                          Prefer="return=minimal")
    assert response.status_code == 200 and response.content == b"" and response.headers["etag"] == 'W/"2"'


def test_a_body_that_is_no_patch_is_refused(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    assert fhir.patch("/Patient/p", json={**PATIENT, "id": "p"}).status_code == 400
    assert fhir.patch("/Patient/p", content=b"", headers=JSON_PATCH).status_code == 400
    assert fhir.patch("/Patient/p", content=b"[", headers=JSON_PATCH).status_code == 400


def test_a_patch_shows_in_history_as_an_update(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    json_patch(fhir, "/Patient/p", [{"op": "replace", "path": "/gender", "value": "female"}])
    latest = fhir.get("/Patient/p/_history").json()["entry"][0]
    assert latest["request"] == {"method": "PUT", "url": "Patient/p"} and latest["resource"]["gender"] == "female"


def test_conditional_patch_patches_the_one_match(fhir: httpx.Client) -> None:
    stored_patient(fhir)
    operations = [{"op": "replace", "path": "/gender", "value": "female"}]
    response = json_patch(fhir, "/Patient?identifier=http://mrn|7", operations)
    assert response.status_code == 200 and response.json()["id"] == "p" and response.json()["gender"] == "female"
    assert json_patch(fhir, "/Patient?identifier=http://mrn|8", operations).status_code == 404
    stored_patient(fhir, "twin")
    assert json_patch(fhir, "/Patient?identifier=http://mrn|7", operations).status_code == 412


def test_a_transaction_can_patch_with_a_binary_json_patch_and_a_parameters(fhir: httpx.Client) -> None:
    stored_patient(fhir, "a")
    stored_patient(fhir, "b")
    operations = [{"op": "replace", "path": "/gender", "value": "female"}]
    binary = {"resourceType": "Binary", "contentType": "application/json-patch+json",
              "data": base64.b64encode(json.dumps(operations).encode()).decode()}
    parameters = fhirpath_patch(
        {"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.gender"}, "value": {"valueCode": "other"}})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": binary, "request": {"method": "PATCH", "url": "Patient/a"}},
        {"resource": parameters, "request": {"method": "PATCH", "url": "Patient/b", "ifMatch": 'W/"1"'}},
    ]}
    response = fhir.post("", json=bundle)
    assert response.status_code == 200
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    assert statuses == ["200 OK", "200 OK"]
    assert fhir.get("/Patient/a").json()["gender"] == "female"
    assert fhir.get("/Patient/b").json()["gender"] == "other"


def test_a_failing_patch_rolls_back_the_whole_transaction(fhir: httpx.Client) -> None:
    stored_patient(fhir, "a")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {**PATIENT, "id": "new"}, "request": {"method": "PUT", "url": "Patient/new"}},
        {"resource": fhirpath_patch({"type": {"valueCode": "replace"}, "path": {"valueString": "Patient.birthDate"},
                                     "value": {"valueDate": "2000-01-01"}}),
         "request": {"method": "PATCH", "url": "Patient/a"}},
    ]}
    response = fhir.post("", json=bundle)
    assert response.status_code == 422
    assert fhir.get("/Patient/new").status_code == 404
