"""SMART scopes enforced on every FHIR interaction (fireside/auth/scopes.py).

Tokens with a patient context are minted with the server's own key (`tests/auth/access.py`):
the launch that binds a patient is not what these tests are about. The last test gets its
token through the authorization code flow."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from fireside.auth.scopes import parse_scope, scope_rules
from tests.auth.access import VITALS, Project, fhir, ids, member, mint, observation, project, signed_in_token
from tests.auth.conftest import Identity
from tests.conftest import RunningServer


def test_v1_and_v2_scopes_parse_to_the_same_permissions() -> None:
    v1 = parse_scope("patient/*.read")
    v2 = parse_scope("patient/*.rs")
    assert v1 is not None and v2 is not None and v1.actions == v2.actions == frozenset("rs")
    write = parse_scope("user/Observation.write")
    assert write is not None and write.actions == frozenset("cud")
    everything = parse_scope("system/*.*")
    assert everything is not None and everything.actions == frozenset("cruds")


def test_a_v2_scope_query_becomes_search_criteria() -> None:
    parsed = parse_scope("patient/Observation.rs?category=laboratory")
    assert parsed is not None and parsed.criteria == (("category", "laboratory"),)


def test_malformed_and_non_clinical_scopes_grant_nothing() -> None:
    assert parse_scope("openid") is None
    assert parse_scope("patient/Observation.rw") is None  # letters out of order / unknown
    assert parse_scope("user/Observation.read?category=x") is None  # queries are v2 only
    assert scope_rules("openid offline_access", None) is None  # no clinical scope: not narrowed by scopes
    assert scope_rules("patient/*.read", None) == ()  # patient scopes without a patient: nothing


@dataclass
class Clinic:
    """A project with patients Alice and Bob, a laboratory and a vital-signs Observation of
    Alice's (`lab`, `vitals`) and one of Bob's (`other`)."""

    project: Project
    alice: str
    bob: str
    lab: str
    vitals: str
    other: str

    def token(self, server: RunningServer, scope: str, patient: str | None = None) -> httpx.Client:
        return fhir(server, mint(server, self.project.id, "User/x", scope, patient=patient))


def _clinic(server: RunningServer) -> Clinic:
    clinic = project(server, "Clinic")
    alice, bob = clinic.create({"resourceType": "Patient"}), clinic.create({"resourceType": "Patient"})
    return Clinic(clinic, alice, bob, clinic.create(observation(alice)), clinic.create(observation(alice, VITALS)),
                  clinic.create(observation(bob)))


def test_patient_read_scope_reaches_only_the_patients_compartment(server: RunningServer) -> None:
    c = _clinic(server)
    patient = fhir(server, mint(server, c.project.id, "User/x", "launch/patient patient/*.read", patient=c.alice))
    assert patient.get(f"/Patient/{c.alice}").status_code == 200
    assert patient.get(f"/Patient/{c.bob}").status_code == 404
    assert patient.get(f"/Observation/{c.other}").status_code == 404
    assert ids(patient.get("/Observation")) == {c.lab, c.vitals}
    assert patient.get("/Observation").json()["total"] == 2  # counted in SQL, not a filtered page
    assert ids(patient.get("/Patient")) == {c.alice}


def test_patient_read_scope_cannot_write(server: RunningServer) -> None:
    c = _clinic(server)
    patient = fhir(server, mint(server, c.project.id, "User/x", "patient/*.read", patient=c.alice))
    created = patient.post("/Observation", json=observation(c.alice))
    assert created.status_code == 403
    assert created.json()["issue"][0]["code"] == "forbidden"


def test_patient_scopes_without_a_patient_in_context_reach_nothing(server: RunningServer) -> None:
    c = _clinic(server)
    nobody = fhir(server, mint(server, c.project.id, "User/x", "patient/*.read"))
    assert nobody.get("/Observation").status_code == 403
    assert nobody.get(f"/Patient/{c.alice}").status_code == 403


def test_a_v2_query_narrows_search_and_read(server: RunningServer) -> None:
    c = _clinic(server)
    scope = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    patient = fhir(server, mint(server, c.project.id, "User/x", scope, patient=c.alice))
    assert ids(patient.get("/Observation")) == {c.lab}
    assert patient.get(f"/Observation/{c.lab}").status_code == 200
    assert patient.get(f"/Observation/{c.vitals}").status_code == 404
    assert patient.get(f"/Patient/{c.alice}").status_code == 403  # no Patient scope at all


def test_includes_hold_only_what_the_scopes_reach(server: RunningServer) -> None:
    c = _clinic(server)
    observations_only = fhir(server, mint(server, c.project.id, "User/x", "patient/Observation.rs", patient=c.alice))
    bundle = observations_only.get("/Observation", params={"_include": "Observation:subject"})
    assert ids(bundle) == {c.lab, c.vitals} and ids(bundle, "include") == set()
    everything = fhir(server, mint(server, c.project.id, "User/x", "user/*.rs"))
    included = everything.get("/Observation", params={"_include": "Observation:subject"})
    assert ids(included, "include") == {c.alice, c.bob}
    patient = fhir(server, mint(server, c.project.id, "User/x", "patient/*.rs", patient=c.alice))
    revinclude = patient.get("/Patient", params={"_revinclude": "Observation:subject"})
    assert ids(revinclude) == {c.alice} and ids(revinclude, "include") == {c.lab, c.vitals}


def test_history_holds_only_what_the_scopes_reach(server: RunningServer) -> None:
    c = _clinic(server)
    patient = fhir(server, mint(server, c.project.id, "User/x", "patient/*.read", patient=c.alice))
    type_history = patient.get("/Observation/_history")
    assert type_history.status_code == 200
    assert {e["resource"]["id"] for e in type_history.json()["entry"]} == {c.lab, c.vitals}
    assert patient.get(f"/Observation/{c.other}/_history").status_code == 404
    assert patient.get(f"/Observation/{c.lab}/_history/1").status_code == 200
    assert patient.get(f"/Observation/{c.other}/_history/1").status_code == 404


def test_write_scopes_allow_writes_inside_the_compartment_only(server: RunningServer) -> None:
    c = _clinic(server)
    writer = fhir(server, mint(server, c.project.id, "User/x", "patient/Observation.cruds", patient=c.alice))
    assert writer.post("/Observation", json=observation(c.alice)).status_code == 201
    assert writer.post("/Observation", json=observation(c.bob)).status_code == 403
    moved = writer.put(f"/Observation/{c.lab}", json={**observation(c.bob), "id": c.lab})
    assert moved.status_code == 403  # would move the resource out of reach
    assert writer.delete(f"/Observation/{c.lab}").status_code in (200, 204)


def test_write_only_scope_cannot_read(server: RunningServer) -> None:
    c = _clinic(server)
    writer = fhir(server, mint(server, c.project.id, "User/x", "user/Observation.write"))
    assert writer.get(f"/Observation/{c.lab}").status_code == 403
    assert writer.get("/Observation").status_code == 403
    assert writer.post("/Observation", json=observation(c.alice)).status_code == 201


def test_each_batch_entry_is_held_to_the_scopes(server: RunningServer) -> None:
    c = _clinic(server)
    patient = fhir(server, mint(server, c.project.id, "User/x", "patient/*.read", patient=c.alice))
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"Observation/{c.lab}"}},
        {"request": {"method": "GET", "url": f"Observation/{c.other}"}},
        {"request": {"method": "POST", "url": "Observation"}, "resource": observation(c.alice)},
        {"request": {"method": "GET", "url": "Observation"}},
    ]}
    response = patient.post("/", json=batch)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"][:3] for e in response.json()["entry"]]
    assert statuses == ["200", "404", "403", "200"]
    assert {e["resource"]["id"] for e in response.json()["entry"][3]["resource"]["entry"]} == {c.lab, c.vitals}


def test_a_transaction_with_one_forbidden_entry_changes_nothing(server: RunningServer) -> None:
    c = _clinic(server)
    writer = fhir(server, mint(server, c.project.id, "User/x", "patient/Observation.crus", patient=c.alice))
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"}, "resource": observation(c.alice)},
        {"request": {"method": "POST", "url": "Observation"}, "resource": observation(c.bob)},
    ]}
    assert writer.post("/", json=transaction).status_code == 403
    assert c.project.admin.get("/Observation", params={"_summary": "count"}).json()["total"] == 3


def test_backend_system_read_scope_reads_everything_and_writes_nothing(server: RunningServer) -> None:
    c = _clinic(server)
    backend = fhir(server, mint(server, c.project.id, f"ClientApplication/{c.project.client_id}", "system/*.rs"))
    assert ids(backend.get("/Observation")) == {c.lab, c.vitals, c.other}
    assert backend.post("/Observation", json=observation(c.alice)).status_code == 403
    assert backend.delete(f"/Observation/{c.lab}").status_code == 403


def test_scopes_asked_for_at_sign_in_are_enforced(server: RunningServer, identity: Identity) -> None:
    """Through the authorization code flow: the token carries the requested scope."""
    c = _clinic(server)
    member(identity, c.project.id, "ana@clinic.example", [])
    token = signed_in_token(identity, c.project.id, "ana@clinic.example", "openid user/Patient.rs")
    user = fhir(server, token)
    assert user.get(f"/Patient/{c.alice}").status_code == 200
    assert user.get("/Observation").status_code == 403


def test_a_client_limited_to_some_scopes_narrows_what_its_users_ask_for(
    server: RunningServer, identity: Identity
) -> None:
    c = _clinic(server)
    member(identity, c.project.id, "ben@clinic.example", [])
    token = signed_in_token(identity, c.project.id, "ben@clinic.example", "openid user/*.*",
                            client={"scope": "user/Patient.rs"})
    user = fhir(server, token)
    assert ids(user.get("/Patient")) == {c.alice, c.bob}
    assert user.get("/Observation").status_code == 403
    assert user.post("/Patient", json={"resourceType": "Patient"}).status_code == 403
