"""create, read, vread, update, delete over real HTTP."""

from __future__ import annotations

import httpx

PATIENT = {"resourceType": "Patient", "name": [{"family": "Chalmers", "given": ["Peter"]}], "gender": "male"}


def test_create_assigns_id_version_and_location(fhir: httpx.Client) -> None:
    response = fhir.post("/Patient", json=PATIENT)
    assert response.status_code == 201
    body = response.json()
    assert body["id"] and body["meta"]["versionId"] == "1" and body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/Patient/{body['id']}/_history/1")
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_create_ignores_a_client_supplied_id(fhir: httpx.Client) -> None:
    body = fhir.post("/Patient", json={**PATIENT, "id": "chosen"}).json()
    assert body["id"] != "chosen"


def test_read_returns_the_stored_resource(fhir: httpx.Client) -> None:
    created = fhir.post("/Patient", json=PATIENT).json()
    response = fhir.get(f"/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created


def test_read_of_unknown_patient_returns_404_outcome(fhir: httpx.Client) -> None:
    response = fhir.get("/Patient/does-not-exist")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_update_as_create_uses_the_client_chosen_id(fhir: httpx.Client) -> None:
    response = fhir.put("/Patient/pat-1", json={**PATIENT, "id": "pat-1"})
    assert response.status_code == 201
    assert response.json()["id"] == "pat-1"
    second = fhir.put("/Patient/pat-1", json={**PATIENT, "id": "pat-1", "gender": "female"})
    assert second.status_code == 200
    assert second.json()["meta"]["versionId"] == "2"


def test_vread_returns_each_version(fhir: httpx.Client) -> None:
    fhir.put("/Patient/v", json={**PATIENT, "id": "v"})
    fhir.put("/Patient/v", json={**PATIENT, "id": "v", "gender": "female"})
    assert fhir.get("/Patient/v/_history/1").json()["gender"] == "male"
    assert fhir.get("/Patient/v/_history/2").json()["gender"] == "female"
    assert fhir.get("/Patient/v/_history/3").status_code == 404


def test_update_with_stale_if_match_returns_412(fhir: httpx.Client) -> None:
    fhir.put("/Patient/m", json={**PATIENT, "id": "m"})
    fhir.put("/Patient/m", json={**PATIENT, "id": "m", "gender": "female"})
    stale = fhir.put("/Patient/m", json={**PATIENT, "id": "m"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    fresh = fhir.put("/Patient/m", json={**PATIENT, "id": "m"}, headers={"If-Match": 'W/"2"'})
    assert fresh.status_code == 200


def test_read_after_delete_returns_410_gone(fhir: httpx.Client) -> None:
    created = fhir.post("/Patient", json=PATIENT).json()
    assert fhir.delete(f"/Patient/{created['id']}").status_code == 204
    assert fhir.get(f"/Patient/{created['id']}").status_code == 410
    assert fhir.get(f"/Patient/{created['id']}/_history/1").status_code == 200


def test_if_none_match_with_the_current_version_returns_304(fhir: httpx.Client) -> None:
    created = fhir.post("/Patient", json=PATIENT).json()
    response = fhir.get(f"/Patient/{created['id']}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304


def test_prefer_return_minimal_sends_no_body(fhir: httpx.Client) -> None:
    response = fhir.post("/Patient", json=PATIENT, headers={"Prefer": "return=minimal"})
    assert response.status_code == 201 and response.content == b""
    assert "location" in response.headers


def test_prefer_return_operation_outcome_sends_an_outcome(fhir: httpx.Client) -> None:
    response = fhir.post("/Patient", json=PATIENT, headers={"Prefer": "return=OperationOutcome"})
    assert response.json()["resourceType"] == "OperationOutcome"
