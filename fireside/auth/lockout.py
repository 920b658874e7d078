"""Lock-out after repeated failed sign-ins for one account (OWASP Authentication Cheat Sheet,
"Account Lockout"): `failures` wrong passwords within `window_seconds` lock the email for
`lock_seconds`; while locked, no password is checked.

The count is kept per email typed (its SHA-256, lower-cased), whether or not a user has it, and
the locked answer is the same for both: the lock-out is not an oracle for which emails exist.
Counters live in PostgreSQL so that every API process sees the same ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fireside.store import ResourceStore

_RECORD_FAILURE = """
INSERT INTO login_failure AS f (account_key, failures, window_start, locked_until)
VALUES (%(key)s, 1, now(), CASE WHEN %(max)s <= 1 THEN now() + %(lock)s END)
ON CONFLICT (account_key) DO UPDATE SET
    failures = {count},
    window_start = CASE WHEN f.window_start <= now() - %(window)s THEN now() ELSE f.window_start END,
    locked_until = CASE WHEN {count} >= %(max)s THEN now() + %(lock)s ELSE f.locked_until END
RETURNING failures, locked_until
""".format(count="(CASE WHEN f.window_start <= now() - %(window)s THEN 1 ELSE f.failures + 1 END)")


@dataclass(frozen=True)
class LockoutPolicy:
    failures: int = 10
    window_seconds: int = 15 * 60
    lock_seconds: int = 15 * 60

    @property
    def message(self) -> str:
        minutes = max(1, round(self.lock_seconds / 60))
        return (f"Too many failed sign-ins for this email: sign-in is locked for up to {minutes} minutes. "
                "Try again later.")


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


async def is_locked(store: ResourceStore, email: str) -> bool:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT 1 FROM login_failure WHERE account_key = %s AND locked_until > now()", [account_key(email)]
        )
        return await cursor.fetchone() is not None


async def record_failure(store: ResourceStore, email: str, policy: LockoutPolicy) -> bool:
    """Count a failed sign-in; True when this one locked the account."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(_RECORD_FAILURE, {
            "key": account_key(email),
            "max": policy.failures,
            "window": timedelta(seconds=policy.window_seconds),
            "lock": timedelta(seconds=policy.lock_seconds),
        })
        row: dict[str, Any] | None = await cursor.fetchone()
    locked_until: datetime | None = row["locked_until"] if row else None
    return row is not None and row["failures"] >= policy.failures and locked_until is not None


async def clear_failures(store: ResourceStore, email: str) -> None:
    """A successful sign-in forgives earlier failures."""
    async with store.pool.connection() as conn:
        await conn.execute("DELETE FROM login_failure WHERE account_key = %s", [account_key(email)])
