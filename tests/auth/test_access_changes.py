"""Two API processes on one database: a change of access made through one applies in the other
at once (fireside/auth/changes.py), not when the other's caches run out (10 s for policies, 5 s
for revocations)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.auth.access import fhir, member, observation, project, signed_in_token
from tests.auth.conftest import Identity
from tests.conftest import RunningServer, running_server

# Well under both caches' delays: only a notification explains a change seen this fast.
PROMPTLY = 2.0


@pytest.fixture
def other_process(server: RunningServer) -> Iterator[RunningServer]:
    """A second server on the same database and secret key, with caches of its own."""
    with running_server(server.database_url, server.settings.data_dir) as running:
        yield running


def project_admin(server: RunningServer, identity: Identity, project_id: uuid.UUID) -> httpx.Client:
    """A project admin user's FHIR client: only admins write memberships and policies."""
    email = f"admin-{uuid.uuid4().hex[:8]}@clinic.example"
    member(identity, project_id, email, [], admin=True)
    return fhir(server, signed_in_token(identity, project_id, email, "openid"))


def on(server: RunningServer, client: httpx.Client) -> httpx.Client:
    """`client`'s token, sent to `server`."""
    return fhir(server, client.headers["Authorization"].removeprefix("Bearer "))


def within(seconds: float, holds: Callable[[], bool]) -> float:
    """How long `holds` took to become true; fails after `seconds`."""
    started = time.monotonic()
    while not holds():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_removed_membership_ends_access_in_every_process_at_once(
    server: RunningServer, other_process: RunningServer, identity: Identity,
) -> None:
    clinic = project(server, "Clinic")
    patient = clinic.create({"resourceType": "Patient"})
    clinic.create(observation(patient))
    email = f"nurse-{uuid.uuid4().hex[:8]}@clinic.example"
    user_id = member(identity, clinic.id, email, [])
    elsewhere = on(other_process, fhir(server, signed_in_token(identity, clinic.id, email, "openid")))
    assert elsewhere.get("/Observation").json()["entry"]  # compiled and cached there now

    admin = project_admin(server, identity, clinic.id)
    memberships = admin.get("/ProjectMembership", params={"_count": "100"}).json()["entry"]
    membership = next(e["resource"]["id"] for e in memberships
                      if e["resource"].get("user", {}).get("reference") == f"User/{user_id}")
    assert admin.delete(f"/ProjectMembership/{membership}").status_code in (200, 204)

    # Without a membership the token is granted nothing: every interaction is refused.
    within(PROMPTLY, lambda: elsewhere.get("/Observation").status_code == 403)
    assert elsewhere.get(f"/Patient/{patient}").status_code == 403


def test_a_narrowed_policy_applies_in_every_process_at_once(
    server: RunningServer, other_process: RunningServer, identity: Identity,
) -> None:
    clinic = project(server, "Clinic")
    alice, bob = clinic.create({"resourceType": "Patient"}), clinic.create({"resourceType": "Patient"})
    clinic.create(observation(alice))
    clinic.create(observation(bob))
    email = f"nurse-{uuid.uuid4().hex[:8]}@clinic.example"
    member(identity, clinic.id, email, [{"resource": [{"resourceType": "Observation"}]}])
    elsewhere = on(other_process, fhir(server, signed_in_token(identity, clinic.id, email, "openid")))
    assert len(elsewhere.get("/Observation").json()["entry"]) == 2

    admin = project_admin(server, identity, clinic.id)
    [policy] = admin.get("/AccessPolicy").json()["entry"]
    narrowed = {**policy["resource"],
                "resource": [{"resourceType": "Observation", "criteria": f"Observation?subject=Patient/{alice}"}]}
    assert admin.put(f"/AccessPolicy/{narrowed['id']}", json=narrowed).status_code == 200

    within(PROMPTLY, lambda: len(elsewhere.get("/Observation").json().get("entry", [])) == 1)


def test_a_revoked_token_is_refused_by_every_process_at_once(
    server: RunningServer, other_process: RunningServer,
) -> None:
    credentials = server.create_client(new_project="Clinic")
    token = server.token(credentials)
    elsewhere = fhir(other_process, token)
    assert elsewhere.get("/Patient").status_code == 200  # checked, and trusted there for 5 s

    revoked = httpx.post(server.base_url + "/oauth2/revoke", data={"token": token},
                         auth=(credentials["client_id"], credentials["client_secret"]))
    assert revoked.status_code == 200

    within(PROMPTLY, lambda: elsewhere.get("/Patient").status_code == 401)
