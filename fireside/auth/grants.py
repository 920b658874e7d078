"""The token endpoint's grants (RFC 6749 section 4): what each returns, as the JSON body.

- `authorization_code` (4.1.3) with PKCE, for users signed in at /oauth2/authorize;
- `refresh_token` (section 6), rotated on every use;
- `client_credentials` (4.4), for a client acting as itself (SMART Backend Services).
An `openid` scope adds an ID token (OpenID Connect Core 3.1.3.3) naming the user's FHIR resource
in `fhirUser` (SMART App Launch, scopes-and-launch-context).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fireside.auth.client_auth import AuthenticatedClient
from fireside.auth.launch import launch_context
from fireside.auth.logins import LoginSession, new_refresh_token, redeem_code, rotate_refresh_token
from fireside.auth.oauth import OAuthError
from fireside.auth.password_tokens import has_proven_email
from fireside.auth.projects import DEFAULT_CLIENT_SCOPE
from fireside.auth.scopes import parse_scope
from fireside.auth.tokens import TokenGrant, TokenService
from fireside.store import ResourceStore

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")


async def grant_tokens(
    grant_type: str | None,
    form: Mapping[str, str],
    caller: AuthenticatedClient,
    store: ResourceStore,
    tokens: TokenService,
    fhir_base_url: str,
) -> dict[str, Any]:
    if grant_type == "client_credentials":
        return client_credentials(caller, tokens, form.get("scope"))
    if grant_type == "authorization_code":
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        session = await redeem_code(store, tokens.revocations, caller.client, code, form.get("redirect_uri"),
                                    form.get("code_verifier"))
        refresh = await new_refresh_token(store, session) if session.wants_refresh_token else None
        return session_tokens(session, tokens, fhir_base_url, refresh, await _email_verified(store, session))
    if grant_type == "refresh_token":
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        session, replacement = await rotate_refresh_token(store, tokens.revocations, caller.client, refresh_token)
        return session_tokens(session, tokens, fhir_base_url, replacement, await _email_verified(store, session))
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


def client_credentials(caller: AuthenticatedClient, tokens: TokenService, requested: str | None = None
                       ) -> dict[str, Any]:
    if caller.method == "none":
        raise OAuthError("unauthorized_client", "A public client cannot use client_credentials")
    client = caller.client
    grant = TokenGrant(
        subject=client.reference,
        project_id=client.project_id,
        client_id=client.id,
        scope=system_scope(requested),
        super_admin=client.in_admin_project,
    )
    return _access_token_body(grant, tokens)


def system_scope(requested: str | None) -> str:
    """The scope a client acting as itself gets: the `system/` scopes it asked for (SMART Backend
    Services, https://hl7.org/fhir/smart-app-launch/backend-services.html#scopes), or everything
    its membership allows (`system/*.*`) when it asked for none."""
    if not requested or not requested.strip():
        return DEFAULT_CLIENT_SCOPE
    granted = [text for text in requested.split() if (parsed := parse_scope(text)) and parsed.context == "system"]
    if not granted:
        raise OAuthError("invalid_scope", "client_credentials grants system/ scopes only, such as system/*.rs")
    return " ".join(granted)


async def _email_verified(store: ResourceStore, session: LoginSession) -> bool:
    # Asked only when an ID token will carry the answer: one query per openid sign-in or refresh.
    return "openid" in session.scope.split() and await has_proven_email(store, session.user.id)


def session_tokens(
    session: LoginSession, tokens: TokenService, fhir_base_url: str, refresh_token: str | None,
    email_verified: bool = False,
) -> dict[str, Any]:
    grant = TokenGrant(
        subject=session.user.reference,
        project_id=session.project_id,
        client_id=session.client_id,
        scope=session.scope,
        super_admin=session.user.super_admin,
        project_admin=session.membership.admin,
        login_id=session.id,
        patient=session.patient,
    )
    body = _access_token_body(grant, tokens)
    body.update(launch_context(session))
    if refresh_token:
        body["refresh_token"] = refresh_token
    if "openid" in session.scope.split():
        body["id_token"] = id_token(session, tokens, fhir_base_url, email_verified)
    return body


def fhir_user(session: LoginSession, fhir_base_url: str) -> str:
    """The FHIR resource the user is in this project: the membership's profile, else the User."""
    return f"{fhir_base_url}/{session.membership.profile or session.user.reference}"


def id_token(session: LoginSession, tokens: TokenService, fhir_base_url: str, email_verified: bool = False) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tokens.issuer,
        "sub": session.user.id,
        "aud": session.client_id,
        "iat": now,
        "exp": now + tokens.lifetime,
        "auth_time": int(session.auth_time.timestamp()),
        "sid": session.id,
        "fhirUser": fhir_user(session, fhir_base_url),
        "email": session.user.email,
        # OIDC Core 5.1: relying parties that match accounts by email must know whether it is proven;
        # Fireside knows only for users who set their password through an emailed link.
        "email_verified": email_verified,
    }
    if session.nonce:
        claims["nonce"] = session.nonce
    return tokens.sign(claims)


def _access_token_body(grant: TokenGrant, tokens: TokenService) -> dict[str, Any]:
    return {
        "access_token": tokens.issue(grant),
        "token_type": "Bearer",
        "expires_in": tokens.lifetime,
        "scope": grant.scope,
        "project": str(grant.project_id),
    }
