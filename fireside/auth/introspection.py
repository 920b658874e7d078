"""Looking at issued tokens: introspection (RFC 7662), revocation (RFC 7009), userinfo and
sign-out (OpenID Connect Core 5.3, RP-Initiated Logout 1.0).

A client may introspect or revoke only tokens of its own project, and revoke only its own
tokens; for anything else the answer is the same as for an unknown token, so nothing leaks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt

from fireside.auth.client_auth import AuthenticatedClient
from fireside.auth.clients import find_client
from fireside.auth.keys import ALGORITHM
from fireside.auth.logins import login_of_refresh_token, revoke_login
from fireside.auth.memberships import find_membership, find_user
from fireside.auth.revocation import record_revocation, token_revocation_id
from fireside.auth.tokens import TokenGrant, TokenService
from fireside.fhir.errors import FhirError
from fireside.store import ResourceStore

INACTIVE: dict[str, Any] = {"active": False}


async def _live_grant(tokens: TokenService, token: str) -> TokenGrant | None:
    try:
        return await tokens.verify_live(token)
    except FhirError:
        return None


async def introspect(
    store: ResourceStore, tokens: TokenService, caller: AuthenticatedClient, token: str
) -> dict[str, Any]:
    grant = await _live_grant(tokens, token)
    if grant is not None:
        if grant.project_id != caller.client.project_id:
            return INACTIVE
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": grant.scope,
            "client_id": grant.client_id,
            "sub": grant.subject,
            "exp": int(grant.expires_at),
            "iss": tokens.issuer,
            "jti": grant.token_id,
            "fireside_project": str(grant.project_id),
        }
    login_id = await login_of_refresh_token(store, caller.client.project_id, token)
    if login_id is None:
        return INACTIVE
    return {"active": True, "token_type": "refresh_token", "client_id": caller.client.id}


async def revoke(store: ResourceStore, tokens: TokenService, caller: AuthenticatedClient, token: str) -> None:
    """RFC 7009 2.2: the answer is 200 whether or not there was anything to revoke."""
    grant = await _live_grant(tokens, token)
    if grant is not None:
        if grant.client_id == caller.client.id and grant.token_id:
            revoked_id = token_revocation_id(grant.token_id)
            async with store.pool.connection() as conn:
                await record_revocation(conn, grant.project_id, revoked_id,
                                        datetime.fromtimestamp(grant.expires_at, UTC))
            if tokens.revocations is not None:
                tokens.revocations.note_revoked(grant.project_id, revoked_id)
        return
    login_id = await login_of_refresh_token(store, caller.client.project_id, token)
    if login_id is not None:
        # Section 2.1: revoking a refresh token also ends the access tokens of its grant.
        await revoke_login(store, tokens.revocations, caller.client.project_id, login_id)


async def userinfo(store: ResourceStore, grant: TokenGrant, fhir_base_url: str) -> dict[str, Any]:
    if "openid" not in grant.scope.split() or not grant.subject.startswith("User/"):
        raise FhirError.single("forbidden", "userinfo needs a user's token with the openid scope")
    user = await find_user(store, grant.subject.removeprefix("User/"))
    if user is None:
        raise FhirError.single("forbidden", "The user no longer exists")
    membership = await find_membership(store, grant.project_id, user.reference)
    profile = membership.profile if membership and membership.profile else user.reference
    return {"sub": user.id, "email": user.email, "fhirUser": f"{fhir_base_url}/{profile}"}


async def logout(store: ResourceStore, tokens: TokenService, id_token_hint: str) -> str | None:
    """End the sign-in an ID token names; return its client's id (for the redirect check)."""
    try:
        claims = tokens.decode(id_token_hint, None, required=("sid", "aud"))
    except jwt.ExpiredSignatureError:
        claims = _expired_claims(tokens, id_token_hint)
    except jwt.PyJWTError as error:
        raise FhirError.single("invalid", f"id_token_hint is not an ID token of this server: {error}") from error
    client = await find_client(store, str(claims["aud"]))
    if client is None:
        return None
    await revoke_login(store, tokens.revocations, client.project_id, str(claims["sid"]))
    return client.id


def _expired_claims(tokens: TokenService, id_token_hint: str) -> dict[str, Any]:
    # RP-Initiated Logout 1.0 section 2: an expired ID token is a fine hint, if this server signed it.
    kid = jwt.get_unverified_header(id_token_hint).get("kid")
    key = tokens.verification_key(kid)
    if key is None:
        raise FhirError.single("invalid", "id_token_hint is not an ID token of this server")
    claims: dict[str, Any] = jwt.decode(id_token_hint, key, algorithms=[ALGORITHM], issuer=tokens.issuer,
                                        options={"verify_exp": False, "verify_aud": False})
    return claims
