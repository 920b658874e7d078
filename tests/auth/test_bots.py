"""Bots as principals: made with their membership by a project admin, acting through the token a
run of them gets, narrowed by their membership's access policy, and audited as themselves."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest

from fireside.fhir.errors import FhirError
from tests.auth.access import bot_token, fhir, member, observation, project, signed_in_token
from tests.auth.conftest import Identity
from tests.auth.test_audit import audit_events
from tests.conftest import RunningServer

OBSERVATION_WRITER = {"resourceType": "AccessPolicy",
                      "resource": [{"resourceType": "Observation"}, {"resourceType": "Patient", "readonly": True}]}


@dataclass
class Clinic:
    server: RunningServer
    identity: Identity
    project: UUID
    admin: httpx.Client  # a project admin user's FHIR client

    def create_bot(self, body: dict[str, Any], admin: httpx.Client | None = None,
                   project: UUID | None = None) -> httpx.Response:
        return httpx.post(self.identity.url(f"/admin/projects/{project or self.project}/bot"), json=body,
                          headers=(admin or self.admin).headers)

    def bot(self, **elements: Any) -> str:
        policy = self.admin.post("/AccessPolicy", json=OBSERVATION_WRITER).json()["id"]
        created = self.create_bot({"name": "lab sync", "accessPolicy": f"AccessPolicy/{policy}", **elements})
        assert created.status_code == 201, created.text
        bot_id: str = created.json()["id"]
        return bot_id


def _clinic(server: RunningServer, identity: Identity, name: str = "Clinic") -> Clinic:
    project_id = project(server, name).id
    email = f"admin-{uuid.uuid4().hex[:8]}@clinic.example"
    member(identity, project_id, email, [], admin=True)
    return Clinic(server, identity, project_id, fhir(server, signed_in_token(identity, project_id, email, "openid")))


@pytest.fixture
def clinic(server: RunningServer, identity: Identity) -> Clinic:
    return _clinic(server, identity)


def test_a_bot_is_made_with_its_membership(clinic: Clinic) -> None:
    bot_id = clinic.bot(description="Copies lab results", code="def handler(event):\n    return None\n")

    bot = clinic.admin.get(f"/Bot/{bot_id}").json()
    assert (bot["name"], bot["description"]) == ("lab sync", "Copies lab results")
    memberships = clinic.admin.get("/ProjectMembership").json()["entry"]
    mine = [e["resource"] for e in memberships if e["resource"].get("bot") == {"reference": f"Bot/{bot_id}"}]
    assert len(mine) == 1 and mine[0]["accessPolicy"][0]["reference"].startswith("AccessPolicy/")
    assert mine[0]["admin"] is False


def test_only_a_project_admin_of_the_project_makes_bots(
    clinic: Clinic, server: RunningServer, identity: Identity
) -> None:
    email = f"member-{uuid.uuid4().hex[:8]}@clinic.example"
    member(identity, clinic.project, email, [])
    plain_member = fhir(server, signed_in_token(identity, clinic.project, email, "openid"))
    assert clinic.create_bot({"name": "x"}, admin=plain_member).status_code == 403

    other = _clinic(server, identity, "Other")
    refused = clinic.create_bot({"name": "x"}, admin=other.admin)
    assert refused.status_code == 404  # another project's id says nothing about that project
    assert clinic.create_bot({"name": "x"}, project=uuid.uuid4()).status_code == 404


@pytest.mark.parametrize(("body", "path"), [
    ({}, "name"),
    ({"name": 5}, "name"),
    ({"name": "x", "admin": "yes"}, "admin"),
    ({"name": "x", "accessPolicy": "Patient/1"}, "accessPolicy"),
    ({"name": "x", "accessPolicy": "AccessPolicy/missing"}, "accessPolicy"),
])
def test_a_bad_bot_is_a_400_naming_the_element(clinic: Clinic, body: dict[str, Any], path: str) -> None:
    response = clinic.create_bot(body)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == [path]


def test_a_bot_acts_within_its_membership_policy(clinic: Clinic) -> None:
    patient = clinic.admin.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    clinic.admin.post("/Encounter", json={"resourceType": "Encounter", "status": "finished",
                                          "class": {"code": "AMB"}})
    bot = fhir(clinic.server, bot_token(clinic.server, clinic.project, clinic.bot()))

    assert bot.post("/Observation", json=observation(patient)).status_code == 201
    assert bot.get(f"/Patient/{patient}").status_code == 200
    assert bot.put(f"/Patient/{patient}", json={"resourceType": "Patient", "id": patient}).status_code == 403
    assert bot.get("/Encounter").json().get("entry", []) == []
    assert bot.post("/Encounter", json={"resourceType": "Encounter", "status": "finished",
                                        "class": {"code": "AMB"}}).status_code == 403


def test_a_bots_actions_are_audited_as_the_bot(clinic: Clinic) -> None:
    bot_id = clinic.bot()
    bot = fhir(clinic.server, bot_token(clinic.server, clinic.project, bot_id))
    created = bot.post("/Observation", json=observation("unknown")).json()["id"]

    def by_bot(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if any(a.get("altId") == f"Bot/{bot_id}" for a in e["agent"])]

    events = by_bot(audit_events(clinic.admin, lambda found: bool(by_bot(found))))
    assert any(entity.get("what", {}).get("reference", "").startswith(f"Observation/{created}")
               for event in events for entity in event.get("entity", []))


def test_a_bot_without_its_membership_reaches_nothing(clinic: Clinic) -> None:
    bot_id = clinic.bot()
    bot = fhir(clinic.server, bot_token(clinic.server, clinic.project, bot_id))
    assert bot.post("/Observation", json=observation("x")).status_code == 201
    memberships = clinic.admin.get("/ProjectMembership").json()["entry"]
    membership = next(e["resource"]["id"] for e in memberships
                      if e["resource"].get("bot") == {"reference": f"Bot/{bot_id}"})
    assert clinic.admin.delete(f"/ProjectMembership/{membership}").status_code in (200, 204)

    with pytest.raises(FhirError):
        bot_token(clinic.server, clinic.project, bot_id)
    # The token it already had stops working once compiled policies are re-read (10 s at most).
    deadline = time.monotonic() + 15
    while (status := bot.post("/Observation", json=observation("x")).status_code) == 201:
        assert time.monotonic() < deadline
        time.sleep(0.25)
    assert status == 403


def test_a_deleted_bot_gets_no_token(clinic: Clinic) -> None:
    bot_id = clinic.bot()
    assert clinic.admin.delete(f"/Bot/{bot_id}").status_code in (200, 204)
    with pytest.raises(FhirError) as raised:
        bot_token(clinic.server, clinic.project, bot_id)
    assert raised.value.http_status == 404
