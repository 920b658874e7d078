"""The sign-in's second step for users with TOTP on (fireside/auth/totp.py).

A correct password for such a user records a challenge (a random id, in `mfa_challenge`) and
hands the browser a signed token naming it, the user and the checked authorization request, bound
to the sign-in form's cookie like the form itself (fireside/auth/authorize.py). Only a correct
code for that token finishes the sign-in, so the step cannot be skipped: no authorization code
exists before it. One of the user's recovery codes (fireside/auth/recovery_codes.py) stands in
for a TOTP code, once. The challenge is used once, lives CHALLENGE_SECONDS, and dies after
MAX_CODE_ATTEMPTS wrong codes, TOTP or recovery (each also counts toward the email's lock-out).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import jwt

from fireside.auth.authorize import (
    AuthorizationPageError,
    AuthorizationRequest,
    SecondFactorRequired,
    SignedIn,
    SignInFailed,
    count_failure,
    current_client,
    finish_sign_in,
)
from fireside.auth.form_binding import OtherBrowser, read_bound_token, sign_bound_token
from fireside.auth.lockout import LockoutPolicy, clear_failures, is_locked
from fireside.auth.memberships import find_user
from fireside.auth.tokens import TokenService
from fireside.auth.totp import TotpStateError, check_code
from fireside.store import ResourceStore

CHALLENGE_AUDIENCE = "fireside:second-factor"
CHALLENGE_SECONDS = 300
MAX_CODE_ATTEMPTS = 5
_START_AGAIN = "The sign-in expired or was already used; start again from the app."


@dataclass(frozen=True)
class PendingSignIn:
    request: AuthorizationRequest
    user_id: str
    email: str
    challenge_id: str


async def start_second_factor(
    store: ResourceStore, tokens: TokenService, request: AuthorizationRequest, pending: SecondFactorRequired,
    binding: str,
) -> str:
    """Record the challenge; return the token the code form carries."""
    challenge_id = secrets.token_urlsafe(24)
    async with store.pool.connection() as conn:
        await conn.execute("DELETE FROM mfa_challenge WHERE expires_at < now()")
        await conn.execute(
            "INSERT INTO mfa_challenge (challenge_id, user_id, expires_at) VALUES (%s, %s, now() + %s)",
            [challenge_id, pending.user_id, timedelta(seconds=CHALLENGE_SECONDS)],
        )
    return sign_bound_token(tokens, CHALLENGE_AUDIENCE, CHALLENGE_SECONDS, binding, {
        "jti": challenge_id,
        "user": pending.user_id,
        "email": pending.email,
        "request": asdict(request),
    })


def read_second_factor_token(tokens: TokenService, token: str, binding: str | None) -> PendingSignIn:
    try:
        claims = read_bound_token(tokens, token, CHALLENGE_AUDIENCE, binding, ("jti", "user", "email", "request"))
    except jwt.PyJWTError as error:
        raise AuthorizationPageError(_START_AGAIN) from error
    except OtherBrowser as error:
        message = "The sign-in was not started in this browser; start again from the app."
        raise AuthorizationPageError(message) from error
    request: dict[str, Any] = claims["request"]
    return PendingSignIn(AuthorizationRequest(**request), str(claims["user"]), str(claims["email"]),
                         str(claims["jti"]))


async def sign_in_with_code(
    store: ResourceStore, secret_key: str, pending: PendingSignIn, code: str, lockout: LockoutPolicy | None = None
) -> SignedIn:
    """Check the code (TOTP or recovery), spend the challenge and finish the sign-in; `SignInFailed`
    shows the form again."""
    client = await current_client(store, pending.request)
    if lockout is not None and await is_locked(store, pending.email):
        raise SignInFailed(lockout.message, locked=True)
    await _check_live(store, pending.challenge_id)
    try:
        accepted = await check_code(store, secret_key, pending.user_id, code)
    except TotpStateError as error:  # turned off since the password: the sign-in is no longer what it was
        raise AuthorizationPageError(_START_AGAIN) from error
    if not accepted:
        await _count_wrong_code(store, pending.challenge_id)
        await count_failure(store, pending.email, lockout, "Wrong or already used code.")
    if not await _spend(store, pending.challenge_id):
        raise AuthorizationPageError(_START_AGAIN)
    if lockout is not None:
        await clear_failures(store, pending.email)
    user = await find_user(store, pending.user_id)
    if user is None:
        raise AuthorizationPageError(_START_AGAIN)
    return await finish_sign_in(store, client, pending.request, user)


async def _check_live(store: ResourceStore, challenge_id: str) -> None:
    # Before the code is checked, so a spent challenge cannot use up codes or lock the account.
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT 1 FROM mfa_challenge WHERE challenge_id = %s AND used_at IS NULL AND expires_at > now()"
            " AND failures < %s", [challenge_id, MAX_CODE_ATTEMPTS],
        )
        if await cursor.fetchone() is None:
            raise AuthorizationPageError(_START_AGAIN)


async def _count_wrong_code(store: ResourceStore, challenge_id: str) -> None:
    async with store.pool.connection() as conn:
        await conn.execute("UPDATE mfa_challenge SET failures = failures + 1 WHERE challenge_id = %s", [challenge_id])


async def _spend(store: ResourceStore, challenge_id: str) -> bool:
    # Conditional: of two posts racing with one challenge, one finishes the sign-in.
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "UPDATE mfa_challenge SET used_at = now() WHERE challenge_id = %s AND used_at IS NULL"
            " AND expires_at > now() AND failures < %s RETURNING 1", [challenge_id, MAX_CODE_ATTEMPTS],
        )
        return await cursor.fetchone() is not None

