"""Who may do what, where: each role by interaction by target, over real HTTP.

Targets: an Observation of Alice in the caller's own project (inside a clinician's or patient's
compartment), one of Bob in the same project (outside it), and one in another project.
A write "reaches" its target when the target project's own admin then sees its effect.

Tokens: the project admin and the clinician sign in through the authorization code flow
(tests/auth/conftest.py); the super admin, the patient (a SMART `patient` context, which the
launch flow binds) and the backend client (`system/*.rs`, where client_credentials grants
`system/*.*`) get tokens minted with the server's own key. The bot is made by the project admin
at `POST /admin/projects/{id}/bot` with a policy that writes Observations and reads Patients,
and acts with the token a run of it gets (fireside/auth/bots.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.auth.access import (
    Project,
    bot_token,
    fhir,
    ids,
    member,
    mint,
    observation,
    project,
    signed_in_token,
)
from tests.auth.conftest import Identity
from tests.conftest import RunningServer

# R(ead) S(earch) I(nclude) H(istory) C(reate) U(pdate) B(atch, an update entry) D(elete).
OPERATIONS = "RSIHCUBD"
EXPECTED: dict[str, dict[str, str]] = {
    #                 own project, inside    own project, outside   other project
    "super admin":   {"inside": "RSIHCUBD", "outside": "RSIHCUBD", "other": ""},
    "project admin": {"inside": "RSIHCUBD", "outside": "RSIHCUBD", "other": ""},
    "clinician":     {"inside": "RSIHCUBD", "outside": "",         "other": ""},
    "patient":       {"inside": "RSIH",     "outside": "",         "other": ""},
    "backend":       {"inside": "RSIH",     "outside": "RSIH",     "other": ""},
    "bot":           {"inside": "RSIHCUBD", "outside": "RSIHCUBD", "other": ""},
}
BOT_POLICY = {"resourceType": "AccessPolicy", "name": "observation writer",
              "resource": [{"resourceType": "Observation"}, {"resourceType": "Patient", "readonly": True}]}


@dataclass
class Target:
    project: Project  # where it lives; its admin client checks what a write did
    patient: str
    observation: str


@dataclass
class World:
    own: Project
    alice: str
    targets: dict[str, Target]


def _world(server: RunningServer) -> World:
    own, other = project(server, "Own"), project(server, "Other")
    alice, bob = own.create({"resourceType": "Patient"}), own.create({"resourceType": "Patient"})
    carol = other.create({"resourceType": "Patient"})
    targets = {
        "inside": Target(own, alice, own.create(observation(alice))),
        "outside": Target(own, bob, own.create(observation(bob))),
        "other": Target(other, carol, other.create(observation(carol))),
    }
    return World(own, alice, targets)


def _caller(role: str, server: RunningServer, identity: Identity, world: World) -> httpx.Client:
    email = f"{role.replace(' ', '-')}-{uuid.uuid4().hex[:8]}@own.example"
    project_id = world.own.id
    if role == "super admin":
        return fhir(server, mint(server, project_id, "User/root", "openid", super_admin=True))
    if role == "project admin":
        member(identity, project_id, email, [], admin=True)
        return fhir(server, signed_in_token(identity, project_id, email, "openid offline_access"))
    if role == "clinician":
        policy = {"compartment": "%patient", "resource": [{"resourceType": "*"}]}
        member(identity, project_id, email, [policy], {"patient": f"Patient/{world.alice}"})
        return fhir(server, signed_in_token(identity, project_id, email, "openid user/*.*"))
    if role == "patient":
        return fhir(server, mint(server, project_id, "User/alice", "launch/patient patient/*.read",
                                 patient=world.alice))
    if role == "bot":
        return fhir(server, bot_token(server, project_id, _bot(server, identity, project_id, email)))
    return fhir(server, mint(server, project_id, f"ClientApplication/{world.own.client_id}", "system/*.rs"))


def _bot(server: RunningServer, identity: Identity, project_id: uuid.UUID, admin_email: str) -> str:
    member(identity, project_id, admin_email, [], admin=True)
    admin = fhir(server, signed_in_token(identity, project_id, admin_email, "openid"))
    policy = admin.post("/AccessPolicy", json=BOT_POLICY).json()["id"]
    created = httpx.post(identity.url(f"/admin/projects/{project_id}/bot"), headers=admin.headers,
                         json={"name": "lab sync", "accessPolicy": f"AccessPolicy/{policy}"})
    assert created.status_code == 201, created.text
    bot_id: str = created.json()["id"]
    return bot_id


def _read(caller: httpx.Client, target: Target) -> bool:
    return caller.get(f"/Observation/{target.observation}").status_code == 200


def _search(caller: httpx.Client, target: Target) -> bool:
    response = caller.get("/Observation", params={"_id": target.observation})
    return response.status_code == 200 and target.observation in ids(response)


def _include(caller: httpx.Client, target: Target) -> bool:
    response = caller.get("/Observation", params={"_id": target.observation, "_include": "Observation:subject"})
    return response.status_code == 200 and target.patient in ids(response, "include")


def _history(caller: httpx.Client, target: Target) -> bool:
    response = caller.get(f"/Observation/{target.observation}/_history")
    return response.status_code == 200 and bool(response.json().get("entry"))


def _create(caller: httpx.Client, target: Target) -> bool:
    count = {"subject": f"Patient/{target.patient}", "_summary": "count"}
    before = target.project.admin.get("/Observation", params=count).json()["total"]
    caller.post("/Observation", json=observation(target.patient))
    return bool(target.project.admin.get("/Observation", params=count).json()["total"] > before)


def _update(caller: httpx.Client, target: Target, status: str = "amended") -> bool:
    caller.put(f"/Observation/{target.observation}",
               json={**observation(target.patient), "id": target.observation, "status": status})
    return bool(target.project.admin.get(f"/Observation/{target.observation}").json().get("status") == status)


def _batch(caller: httpx.Client, target: Target) -> bool:
    entry = {"request": {"method": "PUT", "url": f"Observation/{target.observation}"},
             "resource": {**observation(target.patient), "id": target.observation, "status": "corrected"}}
    caller.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]})
    return bool(target.project.admin.get(f"/Observation/{target.observation}").json().get("status") == "corrected")


def _delete(caller: httpx.Client, target: Target) -> bool:
    caller.delete(f"/Observation/{target.observation}")
    return target.project.admin.get(f"/Observation/{target.observation}").status_code == 410


PROBES: dict[str, Callable[[httpx.Client, Target], bool]] = {
    "R": _read, "S": _search, "I": _include, "H": _history, "C": _create, "U": _update, "B": _batch, "D": _delete,
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_reaches_exactly_what_its_access_allows(
    role: str, server: RunningServer, identity: Identity
) -> None:
    world = _world(server)
    caller = _caller(role, server, identity, world)
    seen: dict[str, str] = {}
    for where, target in world.targets.items():
        seen[where] = "".join(code for code in OPERATIONS if PROBES[code](caller, target))
    assert seen == EXPECTED[role]
