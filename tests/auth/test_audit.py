"""Every access leaves one AuditEvent (https://hl7.org/fhir/R4/auditevent.html): who, which client,
from where, what, the query of a search and the outcome, in the caller's own project."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireside.auth.audit import AUDIT_LOGGER
from fireside.config import Settings
from tests.auth.conftest import Identity
from tests.conftest import RunningServer, start_server

RESTFUL = "http://hl7.org/fhir/restful-interaction"


def subtype(event: dict[str, Any]) -> str:
    code: str = event["subtype"][0]["code"]
    return code


def about_audit_events(event: dict[str, Any]) -> bool:
    """The test's own searches of AuditEvent are audited too; leave them out of the counts."""
    return any(e.get("type", {}).get("code") == "AuditEvent" for e in event.get("entity", []))


def audit_events(fhir: httpx.Client, until: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 10) -> list[dict[str, Any]]:
    """The project's AuditEvents (but those about AuditEvents), once `until` holds: the store sink
    writes in the background, ~100 ms after the request."""
    deadline = time.monotonic() + timeout
    while True:
        bundle = fhir.get("/AuditEvent", params={"_count": "1000"}).json()
        events = [e["resource"] for e in bundle.get("entry", []) if not about_audit_events(e["resource"])]
        if until(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def at_least(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda events: len(events) >= count


def test_each_interaction_leaves_one_audit_event_with_its_subtype_and_outcome(server: RunningServer) -> None:
    fhir = server.fhir_client(new_project="Audited")
    created = fhir.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Audit"}]}).json()
    patient = f"Patient/{created['id']}"
    fhir.get(f"/{patient}")
    fhir.get(f"/{patient}/_history/1")
    fhir.put(f"/{patient}", json={**created, "gender": "female"})
    fhir.patch(f"/{patient}", content=b'[{"op": "replace", "path": "/gender", "value": "male"}]',
               headers={"Content-Type": "application/json-patch+json"})
    fhir.get("/Patient", params={"family": "Audit"})
    fhir.get(f"/{patient}/_history")
    fhir.post("/Patient/$validate", json={"resourceType": "Patient"})
    fhir.post("", json={"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": patient}},
        {"request": {"method": "GET", "url": "Patient/missing"}},
    ]})
    fhir.delete(f"/{patient}")
    # The client's own token request comes first.
    expected = ["token", "create", "read", "vread", "update", "patch", "search-type", "history-instance",
                "operation", "batch", "read", "read", "delete"]
    events = audit_events(fhir, at_least(len(expected)))
    assert sorted(subtype(e) for e in events) == sorted(expected)
    by_subtype = {subtype(e): e for e in events}
    assert by_subtype["create"]["action"] == "C" and by_subtype["create"]["outcome"] == "0"
    assert by_subtype["create"]["entity"][0]["what"]["reference"] == patient
    assert by_subtype["vread"]["entity"][0]["what"]["reference"] == f"{patient}/_history/1"
    assert by_subtype["update"]["action"] == "U" and by_subtype["delete"]["action"] == "D"
    assert by_subtype["operation"]["entity"][0]["detail"] == [{"type": "operation", "valueString": "$validate"}]
    missing = [e for e in events if e.get("entity", [{}])[0].get("what", {}).get("reference") == "Patient/missing"]
    assert [(e["outcome"], e["outcomeDesc"]) for e in missing] == [("4", "HTTP 404")]
    for event in (e for e in events if subtype(e) != "token"):
        assert event["type"]["code"] == "rest" and event["subtype"][0]["system"] == RESTFUL
        agent = event["agent"][0]
        assert agent["requestor"] is True
        assert agent["altId"].startswith("ClientApplication/")
        assert agent["who"]["identifier"] == {"system": "https://fireside.dev/fhir/author", "value": agent["altId"]}
        assert agent["network"] == {"address": "127.0.0.1", "type": "2"}


def test_a_transaction_is_audited_once_and_each_of_its_entries_once(server: RunningServer) -> None:
    fhir = server.fhir_client(new_project="Transacted")
    answer = fhir.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                      "subject": {"reference": "urn:uuid:1"}}, "request": {"method": "POST", "url": "Observation"}},
    ]})
    assert answer.status_code == 200
    events = [e for e in audit_events(fhir, at_least(4)) if subtype(e) != "token"]
    assert sorted(subtype(e) for e in events) == ["create", "create", "transaction"]
    created = {e["entity"][0]["what"]["reference"].split("/")[0] for e in events if subtype(e) == "create"}
    assert created == {"Patient", "Observation"}


def test_a_search_is_audited_with_its_query_in_base64(server: RunningServer) -> None:
    fhir = server.fhir_client(new_project="Searched")
    assert fhir.get("/Observation", params={"code": "http://loinc.org|1234-5", "_count": "5"}).status_code == 200
    [event] = [e for e in audit_events(fhir, at_least(2)) if subtype(e) != "token"]
    assert subtype(event) == "search-type" and event["action"] == "E"
    [entity] = event["entity"]
    assert entity["type"]["code"] == "Observation"
    assert entity["role"]["code"] == "24"
    assert base64.b64decode(entity["query"]).decode() == "code=http%3A%2F%2Floinc.org%7C1234-5&_count=5"


def test_audit_events_are_searchable_by_entity_subtype_caller_and_address(server: RunningServer) -> None:
    fhir = server.fhir_client(new_project="Searchable")
    created = fhir.post("/Patient", json={"resourceType": "Patient"}).json()
    patient = f"Patient/{created['id']}"
    fhir.get(f"/{patient}")
    [read] = [e for e in audit_events(fhir, at_least(3)) if subtype(e) == "read"]
    caller = read["agent"][0]["altId"]

    def found(**params: str) -> set[str]:
        bundle = fhir.get("/AuditEvent", params=params).json()
        return {e["resource"]["id"] for e in bundle.get("entry", [])}

    assert read["id"] in found(entity=patient, subtype="read")
    assert found(entity=patient, subtype="read") == {read["id"]}
    assert read["id"] in found(altid=caller, address="127.0.0.1")
    assert found(entity=patient, outcome="4") == set()


def test_a_failed_request_is_audited_with_its_http_status(server: RunningServer) -> None:
    fhir = server.fhir_client(new_project="Failing")
    assert fhir.post("/Patient", json={"resourceType": "Patient", "gender": "sometimes"}).status_code == 400
    [event] = [e for e in audit_events(fhir, at_least(2)) if subtype(e) != "token"]
    assert (subtype(event), event["outcome"], event["outcomeDesc"]) == ("create", "4", "HTTP 400")


def test_audit_events_are_valid_r4(server: RunningServer) -> None:
    fhir = server.fhir_client(new_project="Valid")
    fhir.get("/Patient", params={"name": "x"})
    fhir.post("/Patient", json={"resourceType": "Patient"})
    events = audit_events(fhir, at_least(2))
    for event in events:
        outcome = fhir.post("/AuditEvent/$validate", json=event).json()
        errors = [i for i in outcome.get("issue", []) if i["severity"] in ("error", "fatal")]
        assert errors == [], errors


def test_writing_an_audit_event_is_not_audited_but_reading_it_is(server: RunningServer) -> None:
    fhir = server.fhir_client(new_project="Recursion")
    fhir.get("/Patient")
    [original] = [e for e in audit_events(fhir, at_least(2)) if subtype(e) != "token"]
    copy = {k: v for k, v in original.items() if k not in ("id", "meta")}
    written = fhir.post("/AuditEvent", json=copy).json()
    fhir.get(f"/AuditEvent/{written['id']}")
    time.sleep(0.5)
    bundle = fhir.get("/AuditEvent", params={"_count": "1000"}).json()
    events = [e["resource"] for e in bundle["entry"]]
    reads = [e for e in events if subtype(e) == "read"]
    assert [subtype(e) for e in events].count("search-type") >= 2  # the searches of AuditEvent too
    assert [e["entity"][0]["what"]["reference"] for e in reads] == [f"AuditEvent/{written['id']}"]
    assert not [e for e in events if subtype(e) == "create"]


def test_another_project_never_sees_the_audit_events(server: RunningServer) -> None:
    first = server.fhir_client(new_project="First")
    second = server.fhir_client(new_project="Second")
    created = first.post("/Patient", json={"resourceType": "Patient"}).json()
    assert audit_events(first, at_least(2))
    time.sleep(0.3)
    seen = [e["resource"] for e in second.get("/AuditEvent", params={"_count": "1000"}).json().get("entry", [])]
    second_client = next(e["agent"][0]["altId"] for e in seen)
    assert {e["agent"][0]["altId"] for e in seen} == {second_client}
    assert f"Patient/{created['id']}" not in str(seen)


def test_sign_in_and_token_issue_are_audited_in_the_clients_project(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    user_id = identity.user(project, "ana@clinic.example", admin=True)
    tokens = identity.exchange(client_id, identity.sign_in(client_id, "ana@clinic.example"))
    with identity.fhir(tokens["access_token"]) as fhir:
        events = audit_events(fhir, at_least(2))
    login = next(e for e in events if subtype(e) == "110122")
    assert login["type"]["code"] == "110114" and login["outcome"] == "0"
    assert login["agent"][0]["altId"] == f"User/{user_id}"
    assert login["agent"][1]["altId"] == f"ClientApplication/{client_id}"
    token = next(e for e in events if subtype(e) == "token")
    assert token["agent"][0]["altId"] == f"User/{user_id}"
    assert token["agent"][0]["network"]["address"] == "127.0.0.1"


def test_sign_out_is_audited_with_the_user(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    user_id = identity.user(project, "ana@clinic.example")
    tokens = identity.exchange(client_id, identity.sign_in(client_id, "ana@clinic.example"))
    assert identity.browser.get(identity.url("/oauth2/logout"),
                                params={"id_token_hint": tokens["id_token"]}).status_code == 200
    # A new sign-in, to read the project's events with.
    with identity.fhir(identity.exchange(client_id, identity.sign_in(client_id, "ana@clinic.example"))
                       ["access_token"]) as fhir:
        events = audit_events(fhir, lambda found: any(subtype(e) == "110123" for e in found))
    logout = next(e for e in events if subtype(e) == "110123")
    assert logout["type"]["code"] == "110114" and logout["outcome"] == "0"
    assert logout["agent"][0]["altId"] == f"User/{user_id}"


def test_a_failed_sign_in_for_an_unknown_email_is_audited_in_the_admin_project(
        server: RunningServer, identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    page = identity.authorize(client_id, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                              code_challenge_method="S256")
    assert identity.submit(page, "nobody@nowhere.example", "guess").status_code == 401
    admin = server.fhir_client()
    events = audit_events(admin, lambda found: any(subtype(e) == "110122" for e in found))
    # The admin client's own token issue is audited too, in whatever order the sink writes them.
    [failure] = [e for e in events if subtype(e) == "110122"]
    assert failure["outcome"] == "4"
    assert failure["agent"][0]["altId"] == "nobody@nowhere.example"
    assert failure["agent"][1]["altId"] == f"ClientApplication/{client_id}"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The test's own HTTP client logs its URLs; the server's loggers are what is checked.
        if not record.name.startswith(("httpx", "httpcore")):
            self.messages.append(record.getMessage())


@pytest.fixture
def log_sink_server(database_url: str, tmp_path: Path) -> Iterator[tuple[RunningServer, Capture, Capture]]:
    audit_lines, everything_else = Capture(), Capture()
    audit_logger = logging.getLogger(AUDIT_LOGGER)
    audit_logger.addHandler(audit_lines)
    logging.getLogger().addHandler(everything_else)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    uvicorn_server, thread, port = start_server(database_url, tmp_path, audit="log")
    running = RunningServer(f"http://127.0.0.1:{port}", database_url, Settings(data_dir=tmp_path))
    try:
        yield running, audit_lines, everything_else
    finally:
        running.close()
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        audit_logger.removeHandler(audit_lines)
        logging.getLogger().removeHandler(everything_else)
        logging.getLogger().setLevel(previous_level)


def test_the_log_sink_writes_json_lines_and_no_phi_reaches_other_loggers(
        log_sink_server: tuple[RunningServer, Capture, Capture]) -> None:
    import orjson

    server, audit_lines, everything_else = log_sink_server
    fhir = server.fhir_client(new_project="Logged")
    fhir.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Zebediah"}]})
    fhir.get("/Patient", params={"family": "Zebediah"})
    fhir.post("/Patient", json={"resourceType": "Patient", "birthDate": "Zebediah"})
    events = [orjson.loads(line) for line in audit_lines.messages]
    assert [subtype(e) for e in events] == ["token", "create", "search-type", "create"]
    assert all(e["resourceType"] == "AuditEvent" for e in events)
    assert base64.b64decode(events[2]["entity"][0]["query"]) == b"family=Zebediah"
    encoded = base64.b64encode(b"family=Zebediah").decode()
    leaked = [m for m in everything_else.messages if "Zebediah" in m or encoded in m]
    assert leaked == []
    # Nothing was stored: the log is the sink.
    stored = fhir.get("/AuditEvent").json()
    assert stored.get("total", len(stored.get("entry", []))) == 0
