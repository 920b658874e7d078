"""Transaction Bundles: all or nothing, with references between entries rewritten."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.conftest import RunningServer

PATIENT_URL = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def post(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def observation(subject: str, value: float = 72) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }


def test_transaction_creates_every_entry_and_rewrites_urn_uuid_references(fhir: httpx.Client) -> None:
    bundle = transaction(post({"resourceType": "Patient"}, PATIENT_URL), post(observation(PATIENT_URL)))
    response = fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    patient_location, observation_location = (e["response"]["location"] for e in body["entry"])
    assert all(e["response"]["status"] == "201 Created" for e in body["entry"])
    patient_id = patient_location.split("/")[-3]
    stored = fhir.get("/" + "/".join(observation_location.split("/")[-4:-2])).json()
    assert stored["subject"]["reference"] == f"Patient/{patient_id}"


def test_responses_follow_the_request_order_though_processing_order_differs(fhir: httpx.Client) -> None:
    fhir.put("/Patient/old", json={"resourceType": "Patient", "id": "old"})
    fhir.put("/Patient/kept", json={"resourceType": "Patient", "id": "kept"})
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient/kept"}},
        post({"resourceType": "Patient"}),
        {"request": {"method": "DELETE", "url": "Patient/old"}},
    )
    entries = fhir.post("", json=bundle).json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["200 OK", "201 Created", "204 No Content"]
    assert fhir.get("/Patient/old").status_code == 410


def test_a_read_inside_a_transaction_runs_after_the_writes(fhir: httpx.Client) -> None:
    fhir.put("/Patient/old", json={"resourceType": "Patient", "id": "old"})
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient/old"}},
        {"request": {"method": "DELETE", "url": "Patient/old"}},
    )
    # GET runs after DELETE (the spec's order), sees the deletion, and so fails the transaction.
    response = fhir.post("", json=bundle)
    assert response.status_code == 410
    assert fhir.get("/Patient/old").status_code == 200


def test_an_invalid_entry_in_the_middle_writes_nothing(fhir: httpx.Client, server: RunningServer) -> None:
    bundle = transaction(
        post({"resourceType": "Patient", "gender": "male"}, PATIENT_URL),
        {"resource": {"resourceType": "Patient", "id": "a"}, "request": {"method": "PUT", "url": "Patient/b"}},
        post(observation(PATIENT_URL)),
    )
    response = fhir.post("", json=bundle)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.id"]
    with psycopg.connect(server.database_url) as conn:
        counts = conn.execute("SELECT count(*) FROM resource WHERE resource_type IN ('Patient', 'Observation')")
        assert counts.fetchone() == (0,)


def test_a_transaction_may_not_change_one_resource_twice(fhir: httpx.Client) -> None:
    bundle = transaction(
        {"resource": {"resourceType": "Patient", "id": "x"}, "request": {"method": "PUT", "url": "Patient/x"}},
        {"request": {"method": "DELETE", "url": "Patient/x"}},
    )
    response = fhir.post("", json=bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].request.url"]


def test_put_entries_with_urn_fullurls_are_referenced_by_their_id(fhir: httpx.Client) -> None:
    bundle = transaction(
        {"fullUrl": PATIENT_URL, "resource": {"resourceType": "Patient", "id": "p7"},
         "request": {"method": "PUT", "url": "Patient/p7"}},
        post(observation(PATIENT_URL)),
    )
    entries = fhir.post("", json=bundle).json()["entry"]
    assert entries[1]["resource"]["subject"]["reference"] == "Patient/p7"


def test_batch_entries_succeed_or_fail_independently(fhir: httpx.Client) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        post({"resourceType": "Patient"}),
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"resource": {"resourceType": "Patient", "id": "a"}, "request": {"method": "PUT", "url": "Patient/b"}},
    ]}
    response = fhir.post("", json=bundle)
    assert response.status_code == 200
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created", "404 Not Found", "400 Bad Request"]
    assert response.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


def test_a_bundle_that_is_not_batch_or_transaction_is_a_400(fhir: httpx.Client) -> None:
    response = fhir.post("", json={"resourceType": "Bundle", "type": "collection"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.type"]


def test_entries_without_a_request_are_a_400_naming_the_entry(fhir: httpx.Client) -> None:
    response = fhir.post("", json={"resourceType": "Bundle", "type": "transaction",
                                   "entry": [{"resource": {"resourceType": "Patient"}}]})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[0].request"]


def test_an_unknown_method_is_a_400_naming_the_method(fhir: httpx.Client) -> None:
    response = fhir.post("", json=transaction({"request": {"method": "FETCH", "url": "Patient"}}))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[0].request.method"]


def test_prefer_return_minimal_leaves_resources_out(fhir: httpx.Client) -> None:
    response = fhir.post("", json=transaction(post({"resourceType": "Patient"})), headers={"Prefer": "return=minimal"})
    entry = response.json()["entry"][0]
    assert "resource" not in entry and entry["response"]["location"]
