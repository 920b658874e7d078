"""A user signs in with email and password (authorization code + PKCE, driven without a browser)
and stays signed in through rotating refresh tokens: sync and async, against a real server."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import httpx
import pytest

from fireside.client import (
    AsyncFiresideClient,
    FiresideClient,
    FiresideError,
    HttpResponse,
    PasswordSignIn,
    RefreshToken,
    RetryPolicy,
    decode_token_claims,
)
from fireside.client.exchange import HttpRequest
from tests.auth.conftest import PASSWORD, Identity
from tests.conftest import RunningServer

EMAIL = "ana@clinic.example"


def clinic(identity: Identity) -> tuple[UUID, str, str]:
    """A project with a public app (one redirect URI) and a member: (project, client id, user id)."""
    project = identity.project("Clinic")
    return project, identity.client_application(project), identity.user(project, EMAIL)


def password_client(server: RunningServer, client_id: str) -> FiresideClient:
    return FiresideClient(server.base_url, client_id=client_id, email=EMAIL, password=PASSWORD)


def test_a_user_signs_in_with_email_and_password_and_works_in_their_project(identity: Identity) -> None:
    project, client_id, user_id = clinic(identity)
    with password_client(identity.server, client_id) as client:
        created = client.create({"resourceType": "Patient", "name": [{"family": "Chalmers"}]})
        assert client.read("Patient", created["id"])["id"] == created["id"]
        auth = client.auth
    assert isinstance(auth, PasswordSignIn) and auth.access_token and auth.refresh_token
    claims = decode_token_claims(auth.access_token)
    assert claims["sub"] == f"User/{user_id}" and claims["fireside_project"] == str(project)
    assert auth.token_response["scope"] == "openid offline_access"


def test_an_expired_token_is_renewed_with_the_refresh_token_which_rotates(identity: Identity) -> None:
    _, client_id, _ = clinic(identity)
    with password_client(identity.server, client_id) as client:
        client.sign_in()
        auth = client.auth
        assert isinstance(auth, PasswordSignIn)
        first_access, first_refresh = auth.access_token, auth.refresh_token
        login = decode_token_claims(str(first_access))["fireside_login"]
        auth.expires_at = time.time() - 1
        client.search("Patient")
    assert auth.access_token != first_access and auth.refresh_token not in (None, first_refresh)
    # The same sign-in (Login), renewed: not a second password sign-in.
    assert decode_token_claims(str(auth.access_token))["fireside_login"] == login


def test_a_refused_access_token_forces_a_renewal_and_the_request_is_retried(identity: Identity) -> None:
    _, client_id, _ = clinic(identity)
    with password_client(identity.server, client_id) as client:
        client.sign_in()
        auth = client.auth
        assert isinstance(auth, PasswordSignIn)
        first_refresh = auth.refresh_token
        auth.access_token = "revoked"
        assert client.create({"resourceType": "Patient"})["id"]
    assert auth.access_token != "revoked" and auth.refresh_token != first_refresh


def test_when_the_refresh_token_is_refused_the_password_signs_in_again(identity: Identity) -> None:
    _, client_id, _ = clinic(identity)
    with password_client(identity.server, client_id) as client:
        client.sign_in()
        auth = client.auth
        assert isinstance(auth, PasswordSignIn)
        login = decode_token_claims(str(auth.access_token))["fireside_login"]
        auth.refresh_token, auth.expires_at = "not-a-refresh-token", time.time() - 1
        client.search("Patient")
    assert decode_token_claims(str(auth.access_token))["fireside_login"] != login
    assert auth.refresh_token != "not-a-refresh-token"


def test_without_offline_access_there_is_no_refresh_token_and_the_password_renews(identity: Identity) -> None:
    _, client_id, _ = clinic(identity)
    auth = PasswordSignIn(client_id, EMAIL, PASSWORD, identity.url("/oauth2/token"), offline_access=False)
    with FiresideClient(identity.server.base_url, auth=auth) as client:
        client.sign_in()
        assert auth.refresh_token is None and auth.scope == "openid"
        auth.expires_at = time.time() - 1
        client.search("Patient")
    assert auth.refresh_token is None and auth.expires_at > time.time()


def test_a_kept_refresh_token_signs_in_later_without_the_password(identity: Identity) -> None:
    _, client_id, user_id = clinic(identity)
    with password_client(identity.server, client_id) as client:
        client.sign_in()
        assert isinstance(client.auth, PasswordSignIn)
        kept = client.auth.refresh_token
    later = RefreshToken(client_id, kept, identity.url("/oauth2/token"))
    with FiresideClient(identity.server.base_url, auth=later) as client:
        client.search("Patient")
    assert later.refresh_token != kept
    assert decode_token_claims(str(later.access_token))["sub"] == f"User/{user_id}"


def test_a_wrong_password_raises_a_fireside_error_with_the_forms_message(identity: Identity) -> None:
    _, client_id, _ = clinic(identity)
    with FiresideClient(identity.server.base_url, client_id=client_id, email=EMAIL, password="wrong") as client, \
            pytest.raises(FiresideError) as raised:
        client.read("Patient", "1")
    assert raised.value.status == 401
    assert raised.value.issues[0]["code"] == "login"
    assert "Wrong email or password" in str(raised.value)


def test_a_user_of_another_project_is_refused(identity: Identity) -> None:
    _, client_id, _ = clinic(identity)
    identity.user(identity.project("Elsewhere"), "bo@elsewhere.example")
    with FiresideClient(identity.server.base_url, client_id=client_id, email="bo@elsewhere.example",
                        password=PASSWORD) as client, pytest.raises(FiresideError) as raised:
        client.sign_in()
    assert raised.value.status == 401


def test_an_unknown_client_is_refused_with_the_pages_reason(identity: Identity) -> None:
    with FiresideClient(identity.server.base_url, client_id="no-such-app", email=EMAIL, password=PASSWORD) as client, \
            pytest.raises(FiresideError) as raised:
        client.sign_in()
    assert raised.value.status == 400 and "not a registered client" in str(raised.value)


def test_the_async_client_signs_in_with_a_password_and_refreshes(identity: Identity) -> None:
    _, client_id, user_id = clinic(identity)

    async def work() -> PasswordSignIn:
        async with AsyncFiresideClient(identity.server.base_url, client_id=client_id, email=EMAIL,
                                       password=PASSWORD) as client:
            await client.create({"resourceType": "Patient"})
            auth = client.auth
            assert isinstance(auth, PasswordSignIn)
            first_refresh = auth.refresh_token
            auth.expires_at = time.time() - 1
            await client.search("Patient")
            assert auth.refresh_token != first_refresh
            return auth

    auth = asyncio.run(work())
    assert decode_token_claims(str(auth.access_token))["sub"] == f"User/{user_id}"


def test_the_sign_in_returns_the_forms_cookie_itself_so_a_transport_needs_no_cookie_jar(identity: Identity) -> None:
    _, client_id, _ = clinic(identity)
    auth = PasswordSignIn(client_id, EMAIL, PASSWORD, identity.url("/oauth2/token"))
    exchange = auth.token_exchange(RetryPolicy())
    answer: HttpResponse | None = None
    with pytest.raises(StopIteration):
        while True:
            request = exchange.send(answer)
            assert isinstance(request, HttpRequest)
            # A separate httpx call for each request: no cookie jar carries the form's cookie along.
            response = httpx.request(request.method, request.url, params=list(request.params) or None,
                                     headers=dict(request.headers), content=request.content)
            answer = HttpResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                                  response.content)
    assert auth.access_token and auth.refresh_token
