"""Fireside as an OpenID Connect relying party: what it asks of an external provider and checks.

- Discovery (OpenID Connect Discovery 1.0 section 4): `{issuer}/.well-known/openid-configuration`,
  whose `issuer` must be the configured one exactly (section 4.3), cached DISCOVERY_CACHE_SECONDS.
- The code exchange at its token endpoint (OIDC Core 3.1.3.1), with the PKCE verifier and
  `client_secret_basic`, or `client_secret_post` when the provider announces only that.
- The ID token's checks (OIDC Core 3.1.3.7): an asymmetric signature by a key of the provider's
  JWKS named by `kid` (the set is fetched again once on an unknown kid: the provider rotated),
  `iss`, `aud` (and `azp` when present), `exp`, `iat`, the `nonce` sent, and an `email` whose
  `email_verified` is not false.
Every request goes through fireside/auth/outbound.py: https to public addresses only, unless the
host is on the allow-list. Every failure is a `ProviderError`; its message names what was wrong,
never a token or secret.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx
import jwt

from fireside.auth.outbound import STRICT, OutboundError, OutboundPolicy, OutboundRefused, fetch

DISCOVERY_CACHE_SECONDS = 300
# Never `none` and never HMAC: an HS256 token "signed" with a public key is the classic forgery.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
# A key set is fetched again for an unknown kid at most this often, so made-up kids cost no fetch each.
JWKS_REFETCH_SECONDS = 10
# Clock skew tolerated on exp and iat between the provider and this server.
LEEWAY_SECONDS = 60


class ProviderError(Exception):
    """The provider could not be used, or its answer does not check out."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        # The provider did not answer (or not with JSON): temporarily_unavailable, not access_denied.
        self.unreachable = unreachable


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]

    @property
    def client_auth_method(self) -> str:
        # Discovery 1.0 section 3: client_secret_basic is the default when nothing is said.
        if "client_secret_basic" in self.token_auth_methods or "client_secret_post" not in self.token_auth_methods:
            return "client_secret_basic"
        return "client_secret_post"


@dataclass(frozen=True)
class VerifiedIdentity:
    issuer: str
    subject: str
    email: str
    given_name: str | None
    family_name: str | None


# Keyed by policy too: what one policy fetched is not served to a caller whose policy forbids it.
_discovered: dict[tuple[OutboundPolicy, str], tuple[ProviderMetadata, float]] = {}
# The key set and when it was fetched.
_jwks: dict[tuple[OutboundPolicy, str], tuple[dict[str, Any], float]] = {}


async def discover(issuer: str, outbound: OutboundPolicy = STRICT) -> ProviderMetadata:
    cached = _discovered.get((outbound, issuer))
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    document = await _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery document",
                               outbound)
    if document.get("issuer") != issuer:
        raise ProviderError("The provider's discovery document names another issuer")
    try:
        metadata = ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=_https_or_allowed(document["authorization_endpoint"], outbound),
            token_endpoint=_https_or_allowed(document["token_endpoint"], outbound),
            jwks_uri=_https_or_allowed(document["jwks_uri"], outbound),
            token_auth_methods=tuple(document.get("token_endpoint_auth_methods_supported") or ()),
        )
    except (KeyError, TypeError) as error:
        raise ProviderError("The provider's discovery document lacks an endpoint") from error
    _discovered[(outbound, issuer)] = (metadata, time.monotonic() + DISCOVERY_CACHE_SECONDS)
    return metadata


def _https_or_allowed(url: Any, outbound: OutboundPolicy) -> str:
    # Discovery 1.0 section 3 wants https; plain http only to a host on the allow-list (development,
    # tests). The browser is sent to the authorization endpoint, so it is checked here too.
    if isinstance(url, str):
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is not None and parsed.host and (
                parsed.scheme == "https" or (parsed.scheme == "http" and outbound.allows(parsed.host))):
            return url
    raise ProviderError("The provider's discovery document has an endpoint that is not https")


async def exchange_code(metadata: ProviderMetadata, client_id: str, client_secret: str, code: str,
                        redirect_uri: str, code_verifier: str, outbound: OutboundPolicy = STRICT) -> str:
    """The ID token the provider gives for `code`."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}
    headers = {"Accept": "application/json"}
    if metadata.client_auth_method == "client_secret_basic":
        # RFC 6749 2.3.1: both parts are form-urlencoded before the Basic encoding.
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form.update(client_id=client_id, client_secret=client_secret)
    response = await _request(outbound, "POST", metadata.token_endpoint, "token endpoint", form, headers)
    body = _json_object(response)
    if response.status_code != 200:
        raise ProviderError(f"The provider refused the code: {body.get('error', response.status_code)}",
                            unreachable=response.status_code >= 500)
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise ProviderError("The provider's token response has no id_token")
    return id_token


async def verify_id_token(metadata: ProviderMetadata, client_id: str, id_token: str, nonce: str,
                          outbound: OutboundPolicy = STRICT) -> VerifiedIdentity:
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as error:
        raise ProviderError("The ID token is not a JWT") from error
    algorithm = header.get("alg")
    if algorithm not in ID_TOKEN_ALGORITHMS:
        raise ProviderError(f"The ID token's algorithm {algorithm!r} is not accepted")
    key = await _signing_key(metadata, header.get("kid"), str(algorithm), outbound)
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token, key, algorithms=[str(algorithm)], audience=client_id, issuer=metadata.issuer,
            leeway=LEEWAY_SECONDS, options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.PyJWTError as error:
        raise ProviderError(f"The ID token does not check out: {error}") from error
    # OIDC Core 3.1.3.7 item 5: with several audiences, azp (when present) must be this client.
    if "azp" in claims and claims["azp"] != client_id:
        raise ProviderError("The ID token was issued to another client (azp)")
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise ProviderError("The ID token's nonce is not the one sent")
    return _identity(metadata.issuer, claims)


def _identity(issuer: str, claims: dict[str, Any]) -> VerifiedIdentity:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ProviderError("The provider did not tell the email (scope email)")
    # Only an email the provider verified may stand for an account here; a provider that says
    # nothing (OIDC Core 5.1 makes the claim optional) is trusted to hand out only its own addresses.
    if "email_verified" in claims and claims["email_verified"] is not True:
        raise ProviderError("The provider has not verified this email")
    given, family = claims.get("given_name"), claims.get("family_name")
    return VerifiedIdentity(issuer, str(claims["sub"]), email, given if isinstance(given, str) else None,
                            family if isinstance(family, str) else None)


async def _signing_key(metadata: ProviderMetadata, kid: Any, algorithm: str, outbound: OutboundPolicy) -> Any:
    for refresh in (False, True):
        jwks = await _provider_jwks(metadata.jwks_uri, refresh, outbound)
        for jwk in jwks.get("keys", []):
            if isinstance(jwk, dict) and (kid is None or jwk.get("kid") == kid) and jwk.get("use", "sig") == "sig":
                try:
                    return jwt.PyJWK(jwk, algorithm).key
                except jwt.PyJWTError:
                    continue  # another key type than the algorithm's: look further
    raise ProviderError("The ID token is signed by a key the provider does not publish")


async def _provider_jwks(uri: str, refresh: bool, outbound: OutboundPolicy) -> dict[str, Any]:
    cached = _jwks.get((outbound, uri))
    now = time.monotonic()
    if cached is not None and now - cached[1] < (JWKS_REFETCH_SECONDS if refresh else DISCOVERY_CACHE_SECONDS):
        return cached[0]
    jwks = await _get_json(uri, "key set", outbound)
    _jwks[(outbound, uri)] = (jwks, now)
    return jwks


async def _request(outbound: OutboundPolicy, method: str, url: str, what: str, form: dict[str, str] | None,
                   headers: dict[str, str]) -> httpx.Response:
    try:
        return await fetch(outbound, method, url, data=form, headers=headers)
    except OutboundRefused as error:
        raise ProviderError(f"The provider's {what} is not fetched: {error}") from error
    except OutboundError as error:
        raise ProviderError(f"The provider's {what} could not be fetched ({error})", unreachable=True) from error


async def _get_json(url: str, what: str, outbound: OutboundPolicy) -> dict[str, Any]:
    response = await _request(outbound, "GET", url, what, None, {"Accept": "application/json"})
    if response.status_code != 200:
        raise ProviderError(f"The provider's {what} could not be fetched (HTTP {response.status_code})",
                            unreachable=True)
    return _json_object(response)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise ProviderError("The provider answered with something that is not JSON", unreachable=True) from error
    if not isinstance(body, dict):
        raise ProviderError("The provider answered with JSON that is not an object")
    return body
