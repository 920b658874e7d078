"""Time-based one-time passwords as an optional second factor (RFC 6238).

Six digits, 30-second steps, HMAC-SHA1: what authenticator apps assume when an `otpauth://` URI
says nothing else. A user turns it on in two steps: enrolling makes a secret (shown once, as the
URI an app scans), and the first correct code proves the app has it and turns it on, issuing
the recovery codes (fireside/auth/recovery_codes.py) that stand in for a code when the app is
lost. Turning it off takes a current code (or a recovery code) too, and deletes them.

The secret is kept encrypted with the server's secret key (fireside/auth/encryption.py), never
logged. RFC 6238 section 5.2 says a code is accepted once: each user's `last_step` records the
newest time step accepted, and a code of that step or an earlier one is refused, so a code seen
over a shoulder or replayed from a form is worth nothing once used.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyotp
from psycopg import AsyncConnection

from fireside.auth.encryption import seal, unseal
from fireside.auth.memberships import UserAccount
from fireside.auth.recovery_codes import delete_codes, looks_like_recovery_code, replace_codes, spend_code
from fireside.store import ResourceStore

DIGITS = 6
ISSUER = "Fireside"
# RFC 6238 section 5.2 recommends at most one step of drift either way: a code works for 30 to
# 90 seconds, enough for a slow typist and a clock a little off.
_DRIFT_STEPS = 1
_PURPOSE = "totp-secrets"


class TotpStateError(Exception):
    """The request does not fit the user's state: enrolling again while on, verifying with no enrollment."""


@dataclass(frozen=True)
class Enrollment:
    secret: str  # base32, for typing into an app by hand
    otpauth_uri: str  # for a QR code


async def enroll(store: ResourceStore, secret_key: str, user: UserAccount) -> Enrollment:
    """A new secret for `user`, waiting for its first code. Replaces an enrollment never verified;
    refused while TOTP is on (turning it off takes a code, and so must replacing it)."""
    secret = pyotp.random_base32()
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "INSERT INTO user_totp (user_id, secret_encrypted) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET secret_encrypted = excluded.secret_encrypted, last_step = 0,"
            " created_at = now() WHERE user_totp.enabled_at IS NULL RETURNING user_id",
            [user.id, seal(secret_key, _PURPOSE, secret.encode())],
        )
        if await cursor.fetchone() is None:
            raise TotpStateError("Two-factor sign-in is already on: turn it off first")
    return Enrollment(secret, pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER))


async def is_enabled(store: ResourceStore, user_id: str) -> bool:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT 1 FROM user_totp WHERE user_id = %s AND enabled_at IS NOT NULL", [user_id]
        )
        return await cursor.fetchone() is not None


async def activate(store: ResourceStore, secret_key: str, user_id: str, code: str) -> list[str] | None:
    """Turn TOTP on with the enrollment's first code: its new recovery codes, or None when the code
    is wrong."""
    async with store.pool.connection() as conn, conn.transaction():
        if not await _spend_code(conn, secret_key, user_id, code, enabled=False):
            return None
        await conn.execute("UPDATE user_totp SET enabled_at = now() WHERE user_id = %s", [user_id])
        return await replace_codes(conn, secret_key, user_id)


async def deactivate(store: ResourceStore, secret_key: str, user_id: str, code: str) -> bool:
    """Turn TOTP off (forgetting the secret and the recovery codes) with a current code or a
    recovery code (the way back for a user whose app is lost); False when the code is wrong."""
    async with store.pool.connection() as conn, conn.transaction():
        if not await _spend_either(conn, secret_key, user_id, code):
            return False
        await delete_codes(conn, user_id)
        await conn.execute("DELETE FROM user_totp WHERE user_id = %s", [user_id])
    return True


async def renew_recovery_codes(store: ResourceStore, secret_key: str, user_id: str, code: str) -> list[str] | None:
    """A new set of recovery codes, replacing the old, for a current TOTP code (not a recovery
    code: one of the old set must not mint a new set); None when the code is wrong."""
    async with store.pool.connection() as conn, conn.transaction():
        if not await _spend_code(conn, secret_key, user_id, code, enabled=True):
            return None
        return await replace_codes(conn, secret_key, user_id)


async def check_code(store: ResourceStore, secret_key: str, user_id: str, code: str) -> bool:
    """Whether `code` is a current, unused code of the user's (enabled) TOTP, or one of their
    unused recovery codes; it is then used up."""
    async with store.pool.connection() as conn:
        return await _spend_either(conn, secret_key, user_id, code)


async def _spend_either(conn: AsyncConnection[Any], secret_key: str, user_id: str, code: str) -> bool:
    if not looks_like_recovery_code(code):
        return await _spend_code(conn, secret_key, user_id, code, enabled=True)
    cursor = await conn.execute(
        "SELECT 1 FROM user_totp WHERE user_id = %s AND enabled_at IS NOT NULL", [user_id])
    if await cursor.fetchone() is None:
        raise TotpStateError("Two-factor sign-in is not on")
    return await spend_code(conn, secret_key, user_id, code)


async def _spend_code(conn: AsyncConnection[Any], secret_key: str, user_id: str, code: str, enabled: bool) -> bool:
    cursor = await conn.execute(
        "SELECT secret_encrypted, last_step FROM user_totp WHERE user_id = %s"
        " AND (enabled_at IS NOT NULL) = %s", [user_id, enabled],
    )
    row: dict[str, Any] | None = await cursor.fetchone()
    if row is None:
        raise TotpStateError("Two-factor sign-in is not on" if enabled else "Enroll first")
    secret = unseal(secret_key, _PURPOSE, bytes(row["secret_encrypted"]), "TOTP secret").decode()
    step = _matching_step(secret, code)
    if step is None or step <= row["last_step"]:
        return False
    # Conditional on last_step: of two requests racing with one code, only one spends it.
    cursor = await conn.execute(
        "UPDATE user_totp SET last_step = %s WHERE user_id = %s AND last_step < %s RETURNING 1",
        [step, user_id, step],
    )
    return await cursor.fetchone() is not None


def _matching_step(secret: str, code: str) -> int | None:
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS)
    now = totp.timecode(datetime.now(UTC))
    for step in range(now - _DRIFT_STEPS, now + _DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
