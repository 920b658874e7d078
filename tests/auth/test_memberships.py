"""Users work in a project only through a ProjectMembership there; project admins manage their
own project's memberships and clients, members manage none, and no project sees another's."""

from __future__ import annotations

from uuid import UUID

import httpx

from tests.auth.conftest import Identity


def user_token(identity: Identity, project: UUID, email: str, admin: bool = False) -> str:
    client_id = identity.client_application(project)
    identity.user(project, email, admin=admin)
    token: str = identity.exchange(client_id, identity.sign_in(client_id, email))["access_token"]
    return token


def membership(project: UUID, user_reference: str) -> dict[str, object]:
    return {"resourceType": "ProjectMembership", "project": {"reference": f"Project/{project}"},
            "user": {"reference": user_reference}}


def test_a_user_without_membership_in_the_clients_project_cannot_sign_in(identity: Identity) -> None:
    first, second = identity.project("First"), identity.project("Second")
    identity.user(first, "ana@first.example")
    other_client = identity.client_application(second)
    from tests.auth.conftest import pkce_pair

    _, challenge = pkce_pair()
    form = identity.authorize(other_client, code_challenge=challenge, code_challenge_method="S256")
    answer = identity.submit(form, "ana@first.example", "correct horse battery staple")
    assert answer.status_code == 401 and "no access" in answer.text


def test_a_project_admin_manages_memberships_and_clients_of_their_project(identity: Identity) -> None:
    project = identity.project("Clinic")
    token = user_token(identity, project, "admin@clinic.example", admin=True)
    with identity.fhir(token) as fhir:
        created = fhir.post("/ProjectMembership", json=membership(project, "User/someone"))
        assert created.status_code == 201, created.text
        client = fhir.post("/ClientApplication", json={"resourceType": "ClientApplication", "name": "Portal",
                                                        "redirectUri": ["https://portal.example/cb"]})
        assert client.status_code == 201, client.text
        assert fhir.put(f"/Project/{project}", json={"resourceType": "Project", "id": str(project),
                                                     "name": "Mine"}).status_code == 403


def test_a_member_cannot_make_themselves_admin(identity: Identity) -> None:
    project = identity.project("Clinic")
    token = user_token(identity, project, "member@clinic.example")
    with identity.fhir(token) as fhir:
        response = fhir.post("/ProjectMembership", json={**membership(project, "User/me"), "admin": True})
        assert response.status_code == 403
        assert fhir.post("/ClientApplication", json={"resourceType": "ClientApplication",
                                                     "name": "Mine"}).status_code == 403


def test_memberships_of_one_project_are_invisible_to_another_projects_admin(identity: Identity) -> None:
    first, second = identity.project("First"), identity.project("Second")
    first_token = user_token(identity, first, "admin@first.example", admin=True)
    second_token = user_token(identity, second, "admin@second.example", admin=True)
    with identity.fhir(first_token) as fhir:
        created = fhir.post("/ProjectMembership", json=membership(first, "User/someone")).json()
    with identity.fhir(second_token) as fhir:
        assert fhir.get(f"/ProjectMembership/{created['id']}").status_code == 404
        assert fhir.put(f"/ProjectMembership/{created['id']}",
                        json={**created, "admin": True}).status_code in (200, 201)
    with identity.fhir(first_token) as fhir:
        # The second admin's PUT made a resource in their own project; the first's is untouched.
        assert fhir.get(f"/ProjectMembership/{created['id']}").json().get("admin") is not True


def test_a_client_id_taken_in_one_project_cannot_be_claimed_in_another(identity: Identity) -> None:
    first, second = identity.project("First"), identity.project("Second")
    client_id = identity.client_application(first)
    token = user_token(identity, second, "admin@second.example", admin=True)
    response = httpx.put(f"{identity.server.fhir_url}/ClientApplication/{client_id}",
                         headers={"Authorization": f"Bearer {token}"},
                         json={"resourceType": "ClientApplication", "id": client_id, "name": "Impostor",
                               "redirectUri": ["https://evil.example/cb"]})
    assert response.status_code == 409
