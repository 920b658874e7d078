"""Transactions built with BundleBuilder, batches, search with paging, history and patch.

Each test that needs an interaction asks the server's CapabilityStatement first and skips
while the server does not claim it (they were wired while the SDK was written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fireside.client import BundleBuilder, FiresideClient, FiresideError
from fireside.client.core import next_link
from fireside.config import Settings
from tests.client.conftest import require
from tests.conftest import RunningServer, start_server

LOINC_HEART_RATE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Heart rate"}


def heart_rate(subject: str, value: float) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": LOINC_HEART_RATE,
            "subject": {"reference": subject},
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}


def test_a_built_transaction_links_new_resources_through_their_urn_uuids(
        server: RunningServer, client: FiresideClient) -> None:
    require(server, "transaction")
    builder = BundleBuilder()
    patient = builder.create({"resourceType": "Patient", "name": [{"family": "Linked"}]})
    builder.create(heart_rate(patient, 72))
    assert patient.startswith("urn:uuid:") and len(builder) == 2
    response = client.transaction(builder)
    assert response["type"] == "transaction-response"
    patient_location, observation_location = (entry["response"]["location"] for entry in response["entry"])
    patient_id = patient_location.split("/")[-3]
    observation = client.read("Observation", observation_location.split("/")[-3])
    assert observation["subject"]["reference"] == f"Patient/{patient_id}"


def test_a_conditional_create_in_a_transaction_reuses_the_existing_resource(
        server: RunningServer, client: FiresideClient) -> None:
    require(server, "transaction")
    existing = client.create({"resourceType": "Practitioner", "identifier": [{"system": "npi", "value": "1"}]})
    builder = BundleBuilder()
    practitioner = builder.create({"resourceType": "Practitioner", "identifier": [{"system": "npi", "value": "1"}]},
                                  if_none_exist="identifier=npi|1")
    builder.create({"resourceType": "Patient", "generalPractitioner": [{"reference": practitioner}]})
    response = client.transaction(builder)
    patient_id = response["entry"][1]["response"]["location"].split("/")[-3]
    assert client.read("Patient", patient_id)["generalPractitioner"][0]["reference"] == \
        f"Practitioner/{existing['id']}"


def test_a_failing_transaction_raises_and_leaves_nothing_behind(server: RunningServer,
                                                                client: FiresideClient) -> None:
    require(server, "transaction")
    builder = BundleBuilder()
    builder.create({"resourceType": "Patient", "id": "ignored", "name": [{"family": "Rolled-back"}]})
    builder.update({"resourceType": "Patient", "id": "x", "meta": {"versionId": "9"}})
    with pytest.raises(FiresideError) as raised:
        client.transaction(builder)
    assert raised.value.status == 412


def test_a_batch_reports_each_entry_on_its_own(server: RunningServer, client: FiresideClient) -> None:
    require(server, "batch")
    kept = client.create({"resourceType": "Patient"})
    builder = BundleBuilder("batch")
    builder.read("Patient", kept["id"])
    builder.read("Patient", "missing")
    response = client.batch(builder)
    assert [entry["response"]["status"][:3] for entry in response["entry"]] == ["200", "404"]


def test_a_bundle_of_the_wrong_type_is_refused_before_sending(client: FiresideClient) -> None:
    with pytest.raises(FiresideError) as raised:
        client.transaction(BundleBuilder("batch"))
    assert raised.value.status is None and "transaction" in str(raised.value)


def test_search_resources_follows_next_links_across_pages(server: RunningServer, client: FiresideClient) -> None:
    require(server, "search-type")
    patient = client.create({"resourceType": "Patient"})
    for value in range(5):
        client.create(heart_rate(f"Patient/{patient['id']}", 60 + value))
    first_page = client.search("Observation", {"subject": f"Patient/{patient['id']}", "_count": 2})
    assert len(first_page["entry"]) == 2
    found = list(client.search_resources("Observation", {"subject": f"Patient/{patient['id']}", "_count": 2}))
    assert sorted(o["valueQuantity"]["value"] for o in found) == [60, 61, 62, 63, 64]
    one = client.search_one("Observation", {"subject": f"Patient/{patient['id']}"})
    assert one is not None and one["resourceType"] == "Observation"
    assert client.search_one("Observation", {"subject": "Patient/nobody"}) is None


def test_history_lists_every_version_newest_first(server: RunningServer, client: FiresideClient) -> None:
    require(server, "history-instance")
    created = client.create({"resourceType": "Patient", "active": True})
    client.update({**created, "active": False})
    history = client.history("Patient", created["id"])
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]


def test_patch_applies_a_json_patch(server: RunningServer, client: FiresideClient) -> None:
    require(server, "patch")
    created = client.create({"resourceType": "Patient", "active": True})
    patched = client.patch("Patient", created["id"], [{"op": "replace", "path": "/active", "value": False}])
    assert patched["active"] is False and patched["meta"]["versionId"] == "2"


def test_patch_applies_a_fhirpath_patch_parameters(server: RunningServer, client: FiresideClient) -> None:
    require(server, "patch")
    created = client.create({"resourceType": "Patient", "active": True})
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.active"},
        {"name": "value", "valueBoolean": False},
    ]}]}
    assert client.patch("Patient", created["id"], parameters)["active"] is False


def test_next_links_written_with_a_public_url_are_read_from_the_server_the_client_uses(
        database_url: str, tmp_path: Path) -> None:
    uvicorn_server, thread, port = start_server(database_url, tmp_path, public_url="https://fireside.example")
    running = RunningServer(f"http://127.0.0.1:{port}", database_url, Settings(data_dir=tmp_path))
    try:
        require(running, "search-type")
        credentials = running.create_client()
        with FiresideClient(running.base_url, client_id=credentials["client_id"],
                            client_secret=credentials["client_secret"]) as client:
            for family in ("Proxy", "Proxy", "Proxy"):
                client.create({"resourceType": "Patient", "name": [{"family": family}]})
            page = client.search("Patient", {"family": "Proxy", "_count": 1})
            assert next_link(page) is not None and next_link(page).startswith("https://fireside.example/")
            assert len(list(client.search_resources("Patient", {"family": "Proxy", "_count": 1}))) == 3
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
