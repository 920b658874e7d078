"""Helpers for the scope and access-policy tests: two projects with a few patients and
Observations, tokens minted with the server's own key (where the OAuth flow is not what a test
is about), and memberships that carry AccessPolicies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from fireside.api.app import load_token_service
from fireside.auth import TokenGrant, TokenService, add_membership, create_user, find_membership
from fireside.auth.bots import bot_access_token
from fireside.auth.projects import system_context
from fireside.config import Settings
from fireside.store import ResourceStore, new_resource_id
from tests.auth.conftest import PASSWORD, Identity
from tests.conftest import RunningServer

LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
VITALS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                      "code": "vital-signs"}]}


def observation(patient: str, category: dict[str, Any] = LAB, **elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "category": [category],
            "code": {"text": "glucose"}, "subject": {"reference": f"Patient/{patient}"}, **elements}


@dataclass
class Project:
    """A project, a backend client of it (system/*.* through client_credentials) and its data."""

    id: UUID
    client_id: str
    admin: httpx.Client

    def create(self, resource: dict[str, Any]) -> str:
        response = self.admin.post(f"/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text
        created: str = response.json()["id"]
        return created


def project(server: RunningServer, name: str) -> Project:
    credentials = server.create_client(new_project=name)
    token = server.token(credentials)
    return Project(UUID(credentials["project_id"]), credentials["client_id"], fhir(server, token))


def mint(server: RunningServer, project_id: UUID, subject: str, scope: str, *, patient: str | None = None,
         super_admin: bool = False, client_id: str = "minted") -> str:
    """An access token signed with the server's key, as the token endpoint would issue it. A user
    who is not a super admin is made a member of the project first, as sign-in requires."""
    if subject.startswith("User/") and not super_admin:
        Identity(server).run(lambda store: _ensure_membership(store, project_id, subject))
    grant = TokenGrant(subject=subject, project_id=project_id, client_id=client_id, scope=scope,
                       super_admin=super_admin, patient=patient)
    return _token_service(server).issue(grant)


def bot_token(server: RunningServer, project_id: UUID, bot_id: str) -> str:
    """The token a run of `Bot/<bot_id>` acts with (fireside/auth/bots.py)."""
    tokens = _token_service(server)
    return Identity(server).run(lambda store: bot_access_token(store, tokens, project_id, bot_id))


def _token_service(server: RunningServer) -> TokenService:
    """A token service with the server's signing keys."""
    settings = Settings(data_dir=server.settings.data_dir, database_url=server.database_url,
                        secret_key="test-secret-key")
    return load_token_service(settings, server.database_url)


async def _ensure_membership(store: ResourceStore, project_id: UUID, member: str) -> None:
    if await find_membership(store, project_id, member) is None:
        await add_membership(store, project_id, member)


def fhir(server: RunningServer, token: str) -> httpx.Client:
    """A FHIR client with `token`, closed with the server fixture."""
    client = httpx.Client(base_url=server.fhir_url, timeout=30,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    server._clients.append(client)
    return client


def member(identity: Identity, project_id: UUID, email: str, policies: list[dict[str, Any]],
           parameters: dict[str, str] | None = None, admin: bool = False) -> str:
    """A user of `project_id` whose membership names `policies` (AccessPolicy resources, stored
    in the project), with `parameters` bound as `%name`; returns the User id."""

    async def make(store: ResourceStore) -> str:
        account = await create_user(store, project_id, email, PASSWORD)
        async with store.transaction(system_context(project_id)) as unit:
            references = []
            for policy in policies:
                policy_id = new_resource_id()
                unit.stage_put({"resourceType": "AccessPolicy", **policy}, policy_id, None)
                references.append({"reference": f"AccessPolicy/{policy_id}"})
            membership: dict[str, Any] = {
                "resourceType": "ProjectMembership", "project": {"reference": f"Project/{project_id}"},
                "user": {"reference": account.reference}, "admin": admin,
            }
            if references:
                membership["accessPolicy"] = references
            if parameters:
                membership["parameter"] = [
                    {"name": name, "valueReference": {"reference": value}} if "/" in value
                    else {"name": name, "valueString": value}
                    for name, value in parameters.items()
                ]
            unit.stage_put(membership, new_resource_id(), None)
        return account.id

    return identity.run(make)


def signed_in_token(identity: Identity, project_id: UUID, email: str, scope: str,
                    client: dict[str, Any] | None = None) -> str:
    """A user's access token through the authorization code flow (tests/auth/conftest.py), at
    a new ClientApplication with the `client` elements."""
    client_id = identity.client_application(project_id, **(client or {}))
    sign_in = identity.sign_in(client_id, email, scope=scope)
    token: str = identity.exchange(client_id, sign_in)["access_token"]
    return token


def ids(bundle: httpx.Response, mode: str = "match") -> set[str]:
    assert bundle.status_code == 200, bundle.text
    return {e["resource"]["id"] for e in bundle.json().get("entry", []) if e.get("search", {}).get("mode") == mode}
