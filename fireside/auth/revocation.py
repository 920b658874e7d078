"""Revoked access tokens (RFC 7009), checked on every authenticated request.

A token is revoked by its `jti`, or with every token of its Login (sign-out, a refresh token
reused). The check must stay cheap: verified tokens are already cached in memory, so a database
query per request would be most of the cost of a read. Each token is looked up at most once per
`RECHECK_SECONDS`; a revocation made by this process applies at once, one made by another API
process within that delay, or at once where the process hears of it (fireside/auth/changes.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool

from fireside.auth.tokens import TokenGrant
from fireside.fhir.errors import FhirError

RECHECK_SECONDS = 5.0
_CACHE_SIZE = 10_000


def token_revocation_id(token_id: str) -> str:
    return f"jti:{token_id}"


def login_revocation_id(login_id: str) -> str:
    return f"login:{login_id}"


def _revocation_ids(grant: TokenGrant) -> list[str]:
    ids = [token_revocation_id(grant.token_id)] if grant.token_id else []
    if grant.login_id:
        ids.append(login_revocation_id(grant.login_id))
    return ids


async def record_revocation(
    conn: psycopg.AsyncConnection[Any], project_id: UUID, revoked_id: str, expires_at: datetime
) -> None:
    """Keep the revocation until everything it revokes has expired anyway."""
    await conn.execute(
        "INSERT INTO token_revocation (project_id, revoked_id, expires_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (project_id, revoked_id) DO UPDATE"
        " SET expires_at = greatest(token_revocation.expires_at, excluded.expires_at)",
        [project_id, revoked_id, expires_at],
    )


class RevocationList:
    def __init__(self, pool: AsyncConnectionPool[Any], recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.pool = pool
        self.recheck_seconds = recheck_seconds
        self._checked_until: dict[tuple[UUID, str], float] = {}
        self._revoked_here: set[tuple[UUID, str]] = set()

    def note_revoked(self, project_id: UUID, revoked_id: str) -> None:
        """A revocation this process just recorded, or heard of (fireside/auth/changes.py):
        refuse matching tokens without waiting."""
        if len(self._revoked_here) >= _CACHE_SIZE:
            # Forgetting them is safe only if every token is looked up again.
            self._revoked_here.clear()
            self._checked_until.clear()
        self._revoked_here.add((project_id, revoked_id))

    def forget_checks(self) -> None:
        """Look every token up again (revocations may have been missed)."""
        self._checked_until.clear()

    async def check(self, grant: TokenGrant) -> None:
        ids = _revocation_ids(grant)
        if any((grant.project_id, i) in self._revoked_here for i in ids):
            raise _revoked()
        key = (grant.project_id, grant.token_id or "")
        now = time.monotonic()
        if self._checked_until.get(key, 0.0) > now:
            return
        if await self._is_revoked(grant.project_id, ids):
            raise _revoked()
        if len(self._checked_until) >= _CACHE_SIZE:
            self._checked_until.pop(next(iter(self._checked_until)))
        self._checked_until[key] = now + self.recheck_seconds

    async def _is_revoked(self, project_id: UUID, ids: list[str]) -> bool:
        if not ids:
            return False
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT 1 FROM token_revocation WHERE project_id = %s AND revoked_id = ANY(%s)"
                " AND expires_at > %s LIMIT 1",
                [project_id, ids, datetime.now(UTC)],
            )
            return await cursor.fetchone() is not None


def _revoked() -> FhirError:
    return FhirError.single("login", "Access token revoked")
