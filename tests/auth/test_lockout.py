"""Lock-out: repeated failed sign-ins lock one email for a while, with a clear message that is the
same whether or not an account has that email."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import PASSWORD, Identity, clinic_with_user
from tests.auth.test_audit import audit_events, subtype
from tests.conftest import RunningServer, running_server

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
LOCKED = "Too many failed sign-ins for this email"


@pytest.fixture
def locking_server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """Three failures lock an email for two seconds."""
    with running_server(database_url, tmp_path, lockout_failures=3, lockout_seconds=2) as running:
        yield running


@pytest.fixture
def clinic(locking_server: RunningServer) -> Iterator[tuple[Identity, str]]:
    yield from clinic_with_user(locking_server, "ana@clinic.example")


def attempt(identity: Identity, client_id: str, email: str, password: str) -> httpx.Response:
    page = identity.authorize(client_id, code_challenge=CHALLENGE, code_challenge_method="S256")
    return identity.submit(page, email, password)


def test_the_right_password_is_refused_once_an_account_is_locked(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    failures = [attempt(identity, client_id, "ana@clinic.example", "wrong") for _ in range(3)]
    assert [f.status_code for f in failures] == [401, 401, 401]
    assert "Wrong email or password" in failures[0].text
    assert LOCKED in failures[2].text
    locked = attempt(identity, client_id, "ana@clinic.example", PASSWORD)
    assert locked.status_code == 401 and LOCKED in locked.text


def test_an_unknown_email_locks_the_same_way_so_the_lock_reveals_nothing(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    known = [attempt(identity, client_id, "ana@clinic.example", "wrong").text for _ in range(4)]
    unknown = [attempt(identity, client_id, "nobody@clinic.example", "wrong").text for _ in range(4)]

    def message(page: str) -> str:
        return page[page.index('role="alert">'):].split("<")[0]

    assert [message(p) for p in known] == [message(p) for p in unknown]


def test_the_lock_ends_after_its_time(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    for _ in range(3):
        attempt(identity, client_id, "ana@clinic.example", "wrong")
    time.sleep(2.2)
    assert attempt(identity, client_id, "ana@clinic.example", PASSWORD).status_code == 303


def test_a_successful_sign_in_forgives_earlier_failures(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    for _ in range(2):
        attempt(identity, client_id, "Ana@Clinic.example", "wrong")
    assert attempt(identity, client_id, "ana@clinic.example", PASSWORD).status_code == 303
    for _ in range(2):
        attempt(identity, client_id, "ana@clinic.example", "wrong")
    assert attempt(identity, client_id, "ana@clinic.example", PASSWORD).status_code == 303


def test_the_locking_failure_is_audited_as_a_major_failure(locking_server: RunningServer,
                                                           clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    for _ in range(3):
        attempt(identity, client_id, "ana@clinic.example", "wrong")
    admin = locking_server.fhir_client()
    events = audit_events(admin, lambda found: sum(subtype(e) == "110122" for e in found) >= 3)
    outcomes = [e["outcome"] for e in sorted(events, key=lambda e: e["recorded"]) if subtype(e) == "110122"]
    assert outcomes == ["4", "4", "12"]
