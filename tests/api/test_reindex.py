"""$reindex over HTTP: custom SearchParameters through the REST API, and the job that indexes
what was written before them, followed through $job-status (https://hl7.org/fhir/R4/async.html).
The jobs run on the real worker inside the test server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, running_server, start_server

NICKNAME_URL = "http://example.org/fhir/StructureDefinition/nickname"
NICKNAME = {
    "resourceType": "SearchParameter", "url": "http://example.org/SearchParameter/nickname", "name": "nickname",
    "status": "active", "description": "A patient's nickname", "code": "nickname", "base": ["Patient"],
    "type": "string", "expression": f"Patient.extension.where(url = '{NICKNAME_URL}').value",
}


@pytest.fixture
def server(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A server whose worker reindexes in batches of 10, pausing between them so progress shows."""
    monkeypatch.setenv("FIRESIDE_REINDEX_BATCH_SIZE", "10")
    monkeypatch.setenv("FIRESIDE_REINDEX_BATCH_PAUSE_SECONDS", "0.05")
    monkeypatch.setenv("FIRESIDE_WORKER_POLL_SECONDS", "0.5")
    with running_server(database_url, tmp_path, stop_seconds=20) as running:
        yield running


def patients(fhir: httpx.Client, count: int, prefix: str = "p") -> None:
    entries = [{"resource": {"resourceType": "Patient", "id": f"{prefix}{n}",
                             "extension": [{"url": NICKNAME_URL, "valueString": f"nick{n}"}]},
                "request": {"method": "PUT", "url": f"Patient/{prefix}{n}"}} for n in range(count)]
    response = fhir.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 200, response.text


def search_ids(fhir: httpx.Client, query: str) -> set[str]:
    response = fhir.get(f"Patient?{query}&_count=1000")
    assert response.status_code == 200, response.text
    return {entry["resource"]["id"] for entry in response.json().get("entry", [])}


def reindex(fhir: httpx.Client, path: str = "$reindex", **parameters: str) -> str:
    body = {"resourceType": "Parameters",
            "parameter": [{"name": name, "valueString": value} for name, value in parameters.items()]}
    response = fhir.post(path, json=body)
    assert response.status_code == 202, response.text
    return response.headers["Content-Location"]


def wait_until_done(fhir: httpx.Client, status_url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = fhir.get(status_url)
        if response.status_code != 202:
            return response
        time.sleep(0.05)
    raise AssertionError(f"the job at {status_url} did not finish in {timeout} s")


def test_resources_written_before_a_search_parameter_are_found_only_after_reindex(fhir: httpx.Client) -> None:
    patients(fhir, 5)
    assert fhir.post("SearchParameter", json=NICKNAME).status_code == 201
    patients(fhir, 1, prefix="late")
    assert search_ids(fhir, "nickname=nick0") == {"late0"}
    done = wait_until_done(fhir, reindex(fhir))
    assert done.status_code == 200, done.text
    assert done.json()["resourceType"] == "OperationOutcome"
    # Every resource of the project: the Patients, the SearchParameter, the admin project's own.
    assert re.fullmatch(r"(\d+) of \1 resources", done.headers["X-Progress"])
    assert search_ids(fhir, "nickname=nick0") == {"p0", "late0"}


def test_progress_shows_while_the_job_runs(fhir: httpx.Client) -> None:
    patients(fhir, 300)
    fhir.post("SearchParameter", json=NICKNAME)
    status_url = reindex(fhir, "Patient/$reindex")
    seen: list[str] = []
    response = fhir.get(status_url)
    while response.status_code == 202:
        seen.append(response.headers["X-Progress"])
        time.sleep(0.02)
        response = fhir.get(status_url)
    assert response.status_code == 200
    assert any(p.endswith(" of 300 resources") and 0 < int(p.split()[0]) < 300 for p in seen), seen
    assert response.headers["X-Progress"] == "300 of 300 resources"
    assert search_ids(fhir, "nickname=nick299") == {"p299"}


def test_the_search_parameter_input_narrows_a_system_reindex_to_its_base_types(fhir: httpx.Client) -> None:
    patients(fhir, 3)
    fhir.post("Observation", json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    fhir.post("SearchParameter", json=NICKNAME)
    done = wait_until_done(fhir, reindex(fhir, searchParameter=NICKNAME["url"]))
    assert done.headers["X-Progress"] == "3 of 3 resources"
    assert search_ids(fhir, "nickname=nick2") == {"p2"}


def test_an_unknown_search_parameter_input_is_a_400(fhir: httpx.Client) -> None:
    response = fhir.post("Patient/$reindex", json={"resourceType": "Parameters", "parameter": [
        {"name": "searchParameter", "valueString": "no-such-code"}]})
    assert response.status_code == 400
    assert "no-such-code" in response.json()["issue"][0]["diagnostics"]


def test_an_unknown_operation_input_is_a_400_naming_it(fhir: httpx.Client) -> None:
    response = fhir.post("$reindex", json={"resourceType": "Parameters", "parameter": [
        {"name": "everything", "valueBoolean": True}]})
    assert response.status_code == 400
    assert "everything" in response.json()["issue"][0]["diagnostics"]


def test_a_job_is_invisible_to_other_projects(server: RunningServer, fhir: httpx.Client) -> None:
    status_url = reindex(fhir)
    stranger = server.fhir_client(new_project="elsewhere")
    assert stranger.get(status_url).status_code == 404
    assert stranger.delete(status_url).status_code == 404
    assert wait_until_done(fhir, status_url).status_code == 200


def test_deleting_the_status_url_cancels_the_job(fhir: httpx.Client) -> None:
    patients(fhir, 300)
    status_url = reindex(fhir)
    while fhir.get(status_url).headers.get("X-Progress", "").startswith("0 "):
        time.sleep(0.02)
    assert fhir.delete(status_url).status_code == 202
    progress_at_cancel = fhir.get(status_url)
    assert progress_at_cancel.status_code == 404
    assert "cancelled" in progress_at_cancel.json()["issue"][0]["diagnostics"]


def test_reindex_by_get_is_refused_since_it_changes_state(fhir: httpx.Client) -> None:
    assert fhir.get("$reindex").status_code == 405


def test_a_malformed_job_id_is_a_400(fhir: httpx.Client) -> None:
    assert fhir.get("$job-status?id=nonsense").status_code == 400
    assert fhir.get("$job-status").status_code == 400


def test_a_search_parameter_with_an_invalid_expression_is_refused_with_an_outcome(fhir: httpx.Client) -> None:
    response = fhir.post("SearchParameter", json={**NICKNAME, "expression": "Patient.name.where("})
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["SearchParameter.expression"]


def test_a_search_parameter_of_an_unsupported_type_is_refused(fhir: httpx.Client) -> None:
    response = fhir.post("SearchParameter", json={**NICKNAME, "type": "composite"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["SearchParameter.type"]


def test_deleting_a_search_parameter_removes_it_from_search(fhir: httpx.Client) -> None:
    created = fhir.post("SearchParameter", json=NICKNAME).json()
    patients(fhir, 1)
    assert search_ids(fhir, "nickname=nick0") == {"p0"}
    assert fhir.delete(f"SearchParameter/{created['id']}").status_code in (200, 204)
    strict = fhir.get("Patient?nickname=nick0", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400


def test_a_search_parameter_created_through_one_process_applies_in_another_at_once(
    server: RunningServer, fhir: httpx.Client, tmp_path: Path
) -> None:
    """Each app has its own registry cache; the other learns of the change by NOTIFY."""
    other_server, thread, port = start_server(server.database_url, tmp_path / "other")
    try:
        token = fhir.headers["Authorization"]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/fhir/R4", timeout=30,
                          headers={"Authorization": token, "Content-Type": "application/fhir+json"}) as other:
            patients(fhir, 1)
            assert other.get("Patient?nickname=nick0").json()["total"] == 1  # ignored: every Patient
            fhir.post("SearchParameter", json=NICKNAME)
            patients(fhir, 1, prefix="late")
            deadline = time.monotonic() + 5  # the notification arrives within milliseconds
            while search_ids(other, "nickname=nick0") != {"late0"}:
                assert time.monotonic() < deadline, "the other process never saw the new SearchParameter"
                time.sleep(0.02)
    finally:
        other_server.should_exit = True
        thread.join(timeout=20)


def test_the_capability_statement_lists_reindex(fhir: httpx.Client) -> None:
    statement = fhir.get("metadata").json()
    operations = {o["name"]: o["definition"] for o in statement["rest"][0]["operation"]}
    assert operations["reindex"] == "https://fireside.health/fhir/OperationDefinition/reindex"
