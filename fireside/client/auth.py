"""How the client signs in: an `Authenticator` supplies the Authorization header and, when it
can, the request that gets a fresh access token.

Today: `StaticToken` (a token you already have) and `ClientCredentials` (RFC 6749 section 4.4,
client secret in HTTP Basic). A sign-in method is one small class: it says how to ask the token
endpoint for a token, and `OAuthGrant` caches the answer until shortly before it expires. The
identity release adds `PrivateKeyJwt` (a signed client assertion, RFC 7523, instead of the
secret) and an authorization-code + PKCE login whose `RefreshToken` grant keeps a user signed
in; both are a `token_request()` away from what is here.
"""

from __future__ import annotations

import base64
import time
from abc import ABC, abstractmethod
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import orjson

from fireside.client.errors import FiresideError, outcome_of
from fireside.client.exchange import HttpRequest

# Renew this many seconds before the server's expiry, so a token never dies in flight.
EXPIRY_MARGIN_SECONDS = 30


class Authenticator(Protocol):
    def authorization(self) -> str | None:
        """The Authorization header value to send, or None when a token must be fetched first."""

    def token_request(self) -> HttpRequest | None:
        """The request that gets a new access token, or None when this sign-in cannot renew."""

    def accept_token(self, token_response: dict[str, Any]) -> None:
        """Take the token endpoint's JSON answer."""


class StaticToken:
    """An access token obtained elsewhere; it cannot be renewed, so a 401 is final."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token

    def authorization(self) -> str | None:
        return f"Bearer {self.access_token}"

    def token_request(self) -> HttpRequest | None:
        return None

    def accept_token(self, token_response: dict[str, Any]) -> None:
        raise AssertionError("a static token makes no token requests")


class OAuthGrant(ABC):
    """A grant at an OAuth 2.0 token endpoint, with the issued token cached until it expires."""

    def __init__(self, token_url: str, access_token: str | None = None, expires_at: float | None = None) -> None:
        self.token_url = token_url
        self.access_token = access_token
        self.expires_at = expires_at
        self.token_response: dict[str, Any] = {}

    def authorization(self) -> str | None:
        if self.access_token is None:
            return None
        if self.expires_at is not None and self.expires_at - EXPIRY_MARGIN_SECONDS <= time.time():
            return None
        return f"Bearer {self.access_token}"

    def token_request(self) -> HttpRequest:
        form, headers = self.grant_parameters()
        return HttpRequest(
            "POST", self.token_url,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", **headers},
            content=urlencode(form).encode(),
        )

    @abstractmethod
    def grant_parameters(self) -> tuple[dict[str, str], dict[str, str]]:
        """The token request's form fields and extra headers (client authentication)."""

    def accept_token(self, token_response: dict[str, Any]) -> None:
        token = token_response.get("access_token")
        if not isinstance(token, str):
            raise FiresideError(None, outcome_of("The token endpoint answered without an access_token", "login"),
                                method="POST", url=self.token_url)
        self.access_token = token
        expires_in = token_response.get("expires_in")
        self.expires_at = time.time() + float(expires_in) if isinstance(expires_in, int | float) else None
        self.token_response = token_response


class ClientCredentials(OAuthGrant):
    """grant_type=client_credentials with the secret sent as HTTP Basic (client_secret_basic)."""

    def __init__(self, client_id: str, client_secret: str, token_url: str, *,
                 access_token: str | None = None, expires_at: float | None = None) -> None:
        super().__init__(token_url, access_token, expires_at)
        self.client_id = client_id
        self.client_secret = client_secret

    def grant_parameters(self) -> tuple[dict[str, str], dict[str, str]]:
        # RFC 6749 section 2.3.1: both parts are form-urlencoded before the Basic encoding.
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
        basic = base64.b64encode(pair.encode()).decode()
        return {"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"}


def authenticator_for(base_url: str, client_id: str | None, client_secret: str | None,
                      access_token: str | None) -> Authenticator | None:
    """The sign-in the client constructors' keyword arguments describe (None: anonymous)."""
    if client_id is not None or client_secret is not None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret go together")
        # A given access_token is used until it expires or is refused, then renewed.
        return ClientCredentials(client_id, client_secret, f"{base_url}/oauth2/token", access_token=access_token)
    return StaticToken(access_token) if access_token else None


def decode_token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, read without checking the signature.

    For display only (who am I, when does this expire): the server is what verifies tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT: expected three dot-separated parts")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = orjson.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(claims, dict):
        raise ValueError("the JWT payload is not a JSON object")
    return claims
