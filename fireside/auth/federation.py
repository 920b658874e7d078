"""Signing in to an app through its project's external OpenID Connect provider.

The app's authorization request is checked as usual (fireside/auth/authorize.py). When the user
picks a provider on the sign-in page, this server becomes the provider's client (OIDC Core 3.1):
it sends the browser to the provider's authorization endpoint with a random `state`, `nonce` and
a PKCE S256 challenge. The pending sign-in (the app's request, the nonce, the verifier) stays on
the server in `identity_provider_request`, found by the state's hash, bound to the sign-in
cookie, used once and dead after PENDING_SECONDS. The callback exchanges the code, checks the ID
token (fireside/auth/oidc_client.py), finds the project member and finishes like a password
sign-in: a Login and the app's authorization code, so the app cannot tell the difference.

Which member: the provider's `sub` is the stable name of its account (OIDC Core 5.7: the email may
change, and may be handed to someone else). The first sign-in through a provider links (project,
issuer, sub) to the user with the verified email (made a member where the provider allows it),
in `federated_identity`; from then on the link decides, so an email changed at the provider still
signs in the same user. A user has one link per provider and project: another `sub` presenting
an already linked user's email is refused (a reassigned or spoofed address), until an operator
removes the link.

Policy: the provider authenticated the user, so Fireside's own TOTP step is not asked (it guards
the Fireside password, which was not used); a locked-out email stays locked out here too, and a
federated failure does not count toward the lock-out (no password was guessed). Super admins
sign in with their password only: a provider a project trusts must not reach server-wide powers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from psycopg.types.json import Jsonb

from fireside.auth.authorize import (
    AuthorizationPageError,
    AuthorizationRequest,
    SignedIn,
    SignInFailed,
    current_client,
    finish_sign_in,
)
from fireside.auth.enrollment import NewMember, enroll
from fireside.auth.identity_providers import IdentityProvider, find_identity_provider, identity_provider_secret
from fireside.auth.lockout import LockoutPolicy, is_locked
from fireside.auth.memberships import UserAccount, find_membership, find_user, find_user_by_email
from fireside.auth.oidc_client import ProviderError, VerifiedIdentity, discover, exchange_code, verify_id_token
from fireside.auth.outbound import STRICT, OutboundPolicy
from fireside.auth.pkce import CODE_CHALLENGE_METHODS, s256_challenge
from fireside.auth.projects import default_patient_policy, read_project
from fireside.fhir.errors import FhirError
from fireside.store import ResourceStore

PENDING_SECONDS = 600
PROVIDER_SCOPE = "openid email profile"
_START_AGAIN = "The sign-in expired, was already used or was not started in this browser; start again from the app."
_LINKED_ELSEWHERE = ("The account with this email is linked to another {provider} account; sign in with that one,"
                     " or ask an administrator to remove the link.")


class FederationRefused(Exception):
    """The federated sign-in ends here. With `request` (the state named one) the app hears
    `error` on its redirect_uri; without, the state was bad and only a page can be shown."""

    def __init__(self, message: str, request: AuthorizationRequest | None = None, error: str = "access_denied",
                 email: str | None = None, locked: bool = False) -> None:
        super().__init__(message)
        self.request = request
        self.error = error
        self.email = email  # the verified email, once the provider told it (for the audit)
        self.locked = locked


@dataclass(frozen=True)
class PendingFederation:
    request: AuthorizationRequest
    project_id: UUID
    issuer: str
    nonce: str
    code_verifier: str


async def start_federated_sign_in(
    store: ResourceStore, request: AuthorizationRequest, issuer: str, binding: str, callback_url: str,
    outbound: OutboundPolicy = STRICT,
) -> str:
    """Record the pending sign-in; return the provider's authorization URL to send the browser to.
    `ProviderError` when the provider cannot be reached (the sign-in page says so)."""
    client = await current_client(store, request)
    provider = await find_identity_provider(store, client.project_id, issuer)
    if provider is None:
        raise AuthorizationPageError("This application's project has no such sign-in provider.")
    metadata = await discover(provider.issuer, outbound)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    async with store.pool.connection() as conn:
        await conn.execute("DELETE FROM identity_provider_request WHERE expires_at < now()")
        await conn.execute(
            "INSERT INTO identity_provider_request (state_hash, binding_hash, project_id, issuer, nonce,"
            " code_verifier, request, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now() + %s)",
            [_hash(state), _hash(binding), client.project_id, provider.issuer, nonce, verifier,
             Jsonb(asdict(request)), timedelta(seconds=PENDING_SECONDS)],
        )
    query = urlencode({
        "response_type": "code", "client_id": provider.client_id, "redirect_uri": callback_url,
        "scope": PROVIDER_SCOPE, "state": state, "nonce": nonce,
        "code_challenge": s256_challenge(verifier), "code_challenge_method": CODE_CHALLENGE_METHODS[0],
    })
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    return metadata.authorization_endpoint + separator + query


async def take_pending(store: ResourceStore, state: str | None, binding: str | None) -> PendingFederation:
    """The pending sign-in `state` names, spent: a state works once, in the browser that started it."""
    if not state:
        raise FederationRefused("The provider's answer has no state; start again from the app.")
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "DELETE FROM identity_provider_request WHERE state_hash = %s RETURNING binding_hash, project_id,"
            " issuer, nonce, code_verifier, request, expires_at > now() AS live", [_hash(state)],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    if row is None or not row["live"] or binding is None or not hmac.compare_digest(row["binding_hash"],
                                                                                   _hash(binding)):
        raise FederationRefused(_START_AGAIN)
    return PendingFederation(AuthorizationRequest(**row["request"]), row["project_id"], row["issuer"], row["nonce"],
                             row["code_verifier"])


async def finish_federated_sign_in(
    store: ResourceStore, secret_key: str, pending: PendingFederation, code: str, callback_url: str,
    lockout: LockoutPolicy | None = None, outbound: OutboundPolicy = STRICT,
) -> SignedIn:
    """Exchange the provider's code, check who it says the user is, and sign them in to the app."""
    client = await current_client(store, pending.request)
    provider = await find_identity_provider(store, client.project_id, pending.issuer)
    if provider is None or client.project_id != pending.project_id:
        raise FederationRefused("The sign-in provider is no longer configured for this application.",
                                pending.request)
    identity = await _verified_identity(store, secret_key, provider, pending, code, callback_url, outbound)
    user = await _member(store, client.project_id, provider, identity, pending.request)
    if lockout is not None and await is_locked(store, user.email):
        raise FederationRefused(lockout.message, pending.request, email=identity.email, locked=True)
    try:
        return await finish_sign_in(store, client, pending.request, user)
    except SignInFailed as failure:
        raise FederationRefused(str(failure), pending.request, email=identity.email) from failure


async def _verified_identity(
    store: ResourceStore, secret_key: str, provider: IdentityProvider, pending: PendingFederation, code: str,
    callback_url: str, outbound: OutboundPolicy,
) -> VerifiedIdentity:
    secret = await identity_provider_secret(store, secret_key, pending.project_id, provider)
    if secret is None:
        raise FederationRefused("The sign-in provider has no client secret configured.", pending.request)
    try:
        metadata = await discover(provider.issuer, outbound)
        id_token = await exchange_code(metadata, provider.client_id, secret, code, callback_url,
                                       pending.code_verifier, outbound)
        identity = await verify_id_token(metadata, provider.client_id, id_token, pending.nonce, outbound)
    except ProviderError as error:
        unavailable = "temporarily_unavailable" if error.unreachable else "access_denied"
        raise FederationRefused(f"Signing in with {provider.name} failed: {error}", pending.request,
                                unavailable) from error
    if not provider.allows_email(identity.email):
        raise FederationRefused(f"{provider.name} may not sign in accounts of this email's domain.",
                                pending.request, email=identity.email)
    return identity


async def _member(
    store: ResourceStore, project_id: UUID, provider: IdentityProvider, identity: VerifiedIdentity,
    request: AuthorizationRequest,
) -> UserAccount:
    """The user linked to the provider's account, else the one the verified email belongs to
    (linked now); a member of the project (made one where allowed)."""
    linked = await _linked_user(store, project_id, identity)
    user = linked or await find_user_by_email(store, identity.email)
    if user is not None and user.super_admin:
        raise FederationRefused("This account signs in with its password.", request, email=identity.email)
    if linked is None and user is not None and await _linked_subject(store, project_id, identity.issuer, user.id):
        raise FederationRefused(_LINKED_ELSEWHERE.format(provider=provider.name), request, email=identity.email)
    if user is not None and await find_membership(store, project_id, user.reference) is not None:
        member = user
    elif not provider.create_users:
        raise FederationRefused("No account of this application's project has this email.", request,
                                email=identity.email)
    else:
        new_member = NewMember(identity.email, identity.given_name, identity.family_name, "Patient",
                               access_policy=default_patient_policy(await read_project(store, project_id)))
        try:
            member = (await enroll(store, project_id, new_member, user)).user
        except FhirError as error:  # a concurrent first sign-in made the account or membership meanwhile
            raise FederationRefused("The account is being created; start again from the app.", request,
                                    email=identity.email) from error
    if linked is None and not await _link(store, project_id, identity, member.id):
        raise FederationRefused(_LINKED_ELSEWHERE.format(provider=provider.name), request, email=identity.email)
    return member


async def _linked_user(store: ResourceStore, project_id: UUID, identity: VerifiedIdentity) -> UserAccount | None:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT user_id FROM federated_identity WHERE project_id = %s AND issuer = %s AND subject = %s",
            [project_id, identity.issuer, identity.subject],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
        if row is None:
            return None
        user = await find_user(store, row["user_id"])
        if user is None:  # the user is gone: the provider's account may be linked afresh
            await conn.execute(
                "DELETE FROM federated_identity WHERE project_id = %s AND issuer = %s AND subject = %s",
                [project_id, identity.issuer, identity.subject],
            )
        return user


async def _linked_subject(store: ResourceStore, project_id: UUID, issuer: str, user_id: str) -> str | None:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT subject FROM federated_identity WHERE project_id = %s AND issuer = %s AND user_id = %s",
            [project_id, issuer, user_id],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    return str(row["subject"]) if row else None


async def _link(store: ResourceStore, project_id: UUID, identity: VerifiedIdentity, user_id: str) -> bool:
    """Link the provider's account to `user_id`; False when a concurrent first sign-in linked
    either of them otherwise (the unique keys decide which sign-in won)."""
    async with store.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO federated_identity (project_id, issuer, subject, user_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING", [project_id, identity.issuer, identity.subject, user_id],
        )
    return await _linked_subject(store, project_id, identity.issuer, user_id) == identity.subject


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
