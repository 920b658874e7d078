"""AccessPolicies on a membership (fireside/auth/policies.py): criteria inside the search SQL,
reads of what is out of reach as 404, writes held to the criteria, read-only rules, hidden and
read-only fields. Users sign in through the authorization code flow (tests/auth/conftest.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.auth.access import VITALS, Project, fhir, ids, member, observation, project, signed_in_token
from tests.auth.conftest import Identity
from tests.conftest import RunningServer

ALL = "openid user/*.*"


@dataclass
class Ward:
    project: Project
    alice: str
    bob: str
    lab: str
    vitals: str
    other: str


def _ward(server: RunningServer) -> Ward:
    ward = project(server, "Ward")
    alice = ward.create({"resourceType": "Patient", "birthDate": "1980-01-01", "gender": "female"})
    bob = ward.create({"resourceType": "Patient", "birthDate": "1990-01-01"})
    return Ward(ward, alice, bob, ward.create(observation(alice)), ward.create(observation(alice, VITALS)),
                ward.create(observation(bob)))


def _user(server: RunningServer, identity: Identity, ward: Ward, policies: list[dict[str, Any]],
          scope: str = ALL, **parameters: str) -> httpx.Client:
    email = f"user-{uuid.uuid4().hex[:12]}@ward.example"
    member(identity, ward.project.id, email, policies, parameters)
    return fhir(server, signed_in_token(identity, ward.project.id, email, scope))


def test_criteria_restrict_search_inside_the_sql(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "Observation", "criteria": "Observation?subject=%patient"}]}
    clinician = _user(server, identity, ward, [policy], patient=f"Patient/{ward.alice}")
    bundle = clinician.get("/Observation", params={"_count": "1", "_total": "accurate"})
    assert bundle.json()["total"] == 2  # the total counts only what the policy reaches
    assert any(link["relation"] == "next" for link in bundle.json()["link"])
    assert ids(clinician.get("/Observation")) == {ward.lab, ward.vitals}
    assert clinician.get(f"/Observation/{ward.lab}").status_code == 200
    assert clinician.get(f"/Observation/{ward.other}").status_code == 404
    assert clinician.get(f"/Patient/{ward.alice}").status_code == 403  # no rule for Patient


def test_a_compartment_policy_reaches_the_patients_resources_of_every_type(
    server: RunningServer, identity: Identity
) -> None:
    ward = _ward(server)
    policy = {"compartment": "%patient", "resource": [{"resourceType": "*"}]}
    clinician = _user(server, identity, ward, [policy], patient=f"Patient/{ward.alice}")
    assert ids(clinician.get("/Patient")) == {ward.alice}
    assert ids(clinician.get("/Observation")) == {ward.lab, ward.vitals}
    assert clinician.get(f"/Patient/{ward.bob}").status_code == 404
    assert clinician.get(f"/Patient/{ward.bob}/Observation").json().get("entry") is None


def test_a_membership_without_the_bound_parameter_reaches_nothing(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "Observation", "criteria": "Observation?subject=%patient"}]}
    clinician = _user(server, identity, ward, [policy])
    assert clinician.get("/Observation").status_code == 403


def test_policies_combine_as_a_union(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    alice_only = {"resource": [{"resourceType": "Observation", "criteria": f"Observation?subject={ward.alice}"}]}
    bob_only = {"resource": [{"resourceType": "Observation", "criteria": f"Observation?subject={ward.bob}"}]}
    clinician = _user(server, identity, ward, [alice_only, bob_only])
    assert ids(clinician.get("/Observation")) == {ward.lab, ward.vitals, ward.other}


def test_scopes_intersect_the_policies(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "Patient"}, {"resourceType": "Observation"}]}
    clinician = _user(server, identity, ward, [policy], scope="openid user/Observation.rs")
    assert clinician.get("/Patient").status_code == 403
    assert ids(clinician.get("/Observation")) == {ward.lab, ward.vitals, ward.other}
    assert clinician.post("/Observation", json=observation(ward.alice)).status_code == 403


def test_a_readonly_rule_refuses_writes(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "Observation", "readonly": True}]}
    reader = _user(server, identity, ward, [policy])
    assert reader.get(f"/Observation/{ward.lab}").status_code == 200
    assert reader.put(f"/Observation/{ward.lab}", json={**observation(ward.alice), "id": ward.lab}).status_code == 403
    assert reader.delete(f"/Observation/{ward.lab}").status_code == 403
    assert reader.post("/Observation", json=observation(ward.alice)).status_code == 403


def test_a_write_that_would_leave_the_criteria_is_refused(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "Observation", "criteria": "Observation?subject=%patient"}]}
    clinician = _user(server, identity, ward, [policy], patient=f"Patient/{ward.alice}")
    assert clinician.post("/Observation", json=observation(ward.alice)).status_code == 201
    assert clinician.post("/Observation", json=observation(ward.bob)).status_code == 403
    moved = clinician.put(f"/Observation/{ward.lab}", json={**observation(ward.bob), "id": ward.lab})
    assert moved.status_code == 403
    outside = clinician.put(f"/Observation/{ward.other}", json={**observation(ward.alice), "id": ward.other})
    assert outside.status_code == 403  # the stored version is out of reach
    assert ward.project.admin.get(f"/Observation/{ward.other}").json()["subject"]["reference"] == f"Patient/{ward.bob}"


def test_hidden_fields_are_removed_from_reads_searches_includes_and_history(
    server: RunningServer, identity: Identity
) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "Patient", "hiddenFields": ["birthDate"]},
                           {"resourceType": "Observation"}]}
    clinician = _user(server, identity, ward, [policy])
    assert "birthDate" not in clinician.get(f"/Patient/{ward.alice}").json()
    assert all("birthDate" not in e["resource"] for e in clinician.get("/Patient").json()["entry"])
    included = clinician.get("/Observation", params={"_include": "Observation:subject"}).json()["entry"]
    assert all("birthDate" not in e["resource"] for e in included if e["resource"]["resourceType"] == "Patient")
    history = clinician.get(f"/Patient/{ward.alice}/_history").json()["entry"]
    assert all("birthDate" not in e["resource"] for e in history)
    assert "birthDate" not in clinician.get(f"/Patient/{ward.alice}/_history/1").json()


def test_an_update_keeps_hidden_and_readonly_fields_as_stored(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "Patient", "hiddenFields": ["birthDate"], "readonlyFields": ["gender"]}]}
    clinician = _user(server, identity, ward, [policy])
    seen = clinician.get(f"/Patient/{ward.alice}").json()
    changed = {**seen, "gender": "male", "active": True}
    updated = clinician.put(f"/Patient/{ward.alice}", json=changed)
    assert updated.status_code == 200 and "birthDate" not in updated.json()
    stored = ward.project.admin.get(f"/Patient/{ward.alice}").json()
    assert stored["birthDate"] == "1980-01-01" and stored["gender"] == "female" and stored["active"] is True


def test_policies_are_administrative_resources(server: RunningServer, identity: Identity) -> None:
    ward = _ward(server)
    policy = {"resource": [{"resourceType": "*"}]}
    clinician = _user(server, identity, ward, [policy])
    assert clinician.post("/AccessPolicy", json={"resourceType": "AccessPolicy"}).status_code == 403


def test_history_pages_stay_full_when_versions_between_them_are_hidden(
    server: RunningServer, identity: Identity
) -> None:
    ward = _ward(server)
    for _ in range(3):
        ward.project.create(observation(ward.bob))
    policy = {"resource": [{"resourceType": "Observation", "criteria": "Observation?subject=%patient"}]}
    clinician = _user(server, identity, ward, [policy], patient=f"Patient/{ward.alice}")
    first = clinician.get("/Observation/_history", params={"_count": "1"}).json()
    assert [e["resource"]["id"] for e in first["entry"]] == [ward.vitals]
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = clinician.get(following).json()
    assert [e["resource"]["id"] for e in second["entry"]] == [ward.lab]
