"""Client authentication at the token, introspection and revocation endpoints.

Methods (OpenID Connect Core section 9): `client_secret_basic`, `client_secret_post`,
`private_key_jwt` (RFC 7523 section 2.2, as SMART Backend Services use it:
https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html) and `none` for public
clients, which identify themselves with `client_id` alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from fireside.auth.clients import RegisteredClient, find_client
from fireside.auth.oauth import OAuthError, invalid_client
from fireside.auth.outbound import STRICT, OutboundError, OutboundPolicy, OutboundRefused, fetch
from fireside.auth.projects import authenticate_client
from fireside.store import ResourceStore

JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# SMART requires RS384 and ES384; the other common strengths are accepted too.
ASSERTION_ALGORITHMS = ("RS384", "ES384", "RS256", "ES256", "RS512", "ES512")
# SMART Backend Services: an assertion's exp is at most five minutes in the future.
MAX_ASSERTION_SECONDS = 300
JWKS_URI_CACHE_SECONDS = 300
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


@dataclass(frozen=True)
class AuthenticatedClient:
    client: RegisteredClient
    method: str  # one of CLIENT_AUTH_METHODS


async def authenticate_request_client(
    store: ResourceStore, form: Mapping[str, str], basic: tuple[str, str] | None, token_url: str,
    outbound: OutboundPolicy = STRICT,
) -> AuthenticatedClient:
    """The client a token-endpoint request comes from, or `invalid_client` (401). A `jwksUri` is
    fetched only as `outbound` allows (fireside/auth/outbound.py)."""
    if basic is not None:
        if "client_secret" in form or "client_assertion" in form:
            # RFC 6749 2.3: one authentication method per request.
            raise OAuthError("invalid_request", "Use one client authentication method, not several")
        return await _by_secret(store, *basic, "client_secret_basic", form.get("client_id"))
    if "client_assertion_type" in form or "client_assertion" in form:
        return await _by_assertion(store, form, token_url, outbound)
    client_id = form.get("client_id")
    if not client_id:
        raise invalid_client("Client authentication is required")
    if "client_secret" in form:
        return await _by_secret(store, client_id, form["client_secret"], "client_secret_post", None)
    client = await find_client(store, client_id)
    if client is None:
        raise invalid_client("Unknown client")
    if not client.is_public:
        raise invalid_client("This client must authenticate (secret or private_key_jwt)")
    return AuthenticatedClient(client, "none")


async def _by_secret(
    store: ResourceStore, client_id: str, secret: str, method: str, form_client_id: str | None
) -> AuthenticatedClient:
    if form_client_id is not None and form_client_id != client_id:
        raise invalid_client("client_id differs from the authenticated client")
    if await authenticate_client(store, client_id, secret) is None:
        raise invalid_client("Unknown client or wrong secret")
    client = await find_client(store, client_id)
    if client is None:
        raise invalid_client("Unknown client or wrong secret")
    return AuthenticatedClient(client, method)


async def _by_assertion(store: ResourceStore, form: Mapping[str, str], token_url: str,
                        outbound: OutboundPolicy) -> AuthenticatedClient:
    if form.get("client_assertion_type") != JWT_BEARER_ASSERTION:
        raise invalid_client(f"client_assertion_type must be {JWT_BEARER_ASSERTION}")
    assertion = form.get("client_assertion", "")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise invalid_client(f"client_assertion is not a JWT: {error}") from error
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or form.get("client_id", client_id) != client_id:
        raise invalid_client("client_assertion iss must be the client_id")
    client = await find_client(store, client_id)
    if client is None or not client.has_keys:
        raise invalid_client("Unknown client, or it has no registered keys")
    claims = await _verify_assertion(client, assertion, header, token_url, outbound)
    await _use_jti_once(store, client, claims)
    return AuthenticatedClient(client, "private_key_jwt")


async def _verify_assertion(
    client: RegisteredClient, assertion: str, header: dict[str, Any], token_url: str, outbound: OutboundPolicy
) -> dict[str, Any]:
    algorithm = header.get("alg")
    if algorithm not in ASSERTION_ALGORITHMS:
        raise invalid_client(f"client_assertion alg must be one of {', '.join(ASSERTION_ALGORITHMS)}")
    last_error: Exception | None = None
    for key in await _candidate_keys(client, header.get("kid"), str(algorithm), outbound):
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion, key, algorithms=[str(algorithm)], audience=token_url, issuer=client.id,
                options={"require": ["exp", "iss", "sub", "aud", "jti"]},
            )
        except jwt.InvalidSignatureError as error:
            last_error = error
            continue
        except jwt.PyJWTError as error:
            raise invalid_client(f"client_assertion rejected: {error}") from error
        if claims["sub"] != client.id:
            raise invalid_client("client_assertion sub must be the client_id")
        if claims["exp"] > time.time() + MAX_ASSERTION_SECONDS:
            raise invalid_client("client_assertion exp is more than five minutes away")
        return claims
    raise invalid_client(f"client_assertion signature does not verify with the client's keys ({last_error})")


async def _candidate_keys(client: RegisteredClient, kid: Any, algorithm: str, outbound: OutboundPolicy) -> list[Any]:
    jwks = client.jwks if client.jwks is not None else await _fetch_jwks(str(client.jwks_uri), outbound)
    keys = []
    wanted_type = "RSA" if algorithm.startswith("RS") else "EC"
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kty") != wanted_type:
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        try:
            keys.append(jwt.PyJWK(jwk, algorithm).key)
        except jwt.PyJWTError:
            continue  # an unusable key in the set does not spoil the others
    return keys


# By policy too: a set fetched under one policy is not served to a caller whose policy forbids the URL.
_fetched_jwks: dict[tuple[OutboundPolicy, str], tuple[dict[str, Any], float]] = {}


async def _fetch_jwks(uri: str, outbound: OutboundPolicy) -> dict[str, Any]:
    cached = _fetched_jwks.get((outbound, uri))
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    try:
        response = await fetch(outbound, "GET", uri, headers={"Accept": "application/json"})
    except OutboundRefused as error:
        raise invalid_client(f"The client's jwksUri is not fetched: {error}") from error
    except OutboundError as error:
        raise invalid_client(f"The client's jwksUri could not be read: {error}") from error
    if response.status_code != 200:
        raise invalid_client(f"The client's jwksUri could not be read: HTTP {response.status_code}")
    try:
        jwks = response.json()
    except ValueError as error:
        raise invalid_client("The client's jwksUri does not hold JSON") from error
    if not isinstance(jwks, dict):
        raise invalid_client("The client's jwksUri does not hold a JWK Set")
    _fetched_jwks[(outbound, uri)] = (jwks, time.monotonic() + JWKS_URI_CACHE_SECONDS)
    return jwks


async def _use_jti_once(store: ResourceStore, client: RegisteredClient, claims: dict[str, Any]) -> None:
    """RFC 7523 section 3: a replayed assertion (same jti within its lifetime) is refused."""
    expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
    async with store.pool.connection() as conn:
        await conn.execute(
            "DELETE FROM client_assertion_jti WHERE project_id = %s AND client_id = %s AND expires_at < now()",
            [client.project_id, client.id],
        )
        cursor = await conn.execute(
            "INSERT INTO client_assertion_jti (project_id, client_id, jti, expires_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [client.project_id, client.id, str(claims["jti"]), expires],
        )
        if cursor.rowcount != 1:
            raise OAuthError("invalid_client", "client_assertion jti was already used", 401)
