"""Self-registration at /oauth2/register: open only for projects that allow it; makes a User, a
Patient profile and a membership with the project's default patient access policy."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest

from fireside.auth.projects import system_context
from fireside.store import ResourceStore, new_resource_id
from tests.auth.conftest import Identity, claims_of, pkce_pair, redirect_query

PASSWORD = "my own passphrase"


def set_project(identity: Identity, project: UUID, **elements: Any) -> None:
    async def update(store: ResourceStore) -> None:
        async with store.transaction(system_context(project)) as unit:
            stored = await unit.read("Project", str(project))
            assert stored is not None
            unit.stage_put({**stored.resource(), **elements}, str(project), stored)

    identity.run(update)


def access_policy(identity: Identity, project: UUID) -> str:
    policy_id = new_resource_id()
    policy = {"resourceType": "AccessPolicy", "name": "Own record", "compartment": "%profile",
              "resource": [{"resourceType": "Patient"}]}

    async def put(store: ResourceStore) -> None:
        async with store.transaction(system_context(project)) as unit:
            unit.stage_put(policy, policy_id, None)

    identity.run(put)
    return f"AccessPolicy/{policy_id}"


def register_form(identity: Identity, client_id: str, **params: str) -> httpx.Response:
    return identity.browser.get(identity.url("/oauth2/register"), params={"client_id": client_id, **params})


def submit(identity: Identity, page: httpx.Response, **fields: str) -> httpx.Response:
    match = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert match, page.text
    return identity.browser.post(identity.url("/oauth2/register"), data={"form_token": match.group(1), **fields})


@pytest.fixture
def open_project(identity: Identity) -> tuple[UUID, str]:
    project = identity.project("Open clinic")
    set_project(identity, project, registrationAllowed=True)
    return project, identity.client_application(project)


def test_a_project_that_does_not_allow_registration_shows_403(identity: Identity) -> None:
    project = identity.project("Closed clinic")
    client_id = identity.client_application(project)
    assert register_form(identity, client_id).status_code == 403
    set_project(identity, project, registrationAllowed=False)
    assert register_form(identity, client_id).status_code == 403
    assert register_form(identity, "no-such-client").status_code == 403


def test_registration_makes_a_patient_member_with_the_default_policy_and_continues_the_sign_in(
        identity: Identity, open_project: tuple[UUID, str]) -> None:
    project, client_id = open_project
    policy = access_policy(identity, project)
    set_project(identity, project, registrationAllowed=True, defaultPatientAccessPolicy={"reference": policy})
    verifier, challenge = pkce_pair()
    authorization = {"response_type": "code", "redirect_uri": "https://app.example/callback",
                     "scope": "openid fhirUser offline_access", "state": "s1", "code_challenge": challenge,
                     "code_challenge_method": "S256"}
    page = register_form(identity, client_id, **authorization)
    assert page.status_code == 200, page.text
    created = submit(identity, page, email="pat@open.example", password=PASSWORD, firstName="Pat", lastName="Lee")
    assert created.status_code == 303, created.text
    assert created.headers["location"].startswith("/oauth2/authorize?")

    sign_in_form = identity.browser.get(identity.url(created.headers["location"]))
    assert sign_in_form.status_code == 200
    code = redirect_query(identity.submit(sign_in_form, "pat@open.example", PASSWORD))["code"]
    tokens = identity.token(grant_type="authorization_code", code=code, client_id=client_id,
                            code_verifier=verifier).json()
    profile = claims_of(tokens["id_token"])["fhirUser"].split("/fhir/R4/")[1]
    assert profile.startswith("Patient/") and tokens["project"] == str(project)
    with identity.fhir(tokens["access_token"]) as fhir:
        patient = fhir.get("/" + profile).json()
        assert patient["name"] == [{"given": ["Pat"], "family": "Lee"}]
        assert fhir.get("/Observation").status_code == 403  # the default policy grants Patient only
    membership = membership_of(identity, project, profile)
    assert membership["accessPolicy"] == [{"reference": policy}] and membership["admin"] is False


def membership_of(identity: Identity, project: UUID, profile: str) -> dict[str, Any]:
    async def find(store: ResourceStore) -> dict[str, Any]:
        async with store.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT content FROM resource WHERE project_id = %s AND resource_type = 'ProjectMembership'"
                " AND content LIKE %s", [project, f"%{profile}%"])
            row = await cursor.fetchone()
        assert row is not None
        found: dict[str, Any] = orjson.loads(row["content"])
        return found

    return identity.run(find)


def test_registration_without_an_authorization_request_shows_a_success_page(
        identity: Identity, open_project: tuple[UUID, str]) -> None:
    _, client_id = open_project
    created = submit(identity, register_form(identity, client_id), email="kim@open.example", password=PASSWORD)
    assert created.status_code == 201
    assert "kim@open.example" in created.text


@pytest.mark.parametrize(("fields", "message"), [
    ({"email": "kim@open.example", "password": "short"}, "at least 8"),
    ({"email": "kim@open.example", "password": "KIM@open.example"}, "not be the email"),
    ({"email": "not an email", "password": PASSWORD}, "email address"),
    ({"email": "kim@open.example", "password": PASSWORD, "firstName": "x" * 300}, "firstName"),
])
def test_bad_registrations_show_the_form_again_with_the_reason(
        identity: Identity, open_project: tuple[UUID, str], fields: dict[str, str], message: str) -> None:
    _, client_id = open_project
    answer = submit(identity, register_form(identity, client_id), **fields)
    assert answer.status_code == 400
    assert message in answer.text and 'name="form_token"' in answer.text


def test_an_email_that_has_an_account_cannot_register_again(
        identity: Identity, open_project: tuple[UUID, str]) -> None:
    project, client_id = open_project
    identity.user(project, "ana@open.example")
    answer = submit(identity, register_form(identity, client_id), email="ANA@open.example", password=PASSWORD)
    assert answer.status_code == 400 and "exists already" in answer.text


def test_a_registration_form_posted_without_its_cookie_is_refused(
        identity: Identity, open_project: tuple[UUID, str]) -> None:
    _, client_id = open_project
    page = register_form(identity, client_id)
    identity.browser.cookies.clear()
    assert submit(identity, page, email="kim@open.example", password=PASSWORD).status_code == 400
