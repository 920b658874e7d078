"""Transaction Bundles: all or nothing, in the spec's order, with references between entries
rewritten (https://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import RunningServer

PATIENT_URL = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
ENCOUNTER_URL = "urn:uuid:0d6b2a0e-5d7c-4a43-9d0a-1b7f2f1e7c11"


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def post(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource,
                             "request": {"method": "POST", "url": resource["resourceType"], **request}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def put(resource: dict[str, Any], url: str, full_url: str | None = None, **request: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "PUT", "url": url, **request}}
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


def stored(fhir: httpx.Client, location: str) -> dict[str, Any]:
    """The current version of the resource an entry response's location names."""
    resource_type, resource_id = location.split("/")[:2]
    return fhir.get(f"/{resource_type}/{resource_id}").json()  # type: ignore[no-any-return]


def count_rows(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE resource_type IN ('Patient', 'Observation')")
        count: int = row.fetchone()[0]  # type: ignore[index]
        return count


def test_transaction_creates_every_entry_and_rewrites_urn_uuid_references(fhir: httpx.Client) -> None:
    bundle = transaction(post({"resourceType": "Patient"}, PATIENT_URL), post(observation(PATIENT_URL)))
    response = fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    patient_id = body["entry"][0]["resource"]["id"]
    assert stored(fhir, body["entry"][1]["response"]["location"])["subject"]["reference"] == f"Patient/{patient_id}"


def test_entry_responses_carry_location_etag_last_modified_and_full_url(fhir: httpx.Client) -> None:
    entry = fhir.post("", json=transaction(post({"resourceType": "Patient"}))).json()["entry"][0]
    patient_id = entry["resource"]["id"]
    assert entry["response"]["location"] == f"Patient/{patient_id}/_history/1"
    assert entry["response"]["etag"] == 'W/"1"'
    assert entry["response"]["lastModified"] == entry["resource"]["meta"]["lastUpdated"]
    assert entry["fullUrl"].endswith(f"/fhir/R4/Patient/{patient_id}")


def test_references_are_rewritten_wherever_they_sit(fhir: httpx.Client) -> None:
    encounter = {"resourceType": "Encounter", "status": "finished", "subject": {"reference": PATIENT_URL},
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}
    nested = {**observation(PATIENT_URL), "encounter": {"reference": ENCOUNTER_URL},
              "performer": [{"reference": "#p1"}, {"reference": PATIENT_URL}],
              "contained": [{"resourceType": "Provenance", "id": "p1", "recorded": "2024-01-01T00:00:00Z",
                             "target": [{"reference": ENCOUNTER_URL}],
                             "agent": [{"who": {"reference": PATIENT_URL}}]}]}
    bundle = transaction(post(nested), post(encounter, ENCOUNTER_URL), post({"resourceType": "Patient"}, PATIENT_URL))
    entries = fhir.post("", json=bundle).json()["entry"]
    patient, encounter_ref = f"Patient/{entries[2]['resource']['id']}", f"Encounter/{entries[1]['resource']['id']}"
    saved = stored(fhir, entries[0]["response"]["location"])
    assert saved["subject"]["reference"] == patient and saved["encounter"]["reference"] == encounter_ref
    assert [p["reference"] for p in saved["performer"]] == ["#p1", patient]
    assert saved["contained"][0]["target"][0]["reference"] == encounter_ref
    assert saved["contained"][0]["agent"][0]["who"]["reference"] == patient
    assert stored(fhir, entries[1]["response"]["location"])["subject"]["reference"] == patient


def test_a_reference_to_an_absent_urn_uuid_is_a_400_at_the_reference(fhir: httpx.Client) -> None:
    response = fhir.post("", json=transaction(post({"resourceType": "Patient"}), post(observation(PATIENT_URL))))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.subject.reference"]


def test_responses_follow_the_request_order_though_processing_order_differs(fhir: httpx.Client) -> None:
    fhir.put("/Patient/old", json={"resourceType": "Patient", "id": "old"})
    fhir.put("/Patient/kept", json={"resourceType": "Patient", "id": "kept"})
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient/kept"}},
        post({"resourceType": "Patient"}),
        {"request": {"method": "DELETE", "url": "Patient/old"}},
        put({"resourceType": "Patient", "id": "kept", "gender": "other"}, "Patient/kept"),
    )
    entries = fhir.post("", json=bundle).json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["200 OK", "201 Created", "204 No Content", "200 OK"]
    # The GET ran last, so it reads the update made in the same transaction.
    assert entries[0]["resource"]["gender"] == "other" and entries[0]["resource"]["meta"]["versionId"] == "2"
    assert fhir.get("/Patient/old").status_code == 410


def test_a_read_that_fails_after_the_writes_undoes_them(fhir: httpx.Client) -> None:
    fhir.put("/Patient/old", json={"resourceType": "Patient", "id": "old"})
    bundle = transaction(
        {"request": {"method": "GET", "url": "Patient/old"}},
        {"request": {"method": "DELETE", "url": "Patient/old"}},
    )
    # GET runs after DELETE (the spec's order), sees the deletion, and so fails the transaction.
    response = fhir.post("", json=bundle)
    assert response.status_code == 410
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[0]"]
    assert fhir.get("/Patient/old").status_code == 200


def test_an_invalid_entry_in_the_middle_writes_nothing(fhir: httpx.Client, server: RunningServer) -> None:
    bundle = transaction(
        post({"resourceType": "Patient", "gender": "male"}, PATIENT_URL),
        put({"resourceType": "Patient", "id": "a"}, "Patient/b"),
        post(observation(PATIENT_URL)),
    )
    response = fhir.post("", json=bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.id"]
    assert count_rows(server.database_url, "resource") == 0
    assert count_rows(server.database_url, "resource_history") == 0


def test_a_failing_precondition_fails_the_transaction_with_its_status(fhir: httpx.Client) -> None:
    fhir.put("/Patient/m", json={"resourceType": "Patient", "id": "m"})
    bundle = transaction(post({"resourceType": "Patient"}),
                         put({"resourceType": "Patient", "id": "m"}, "Patient/m", ifMatch='W/"7"'))
    response = fhir.post("", json=bundle)
    assert response.status_code == 412
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1]"] and issue["diagnostics"].startswith("Bundle.entry[1]:")


def test_a_transaction_may_not_change_one_resource_twice(fhir: httpx.Client) -> None:
    bundle = transaction(
        put({"resourceType": "Patient", "id": "x"}, "Patient/x"),
        {"request": {"method": "DELETE", "url": "Patient/x"}},
    )
    response = fhir.post("", json=bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].request.url"]


def test_two_entries_may_not_share_a_full_url(fhir: httpx.Client) -> None:
    bundle = transaction(post({"resourceType": "Patient"}, PATIENT_URL), post({"resourceType": "Patient"}, PATIENT_URL))
    response = fhir.post("", json=bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].fullUrl"]


def test_put_entries_with_urn_full_urls_are_referenced_by_their_id(fhir: httpx.Client) -> None:
    bundle = transaction(
        put({"resourceType": "Patient", "id": "p7"}, "Patient/p7", PATIENT_URL),
        post(observation(PATIENT_URL)),
    )
    entries = fhir.post("", json=bundle).json()["entry"]
    assert entries[0]["response"]["status"] == "201 Created"
    assert entries[1]["resource"]["subject"]["reference"] == "Patient/p7"


def test_a_patch_entry_applies_a_json_patch_sent_as_binary(fhir: httpx.Client) -> None:
    fhir.put("/Patient/pp", json={"resourceType": "Patient", "id": "pp", "gender": "male"})
    operations = [{"op": "replace", "path": "/gender", "value": "female"}]
    binary = {"resourceType": "Binary", "contentType": "application/json-patch+json",
              "data": base64.b64encode(json.dumps(operations).encode()).decode()}
    bundle = transaction({"resource": binary, "request": {"method": "PATCH", "url": "Patient/pp", "ifMatch": 'W/"1"'}},
                         post({"resourceType": "Patient"}))
    entries = fhir.post("", json=bundle).json()["entry"]
    assert entries[0]["response"]["status"] == "200 OK"
    assert entries[0]["resource"]["gender"] == "female" and entries[0]["response"]["etag"] == 'W/"2"'


def test_put_entries_create_update_and_delete_together(fhir: httpx.Client) -> None:
    fhir.put("/Patient/u", json={"resourceType": "Patient", "id": "u"})
    fhir.put("/Patient/d", json={"resourceType": "Patient", "id": "d"})
    bundle = transaction(
        put({"resourceType": "Patient", "id": "c", "gender": "female"}, "Patient/c"),
        put({"resourceType": "Patient", "id": "u", "gender": "male"}, "Patient/u", ifMatch='W/"1"'),
        {"request": {"method": "DELETE", "url": "Patient/d"}},
        {"request": {"method": "DELETE", "url": "Patient/never-was"}},
    )
    entries = fhir.post("", json=bundle).json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created", "200 OK", "204 No Content", "204 No Content"]
    assert [e["response"].get("etag") for e in entries[:3]] == ['W/"1"', 'W/"2"', 'W/"2"']
    assert fhir.get("/Patient/c").json()["gender"] == "female"
    assert fhir.get("/Patient/u").json()["gender"] == "male"
    assert fhir.get("/Patient/d").status_code == 410


@pytest.mark.parametrize(("bundle", "expression"), [
    ({"resourceType": "Patient"}, "Bundle.resourceType"),
    ({"resourceType": "Bundle", "type": "collection"}, "Bundle.type"),
    ({"resourceType": "Bundle", "type": "transaction", "entry": {"x": 1}}, "Bundle.entry"),
    (transaction({"resource": {"resourceType": "Patient"}}), "Bundle.entry[0].request"),
    (transaction({"request": {"method": "FETCH", "url": "Patient"}}), "Bundle.entry[0].request.method"),
    (transaction({"request": {"method": "GET"}}), "Bundle.entry[0].request.url"),
    (transaction(post({"resourceType": "Patient"}), {"request": {"method": "GET", "url": "Nonsense/1"}}),
     "Bundle.entry[1].request.url"),
    (transaction({"request": {"method": "GET", "url": "Patient/not valid!"}}), "Bundle.entry[0].request.url"),
    (transaction({"request": {"method": "GET", "url": "http://elsewhere.example/fhir/Patient/1"}}),
     "Bundle.entry[0].request.url"),
    (transaction({"request": {"method": "POST", "url": ""}}), "Bundle.entry[0].request.url"),
    (transaction({"request": {"method": "POST", "url": "/"}, "resource": transaction()}),
     "Bundle.entry[0].request.url"),
    (transaction({"request": {"method": "PUT", "url": "Patient/1"}}), "Bundle.entry[0].resource"),
    (transaction({"request": {"method": "POST", "url": "Patient"}, "resource": [1]}), "Bundle.entry[0].resource"),
    (transaction(post({"resourceType": "Observation"}, url="Patient")), "Bundle.entry[0].resource.resourceType"),
    (transaction("not an entry"), "Bundle.entry[0]"),  # type: ignore[arg-type]
])
def test_malformed_bundles_are_a_400_naming_the_element(
    fhir: httpx.Client, bundle: dict[str, Any], expression: str
) -> None:
    response = fhir.post("", json=bundle)
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == [expression]


def test_prefer_return_minimal_leaves_resources_out(fhir: httpx.Client) -> None:
    response = fhir.post("", json=transaction(post({"resourceType": "Patient"})), headers={"Prefer": "return=minimal"})
    entry = response.json()["entry"][0]
    assert "resource" not in entry and entry["response"]["location"].startswith("Patient/")


def test_a_head_entry_answers_without_the_resource(fhir: httpx.Client) -> None:
    fhir.put("/Patient/h", json={"resourceType": "Patient", "id": "h"})
    entry = fhir.post("", json=transaction({"request": {"method": "HEAD", "url": "Patient/h"}})).json()["entry"][0]
    assert entry["response"]["status"] == "200 OK" and entry["response"]["etag"] == 'W/"1"'
    assert "resource" not in entry


def test_an_empty_transaction_answers_an_empty_response(fhir: httpx.Client) -> None:
    response = fhir.post("", json=transaction())
    assert response.status_code == 200
    assert response.json() == {"resourceType": "Bundle", "type": "transaction-response", "entry": []}


def test_the_capability_statement_declares_batch_and_transaction(fhir: httpx.Client) -> None:
    codes = {i["code"] for i in fhir.get("/metadata").json()["rest"][0]["interaction"]}
    assert {"batch", "transaction"} <= codes
