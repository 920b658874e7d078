"""Logins: one per sign-in, holding what its authorization code and refresh tokens grant.

A `Login` resource (in the client's project) records client, user, scope, PKCE challenge and
nonce; the code and refresh tokens themselves are stored only as SHA-256 hashes in
`oauth_token`. The code is single use and lives 60 seconds (RFC 6749 section 4.1.2 says at most
10 minutes). Refresh tokens rotate: each use returns a new one, and presenting a used one again
means it leaked, so the whole Login (every token of the family) is revoked (RFC 9700 4.14.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fireside.auth.clients import RegisteredClient
from fireside.auth.memberships import Membership, UserAccount, find_user, membership_for_sign_in
from fireside.auth.oauth import invalid_grant, new_opaque_token, token_hash
from fireside.auth.pkce import verifier_matches
from fireside.auth.projects import system_context
from fireside.auth.revocation import RevocationList, login_revocation_id, record_revocation
from fireside.store import ResourceStore, StoreTransaction, format_instant, new_resource_id

CODE_LIFETIME = timedelta(seconds=60)
REFRESH_LIFETIME = timedelta(days=30)
# SMART App Launch: refresh tokens are for clients that ask for offline or online access.
REFRESH_SCOPES = frozenset({"offline_access", "online_access"})


@dataclass(frozen=True)
class LoginRequest:
    """What the user approved at /oauth2/authorize."""

    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    nonce: str | None
    # SMART launch context (fireside/auth/launch.py): Patient and Encounter ids.
    patient: str | None = None
    encounter: str | None = None


@dataclass(frozen=True)
class LoginSession:
    """A Login as the token endpoint uses it, with the user's current place in the project."""

    id: str
    project_id: UUID
    client_id: str
    user: UserAccount
    membership: Membership
    scope: str
    nonce: str | None
    auth_time: datetime
    expires: datetime
    patient: str | None = None
    encounter: str | None = None

    @property
    def wants_refresh_token(self) -> bool:
        return bool(REFRESH_SCOPES & set(self.scope.split()))


async def start_login(
    store: ResourceStore, client: RegisteredClient, user: UserAccount, membership: Membership, request: LoginRequest
) -> str:
    """Record the Login and return its authorization code."""
    now = datetime.now(UTC)
    login: dict[str, Any] = {
        "resourceType": "Login",
        "client": {"reference": client.reference},
        "user": {"reference": user.reference},
        "scope": request.scope,
        "redirectUri": request.redirect_uri,
        "authTime": format_instant(now),
        "expires": format_instant(now + REFRESH_LIFETIME),
    }
    if membership.id:
        login["membership"] = {"reference": f"ProjectMembership/{membership.id}"}
    if request.code_challenge:
        login["codeChallenge"] = request.code_challenge
        login["codeChallengeMethod"] = "S256"
    if request.nonce:
        login["nonce"] = request.nonce
    if request.patient:
        login["patient"] = {"reference": f"Patient/{request.patient}"}
    if request.encounter:
        login["encounter"] = {"reference": f"Encounter/{request.encounter}"}
    login_id = new_resource_id()
    code = new_opaque_token()
    async with store.transaction(system_context(client.project_id)) as unit:
        unit.stage_put(login, login_id, None)
        await _store_token(unit, code, "code", login_id, now + CODE_LIFETIME)
    return code


async def redeem_code(
    store: ResourceStore,
    revocations: RevocationList | None,
    client: RegisteredClient,
    code: str,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> LoginSession:
    """The Login an authorization code opens (RFC 6749 section 4.1.3), checked and used up.

    A code presented twice was intercepted: its Login and every token issued from it are revoked
    (section 4.1.2). A failed check rolls back, so the code stays usable by its rightful client."""
    async with store.transaction(system_context(client.project_id)) as unit:
        login_id, reused = await _use_token(unit, code, "code")
        if reused:
            await _revoke(unit, revocations, login_id)
        else:
            login = await _live_login(unit, login_id, client)
            _check_code_binding(login, redirect_uri, code_verifier)
    if reused:
        raise invalid_grant("The authorization code was already used: its tokens are revoked")
    return await _session(store, login_id, login, client)


def _check_code_binding(login: dict[str, Any], redirect_uri: str | None, code_verifier: str | None) -> None:
    challenge = login.get("codeChallenge")
    # RFC 6749 4.1.3 wants redirect_uri repeated; with PKCE the verifier already binds the code to
    # its client, so (as OAuth 2.1 does) it may be left out then, never changed.
    if (redirect_uri is not None or challenge is None) and redirect_uri != login.get("redirectUri"):
        raise invalid_grant("redirect_uri differs from the one of the authorization request")
    if challenge is not None and not verifier_matches(code_verifier or "", challenge):
        raise invalid_grant("code_verifier does not match the code_challenge")
    if challenge is None and code_verifier:
        raise invalid_grant("code_verifier sent, but the authorization request had no code_challenge")


async def new_refresh_token(store: ResourceStore, session: LoginSession) -> str:
    token = new_opaque_token()
    async with store.transaction(system_context(session.project_id)) as unit:
        await _store_token(unit, token, "refresh", session.id, session.expires)
    return token


async def rotate_refresh_token(
    store: ResourceStore, revocations: RevocationList | None, client: RegisteredClient, refresh_token: str
) -> tuple[LoginSession, str]:
    """The Login a refresh token belongs to, and the refresh token that replaces it."""
    replacement = new_opaque_token()
    async with store.transaction(system_context(client.project_id)) as unit:
        login_id, reused = await _use_token(unit, refresh_token, "refresh")
        if reused:
            await _revoke(unit, revocations, login_id)
        else:
            login = await _live_login(unit, login_id, client)
            await _store_token(unit, replacement, "refresh", login_id, datetime.fromisoformat(login["expires"]))
    if reused:
        raise invalid_grant("The refresh_token was already used: every token of this sign-in is revoked")
    return await _session(store, login_id, login, client), replacement


async def revoke_login(
    store: ResourceStore, revocations: RevocationList | None, project_id: UUID, login_id: str
) -> None:
    """Sign-out: the Login's refresh tokens stop working, and so do its access tokens."""
    async with store.transaction(system_context(project_id)) as unit:
        await _revoke(unit, revocations, login_id)


async def login_of_refresh_token(store: ResourceStore, project_id: UUID, refresh_token: str) -> str | None:
    """The Login of a live (unused, unexpired) refresh token, for introspection and revocation."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT login_id FROM oauth_token WHERE project_id = %s AND token_hash = %s AND kind = 'refresh'"
            " AND used_at IS NULL AND expires_at > now()",
            [project_id, token_hash(refresh_token)],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    return row["login_id"] if row else None


async def _store_token(unit: StoreTransaction, token: str, kind: str, login_id: str, expires: datetime) -> None:
    await unit.conn.execute(
        "INSERT INTO oauth_token (project_id, token_hash, kind, login_id, expires_at) VALUES (%s, %s, %s, %s, %s)",
        [unit.ctx.project_id, token_hash(token), kind, login_id, expires],
    )


async def _use_token(unit: StoreTransaction, token: str, kind: str) -> tuple[str, bool]:
    """Mark a code or refresh token used; return its Login and whether it had been used before."""
    cursor = await unit.conn.execute(
        # FOR UPDATE: two concurrent uses of one token serialize here, and the second sees used_at.
        "SELECT login_id, expires_at, used_at FROM oauth_token"
        " WHERE project_id = %s AND token_hash = %s AND kind = %s FOR UPDATE",
        [unit.ctx.project_id, token_hash(token), kind],
    )
    row: dict[str, Any] | None = await cursor.fetchone()
    if row is None:
        raise invalid_grant(f"Unknown {_KIND_NAMES[kind]}")
    login_id: str = row["login_id"]
    if row["used_at"] is not None:
        return login_id, True
    if row["expires_at"] <= datetime.now(UTC):
        raise invalid_grant(f"The {_KIND_NAMES[kind]} expired")
    await unit.conn.execute(
        "UPDATE oauth_token SET used_at = now() WHERE project_id = %s AND token_hash = %s",
        [unit.ctx.project_id, token_hash(token)],
    )
    return login_id, False


_KIND_NAMES = {"code": "authorization code", "refresh": "refresh token"}


async def _live_login(unit: StoreTransaction, login_id: str, client: RegisteredClient) -> dict[str, Any]:
    stored = await unit.read("Login", login_id)
    if stored is None or stored.deleted:
        raise invalid_grant("The sign-in no longer exists")
    login = stored.resource()
    if login["client"]["reference"] != client.reference:
        raise invalid_grant("The grant was issued to another client")
    if login.get("revoked"):
        raise invalid_grant("The sign-in was revoked")
    return login


async def _revoke(unit: StoreTransaction, revocations: RevocationList | None, login_id: str) -> None:
    stored = await unit.read("Login", login_id)
    if stored is None or stored.deleted:
        return
    login = stored.resource()
    if not login.get("revoked"):
        unit.stage_put({**login, "revoked": True}, login_id, stored)
    # Access tokens of this Login may outlive its refresh tokens by at most their own lifetime;
    # keeping the revocation until the Login would have expired covers both.
    expires = max(datetime.fromisoformat(login["expires"]), datetime.now(UTC) + timedelta(days=1))
    await record_revocation(unit.conn, unit.ctx.project_id, login_revocation_id(login_id), expires)
    await unit.conn.execute(
        "UPDATE oauth_token SET used_at = coalesce(used_at, now()) WHERE project_id = %s AND login_id = %s",
        [unit.ctx.project_id, login_id],
    )
    if revocations is not None:
        revocations.note_revoked(unit.ctx.project_id, login_revocation_id(login_id))


async def _session(
    store: ResourceStore, login_id: str, login: dict[str, Any], client: RegisteredClient
) -> LoginSession:
    """The Login with the user's current membership: removing a member ends their refreshes."""
    user = await find_user(store, login["user"]["reference"].removeprefix("User/"))
    if user is None:
        raise invalid_grant("The user no longer exists")
    membership = await membership_for_sign_in(store, client.project_id, user)
    if membership is None:
        raise invalid_grant("The user is no longer a member of this project")
    return LoginSession(
        id=login_id,
        project_id=client.project_id,
        client_id=client.id,
        user=user,
        membership=membership,
        scope=login.get("scope", ""),
        nonce=login.get("nonce"),
        auth_time=datetime.fromisoformat(login["authTime"]),
        expires=datetime.fromisoformat(login["expires"]),
        patient=_context_id(login, "patient", "Patient/"),
        encounter=_context_id(login, "encounter", "Encounter/"),
    )


def _context_id(login: dict[str, Any], element: str, prefix: str) -> str | None:
    reference = (login.get(element) or {}).get("reference")
    return reference.removeprefix(prefix) if isinstance(reference, str) else None
