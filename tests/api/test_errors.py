"""Bad requests get a precise 4xx OperationOutcome, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningServer


def _outcome(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body


def test_bad_json_is_a_400(fhir: httpx.Client) -> None:
    _outcome(fhir.post("/Patient", content=b"{not json"), 400)


def test_wrong_resource_type_is_a_400(fhir: httpx.Client) -> None:
    _outcome(fhir.post("/Patient", json={"resourceType": "Observation"}), 400)


def test_id_mismatch_on_update_is_a_400_naming_the_id(fhir: httpx.Client) -> None:
    body = _outcome(fhir.put("/Patient/a", json={"resourceType": "Patient", "id": "b"}), 400)
    assert body["issue"][0]["expression"] == ["Patient.id"]  # type: ignore[index]


def test_unknown_type_is_a_404(fhir: httpx.Client) -> None:
    _outcome(fhir.get("/Spaceship/1"), 404)


def test_bad_version_is_a_404(fhir: httpx.Client) -> None:
    fhir.put("/Patient/a", json={"resourceType": "Patient", "id": "a"})
    _outcome(fhir.get("/Patient/a/_history/x"), 404)


def test_xml_is_not_acceptable(fhir: httpx.Client) -> None:
    _outcome(fhir.get("/Patient/a", headers={"Accept": "application/fhir+xml"}), 406)
    _outcome(fhir.get("/Patient/a", params={"_format": "xml"}), 406)


def test_xml_body_is_unsupported_media(fhir: httpx.Client) -> None:
    response = fhir.post("/Patient", content=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"})
    _outcome(response, 415)


@pytest.mark.parametrize("body", [b"[]", b"42", b"null", b'"text"', b"{}"])
def test_non_resource_json_is_a_400(fhir: httpx.Client, body: bytes) -> None:
    _outcome(fhir.post("/Patient", content=body), 400)


def test_missing_token_is_a_401(server: RunningServer) -> None:
    response = httpx.get(server.fhir_url + "/Patient/a")
    _outcome(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_forged_token_is_a_401(server: RunningServer) -> None:
    response = httpx.get(server.fhir_url + "/Patient/a", headers={"Authorization": "Bearer abc.def.ghi"})
    _outcome(response, 401)


def test_metadata_needs_no_token(server: RunningServer) -> None:
    response = httpx.get(server.fhir_url + "/metadata")
    assert response.status_code == 200
    assert response.json()["fhirVersion"] == "4.0.1"


def test_oversized_body_is_a_413(fhir: httpx.Client) -> None:
    big = b'{"resourceType":"Patient","text":"' + b"x" * (17 * 1024 * 1024) + b'"}'
    _outcome(fhir.post("/Patient", content=big), 413)


def test_an_invalid_resource_is_a_400_naming_the_element(fhir: httpx.Client) -> None:
    body = _outcome(fhir.post("/Patient", json={"resourceType": "Patient", "name": [{"given": ["a", ""]}]}), 400)
    assert body["issue"][0]["expression"] == ["Patient.name[0].given[1]"]  # type: ignore[index]


def test_meta_that_is_not_an_object_is_a_400(fhir: httpx.Client) -> None:
    _outcome(fhir.put("/Patient/m", json={"resourceType": "Patient", "id": "m", "meta": "bad"}), 400)


def test_an_invalid_entry_in_a_transaction_names_the_entry_path(fhir: httpx.Client) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "birthDate": "1999-99"}, "request": {"method": "POST",
                                                                                     "url": "Patient"}}]}
    body = _outcome(fhir.post("", json=bundle), 400)
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource.birthDate"]  # type: ignore[index]
