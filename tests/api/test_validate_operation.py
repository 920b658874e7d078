"""$validate at type and instance level."""

from __future__ import annotations

import httpx


def test_validate_of_a_valid_patient_returns_an_informational_outcome(fhir: httpx.Client) -> None:
    response = fhir.post("/Patient/$validate", json={"resourceType": "Patient", "gender": "male"})
    assert response.status_code == 200
    assert response.json()["issue"][0]["severity"] == "information"


def test_validate_accepts_a_parameters_body(fhir: httpx.Client) -> None:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient"}},
        {"name": "mode", "valueCode": "create"},
    ]}
    assert fhir.post("/Patient/$validate", json=body).status_code == 200


def test_validate_rejects_unknown_parameters_by_name(fhir: httpx.Client) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "bogus", "valueString": "x"}]}
    response = fhir.post("/Patient/$validate", json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Parameters.parameter[0].name"]


def test_validate_of_the_wrong_type_is_a_400(fhir: httpx.Client) -> None:
    assert fhir.post("/Patient/$validate", json={"resourceType": "Observation"}).status_code == 400


def test_validate_on_an_instance_checks_the_stored_resource(fhir: httpx.Client) -> None:
    fhir.put("/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    assert fhir.post("/Patient/p1/$validate", content=b"").status_code == 200
    assert fhir.get("/Patient/missing/$validate").status_code == 404


def test_validate_does_not_store_anything(fhir: httpx.Client) -> None:
    fhir.post("/Patient/$validate", json={"resourceType": "Patient", "id": "ghost"})
    assert fhir.get("/Patient/ghost").status_code == 404


def test_unknown_operation_is_a_404(fhir: httpx.Client) -> None:
    assert fhir.post("/Patient/$frobnicate", json={"resourceType": "Parameters"}).status_code == 404
