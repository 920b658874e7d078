"""A user with two-factor sign-in (TOTP) on signs in through the SDK: the password, then a code
from their secret or from a callable; without a code the sign-in fails saying one is needed; the
refresh token renews without asking again."""

from __future__ import annotations

import asyncio
import time

import pytest

from fireside.client import AsyncFiresideClient, FiresideClient, FiresideError, PasswordSignIn, decode_token_claims
from tests.auth.conftest import PASSWORD, Identity
from tests.auth.test_mfa import code, turn_on, wrong_code
from tests.client.test_password_sign_in import EMAIL, clinic


def totp_user(identity: Identity) -> tuple[str, str, str]:
    """A project's app and a member with TOTP on: (client id, user id, the TOTP secret)."""
    _, client_id, user_id = clinic(identity)
    return client_id, user_id, turn_on(identity, client_id)


def test_a_totp_user_signs_in_with_a_code_computed_from_the_secret(identity: Identity) -> None:
    client_id, user_id, secret = totp_user(identity)
    with FiresideClient(identity.server.base_url, client_id=client_id, email=EMAIL, password=PASSWORD,
                        totp_secret=secret) as client:
        created = client.create({"resourceType": "Patient"})
        assert client.read("Patient", created["id"])["id"] == created["id"]
        auth = client.auth
    assert isinstance(auth, PasswordSignIn) and auth.access_token and auth.refresh_token
    assert decode_token_claims(auth.access_token)["sub"] == f"User/{user_id}"


def test_a_code_callable_is_asked_once_and_renewing_never_asks_again(identity: Identity) -> None:
    client_id, _, secret = totp_user(identity)
    asked: list[str] = []

    def ask() -> str:
        asked.append(code(secret))
        return asked[-1]

    with FiresideClient(identity.server.base_url, client_id=client_id, email=EMAIL, password=PASSWORD,
                        totp_code=ask) as client:
        client.sign_in()
        auth = client.auth
        assert isinstance(auth, PasswordSignIn)
        first_refresh = auth.refresh_token
        auth.expires_at = time.time() - 1
        client.search("Patient")
    assert len(asked) == 1
    assert auth.refresh_token not in (None, first_refresh)


def test_without_a_code_the_sign_in_says_one_is_needed(identity: Identity) -> None:
    client_id, _, _ = totp_user(identity)
    with FiresideClient(identity.server.base_url, client_id=client_id, email=EMAIL, password=PASSWORD) as client, \
            pytest.raises(FiresideError) as refused:
        client.sign_in()
    assert refused.value.issues[0]["code"] == "login"
    assert "two-factor code" in str(refused.value) and "totp_secret or totp_code" in str(refused.value)


def test_a_wrong_code_is_refused_with_the_servers_message(identity: Identity) -> None:
    client_id, _, secret = totp_user(identity)
    with FiresideClient(identity.server.base_url, client_id=client_id, email=EMAIL, password=PASSWORD,
                        totp_code=wrong_code(secret)) as client, pytest.raises(FiresideError) as refused:
        client.sign_in()
    assert refused.value.status == 401
    assert "Wrong or already used code" in str(refused.value)


def test_the_async_client_signs_in_with_the_secret(identity: Identity) -> None:
    client_id, user_id, secret = totp_user(identity)

    async def work() -> str | None:
        async with AsyncFiresideClient(identity.server.base_url, client_id=client_id, email=EMAIL,
                                       password=PASSWORD, totp_secret=secret) as client:
            await client.search("Patient")
            return getattr(client.auth, "access_token", None)

    token = asyncio.run(work())
    assert token and decode_token_claims(token)["sub"] == f"User/{user_id}"


def test_totp_arguments_without_a_user_sign_in_are_a_mistake() -> None:
    with pytest.raises(ValueError, match="go with email and password"):
        FiresideClient("http://127.0.0.1:1", client_id="app", client_secret="s", totp_secret="JBSWY3DPEHPK3PXP")
    with pytest.raises(ValueError, match="base32"):
        FiresideClient("http://127.0.0.1:1", client_id="app", email="a@b.example", password="p", totp_secret="!!")
