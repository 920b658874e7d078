"""Changes to access, heard by every API process at once.

API processes share nothing but the database, and each caches what a token may reach: compiled
policies for 10 s (fireside/auth/policies.py) and "not revoked" for 5 s
(fireside/auth/revocation.py). Without more, removing a member or revoking a token would take
effect in the other processes only when those run out. Triggers (migration 0014) NOTIFY at
commit when a ProjectMembership, AccessPolicy or ClientApplication is written, and when a token
or Login is revoked; each process LISTENs on one connection of its own and drops the cached
answers at once. The cache delays remain the bound when a notification is lost: a listener that
loses its connection drops everything cached when it is back, and listens again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import psycopg

from fireside.auth.policies import AccessResolver
from fireside.auth.revocation import RevocationList

ACCESS_CHANNEL = "fireside_access"
REVOCATION_CHANNEL = "fireside_revocation"
RECONNECT_SECONDS = 1.0

log = logging.getLogger(__name__)


async def listen_for_access_changes(
    database_url: str, access: AccessResolver, revocations: RevocationList,
    reconnect_seconds: float = RECONNECT_SECONDS,
) -> None:
    """Apply every announced change until cancelled (the app's lifespan runs it)."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
            async with conn:
                await conn.execute(f"LISTEN {ACCESS_CHANNEL}")
                await conn.execute(f"LISTEN {REVOCATION_CHANNEL}")
                # What changed while this process was not listening is unknown: forget it all.
                access.forget()
                revocations.forget_checks()
                async for notification in conn.notifies():
                    _apply(notification, access, revocations)
        except psycopg.Error as error:
            log.warning("not hearing access changes (%s); again in %.0f s", type(error).__name__, reconnect_seconds)
            await asyncio.sleep(reconnect_seconds)


def _apply(notification: Any, access: AccessResolver, revocations: RevocationList) -> None:
    try:
        if notification.channel == ACCESS_CHANNEL:
            access.forget(UUID(notification.payload))
        elif notification.channel == REVOCATION_CHANNEL:
            project_id, _, revoked_id = notification.payload.partition(" ")
            revocations.note_revoked(UUID(project_id), revoked_id)
    except ValueError:
        log.warning("an access change notification could not be read")
