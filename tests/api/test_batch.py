"""Batch Bundles: every entry on its own, failures reported per entry
(https://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

from typing import Any

import httpx


def batch(*entries: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "batch", "entry": list(entries)}


def post(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def test_batch_entries_succeed_or_fail_independently(fhir: httpx.Client) -> None:
    response = fhir.post("", json=batch(
        post({"resourceType": "Patient"}),
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"resource": {"resourceType": "Patient", "id": "a"}, "request": {"method": "PUT", "url": "Patient/b"}},
        {"resource": {"resourceType": "Patient", "id": "c"}, "request": {"method": "PUT", "url": "Patient/c"}},
    ))
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "batch-response"
    assert [e["response"]["status"] for e in body["entry"]] == [
        "201 Created", "404 Not Found", "400 Bad Request", "201 Created"]
    assert body["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert body["entry"][2]["response"]["outcome"]["issue"][0]["expression"] == ["Bundle.entry[2].resource.id"]
    # The failures undid nothing: both writes are there.
    assert fhir.get(f"/Patient/{body['entry'][0]['resource']['id']}").status_code == 200
    assert fhir.get("/Patient/c").status_code == 200


def test_a_malformed_batch_entry_fails_alone_naming_its_element(fhir: httpx.Client) -> None:
    response = fhir.post("", json=batch(
        {"request": {"method": "GET", "url": "Nonsense/1"}},
        {"resource": {"resourceType": "Patient"}},
        "not an entry",
        post({"resourceType": "Patient"}),
    ))
    assert response.status_code == 200
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == [
        "400 Bad Request", "400 Bad Request", "400 Bad Request", "201 Created"]
    assert [e["response"]["outcome"]["issue"][0]["expression"] for e in entries[:3]] == [
        ["Bundle.entry[0].request.url"], ["Bundle.entry[1].request"], ["Bundle.entry[2]"]]


def test_batch_entries_run_in_order_and_see_each_other(fhir: httpx.Client) -> None:
    response = fhir.post("", json=batch(
        {"resource": {"resourceType": "Patient", "id": "o"}, "request": {"method": "PUT", "url": "Patient/o"}},
        {"request": {"method": "DELETE", "url": "Patient/o"}},
        {"request": {"method": "GET", "url": "Patient/o"}},
    ))
    assert [e["response"]["status"] for e in response.json()["entry"]] == [
        "201 Created", "204 No Content", "410 Gone"]


def test_batch_honours_entry_preconditions(fhir: httpx.Client) -> None:
    fhir.put("/Patient/m", json={"resourceType": "Patient", "id": "m"})
    response = fhir.post("", json=batch(
        {"resource": {"resourceType": "Patient", "id": "m"},
         "request": {"method": "PUT", "url": "Patient/m", "ifMatch": 'W/"9"'}},
        {"request": {"method": "GET", "url": "Patient/m", "ifNoneMatch": 'W/"1"'}},
    ))
    assert [e["response"]["status"] for e in response.json()["entry"]] == [
        "412 Precondition Failed", "304 Not Modified"]


def test_a_batch_is_not_a_transaction_and_leaves_urn_references_alone(fhir: httpx.Client) -> None:
    patient_url = "urn:uuid:7d4e9a44-4bc1-4c4b-9d4e-44a1a7b1e7f0"
    response = fhir.post("", json=batch(
        {"fullUrl": patient_url, **post({"resourceType": "Patient"})},
        post({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "subject": {"reference": patient_url}}),
    ))
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"] == "201 Created"
    # The spec: batch entries may not depend on each other, so nothing is rewritten.
    if entries[1]["response"]["status"] == "201 Created":
        assert entries[1]["resource"]["subject"]["reference"] == patient_url
