"""Revocation (RFC 7009), introspection (RFC 7662) and sign-out: a revoked token stops working."""

from __future__ import annotations

from typing import Any

import httpx

from tests.auth.conftest import Identity
from tests.conftest import RunningServer


def post(server: RunningServer, path: str, credentials: dict[str, str], **form: str) -> httpx.Response:
    return httpx.post(server.base_url + path, data=form, auth=(credentials["client_id"], credentials["client_secret"]))


def introspect(server: RunningServer, credentials: dict[str, str], token: str) -> dict[str, Any]:
    body: dict[str, Any] = post(server, "/oauth2/introspect", credentials, token=token).json()
    return body


def test_a_revoked_access_token_is_refused_at_once(server: RunningServer) -> None:
    credentials = server.create_client(new_project="Clinic")
    token = server.token(credentials)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(server.fhir_url + "/Patient", headers=headers).status_code == 200
    assert post(server, "/oauth2/revoke", credentials, token=token).status_code == 200
    refused = httpx.get(server.fhir_url + "/Patient", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.text
    assert introspect(server, credentials, token) == {"active": False}


def test_introspection_describes_a_live_token_of_the_callers_project(server: RunningServer) -> None:
    credentials = server.create_client(new_project="Clinic")
    token = server.token(credentials)
    described = introspect(server, credentials, token)
    assert described["active"] is True and described["client_id"] == credentials["client_id"]
    assert described["sub"] == f"ClientApplication/{credentials['client_id']}"


def test_another_projects_client_sees_a_token_as_inactive_and_cannot_revoke_it(server: RunningServer) -> None:
    owner = server.create_client(new_project="Clinic")
    stranger = server.create_client(new_project="Elsewhere")
    token = server.token(owner)
    assert introspect(server, stranger, token) == {"active": False}
    assert post(server, "/oauth2/revoke", stranger, token=token).status_code == 200
    assert introspect(server, owner, token)["active"] is True


def test_introspection_requires_client_authentication(server: RunningServer) -> None:
    token = server.token(server.create_client())
    response = httpx.post(server.base_url + "/oauth2/introspect", data={"token": token})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_revoking_a_refresh_token_ends_the_sign_in(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    tokens = identity.exchange(client_id, identity.sign_in(client_id, "ana@clinic.example"))
    revoked = httpx.post(identity.url("/oauth2/revoke"), data={"token": tokens["refresh_token"],
                                                                "client_id": client_id})
    assert revoked.status_code == 200
    with identity.fhir(tokens["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 401
    refreshed = identity.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id)
    assert refreshed.json()["error"] == "invalid_grant"


def test_sign_out_revokes_the_sign_in_and_returns_to_the_app(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    tokens = identity.exchange(client_id, identity.sign_in(client_id, "ana@clinic.example"))
    answer = identity.browser.get(identity.url("/oauth2/logout"), params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://app.example/callback",
        "state": "bye"})
    assert answer.status_code == 303 and answer.headers["location"] == "https://app.example/callback?state=bye"
    with identity.fhir(tokens["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 401


def test_another_api_process_refuses_a_revoked_token_on_its_next_check(server: RunningServer) -> None:
    import asyncio
    from uuid import UUID

    from fireside.auth import RevocationList, TokenGrant
    from fireside.fhir.errors import FhirError
    from fireside.store import open_pool
    from tests.auth.conftest import claims_of

    credentials = server.create_client(new_project="Clinic")
    token = server.token(credentials)
    post(server, "/oauth2/revoke", credentials, token=token)
    claims = claims_of(token)
    grant = TokenGrant(subject=claims["sub"], project_id=UUID(claims["fireside_project"]),
                       client_id=claims["client_id"], scope=claims["scope"], token_id=claims["jti"])

    async def check_elsewhere() -> str:
        # A second process: its own pool and cache, told nothing by the process that revoked.
        pool = await open_pool(server.database_url, max_size=2)
        try:
            await RevocationList(pool).check(grant)
        except FhirError as error:
            return str(error.outcome()["issue"][0]["diagnostics"])
        finally:
            await pool.close()
        return "accepted"

    assert asyncio.run(check_elsewhere()) == "Access token revoked"
