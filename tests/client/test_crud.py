"""The SDK's create, read, vread, update, delete and their conditional forms, against a real server."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from fireside.client import AsyncFiresideClient, FiresideClient, FiresideError
from fireside.client.types import Patient
from tests.conftest import RunningServer

MRN = "http://hospital.example/mrn"


def patient(family: str = "Chalmers", mrn: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family, "given": ["Peter"]}]}
    if mrn:
        resource["identifier"] = [{"system": MRN, "value": mrn}]
    return resource


def test_create_read_update_and_delete_round_trip_through_the_server(client: FiresideClient) -> None:
    created = client.create(patient())
    assert created["id"] and created["meta"]["versionId"] == "1"
    assert client.read("Patient", created["id"])["name"][0]["family"] == "Chalmers"
    created["name"][0]["family"] = "Windsor"
    updated = client.update(created)
    assert updated["meta"]["versionId"] == "2"
    assert client.vread("Patient", created["id"], "1")["name"][0]["family"] == "Chalmers"
    client.delete("Patient", created["id"])
    with pytest.raises(FiresideError) as raised:
        client.read("Patient", created["id"])
    assert raised.value.status == 410


def test_read_with_a_typed_dict_class_reads_that_type(client: FiresideClient) -> None:
    created: Patient = client.create({"resourceType": "Patient", "birthDate": "1974-12-25"})
    read = client.read(Patient, created["id"])
    assert read["birthDate"] == "1974-12-25"


def test_update_of_a_stale_version_raises_412_with_the_outcome(client: FiresideClient) -> None:
    first = client.create(patient())
    client.update({**first, "active": True})
    with pytest.raises(FiresideError) as raised:
        client.update({**first, "active": False})  # still carries meta.versionId 1
    assert raised.value.status == 412
    assert raised.value.outcome["resourceType"] == "OperationOutcome"
    assert raised.value.issues[0]["code"] == "conflict"
    assert "HTTP 412 PUT" in str(raised.value) and "If-Match" in str(raised.value)
    copy = pickle.loads(pickle.dumps(raised.value))
    assert (copy.status, copy.outcome, str(copy)) == (412, raised.value.outcome, str(raised.value))


def test_unversioned_update_overwrites_whatever_version_is_current(client: FiresideClient) -> None:
    first = client.create(patient())
    client.update({**first, "active": True})
    assert client.update({**first, "active": False}, versioned=False)["meta"]["versionId"] == "3"


def test_conditional_create_returns_the_existing_match_instead_of_a_duplicate(client: FiresideClient) -> None:
    first = client.create(patient(mrn="12345"), if_none_exist={"identifier": f"{MRN}|12345"})
    second = client.create(patient("Other", mrn="12345"), if_none_exist=f"identifier={MRN}|12345")
    assert second["id"] == first["id"]
    assert second["name"][0]["family"] == "Chalmers"


def test_update_where_updates_the_match_or_creates_when_none(client: FiresideClient) -> None:
    created = client.update_where(patient(mrn="777"), {"identifier": f"{MRN}|777"})
    updated = client.update_where({**patient("Renamed", mrn="777")}, {"identifier": f"{MRN}|777"})
    assert updated["id"] == created["id"]
    assert updated["meta"]["versionId"] == "2"


def test_a_rejected_request_raises_a_400_whose_message_names_the_element(client: FiresideClient) -> None:
    with pytest.raises(FiresideError) as raised:
        client.request("PUT", "Patient/abc", body={"resourceType": "Patient", "id": "xyz"})
    assert raised.value.status == 400
    assert "error invalid at Patient.id" in str(raised.value)


def test_validate_returns_the_outcome_and_stores_nothing(client: FiresideClient) -> None:
    outcome = client.validate({**patient(), "id": "ghost"}, mode="create")
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "information"
    with pytest.raises(FiresideError) as raised:
        client.read("Patient", "ghost")
    assert raised.value.status == 404


def test_binary_upload_and_download_return_the_same_bytes(client: FiresideClient) -> None:
    payload = bytes(range(256)) * 4
    binary = client.upload_binary(payload, "application/octet-stream")
    assert binary["contentType"] == "application/octet-stream"
    assert client.download_binary(binary["id"]) == payload


def test_a_refused_connection_raises_fireside_error_without_a_status() -> None:
    with FiresideClient("http://127.0.0.1:9", access_token="x", timeout=2) as client, \
            pytest.raises(FiresideError) as raised:
        client.read("Patient", "1")
    assert raised.value.status is None
    assert "no response" in str(raised.value)


def test_the_async_client_does_what_the_sync_client_does(server: RunningServer,
                                                         credentials: dict[str, str]) -> None:
    async def scenario() -> tuple[dict[str, Any], int | None]:
        async with AsyncFiresideClient(server.base_url, client_id=credentials["client_id"],
                                       client_secret=credentials["client_secret"]) as client:
            created = await client.create(patient(mrn="A1"))
            again = await client.create(patient(mrn="A1"), if_none_exist={"identifier": f"{MRN}|A1"})
            assert again["id"] == created["id"]
            updated = await client.update({**created, "active": True})
            try:
                await client.update({**created, "active": False})
            except FiresideError as error:
                return updated, error.status
            return updated, None

    updated, status = asyncio.run(scenario())
    assert updated["meta"]["versionId"] == "2"
    assert status == 412
