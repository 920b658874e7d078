"""Projects, their client applications and the super admin: the tenancy minimum.

A `Project` is stored as a resource in its own project (project_id = its id). Client secrets
and passwords are kept apart from resources, hashed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fireside.auth.passwords import (
    hash_client_secret,
    hash_password,
    new_client_secret,
    verify_client_secret,
)
from fireside.auth.tokens import TokenGrant
from fireside.store import AccessContext, ResourceStore, new_resource_id

ADMIN_PROJECT_SETTING = "admin_project_id"
SYSTEM_AUTHOR = "Device/fireside-system"
DEFAULT_CLIENT_SCOPE = "system/*.*"


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    project_id: UUID


def system_context(project_id: UUID) -> AccessContext:
    return AccessContext(project_id=project_id, author=SYSTEM_AUTHOR, super_admin=True)


async def create_project(store: ResourceStore, name: str) -> UUID:
    project_id = uuid.UUID(new_resource_id())
    async with store.transaction(system_context(project_id)) as unit:
        unit.stage_put({"resourceType": "Project", "name": name}, str(project_id), None)
    return project_id


async def read_project(store: ResourceStore, project_id: UUID) -> dict[str, Any]:
    """The Project resource of `project_id`; empty when it is deleted or never was."""
    stored = await store.read(system_context(project_id), "Project", str(project_id))
    return stored.resource() if stored is not None and not stored.deleted else {}


def default_patient_policy(project: dict[str, Any]) -> str | None:
    """`Project.defaultPatientAccessPolicy`: what members who make their own account get
    (fireside/auth/registration.py, federation.py)."""
    policy = (project.get("defaultPatientAccessPolicy") or {}).get("reference")
    return policy if isinstance(policy, str) else None


async def admin_project_id(store: ResourceStore) -> UUID | None:
    async with store.pool.connection() as conn:
        cursor = await conn.execute("SELECT value FROM server_setting WHERE key = %s", [ADMIN_PROJECT_SETTING])
        row = await cursor.fetchone()
    return UUID(row["value"]) if row else None


async def ensure_admin_project(store: ResourceStore) -> UUID:
    """The project that holds the super admin and default clients, created on first start."""
    existing = await admin_project_id(store)
    if existing:
        return existing
    project_id = await create_project(store, "Admin")
    async with store.pool.connection() as conn:
        # A concurrent first start may have won; keep its project, drop nothing (ours stays empty).
        await conn.execute(
            "INSERT INTO server_setting (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
            [ADMIN_PROJECT_SETTING, str(project_id)],
        )
    found = await admin_project_id(store)
    assert found is not None
    return found


async def ensure_super_admin(store: ResourceStore, email: str, password: str) -> None:
    """Create the super admin user named by the settings if no user has that email yet."""
    project_id = await ensure_admin_project(store)
    async with store.pool.connection() as conn:
        cursor = await conn.execute("SELECT 1 FROM user_credential WHERE lower(email) = lower(%s)", [email])
        if await cursor.fetchone():
            return
    user_id = new_resource_id()
    async with store.transaction(system_context(project_id)) as unit:
        unit.stage_put({"resourceType": "User", "email": email}, user_id, None)
        await unit.conn.execute(
            "INSERT INTO user_credential (project_id, user_id, email, password_hash, super_admin)"
            " VALUES (%s, %s, %s, %s, true) ON CONFLICT DO NOTHING",
            [project_id, user_id, email, hash_password(password)],
        )


async def create_client(
    store: ResourceStore, project_id: UUID, name: str, redirect_uris: Sequence[str] = (), public: bool = False,
) -> ClientCredentials:
    """A confidential client of `project_id` (or a public one, without a secret: an app that
    cannot keep one, which signs users in with PKCE); with `redirect_uris`, one that the
    authorization code flow (a user's sign-in) can use."""
    client_id = new_resource_id()
    secret = "" if public else new_client_secret()
    resource: dict[str, Any] = {"resourceType": "ClientApplication", "name": name}
    if redirect_uris:
        resource["redirectUri"] = list(redirect_uris)
    async with store.transaction(system_context(project_id)) as unit:
        unit.stage_put(resource, client_id, None)
        if public:
            return ClientCredentials(client_id, secret, project_id)
        await unit.conn.execute(
            "INSERT INTO client_secret (project_id, client_id, secret_hash) VALUES (%s, %s, %s)",
            [project_id, client_id, hash_client_secret(secret)],
        )
    return ClientCredentials(client_id, secret, project_id)


async def authenticate_client(store: ResourceStore, client_id: str, secret: str) -> TokenGrant | None:
    """The grant for a client presenting its secret, or None when either is wrong."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT c.project_id, c.secret_hash, s.value AS admin_project FROM client_secret c"
            " LEFT JOIN server_setting s ON s.key = %s WHERE c.client_id = %s",
            [ADMIN_PROJECT_SETTING, client_id],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    if row is None:
        # Spend the same time as a real check, so response timing doesn't reveal which ids exist.
        verify_client_secret(_DUMMY_SECRET_HASH, secret)
        return None
    if not verify_client_secret(row["secret_hash"], secret):
        return None
    return TokenGrant(
        subject=f"ClientApplication/{client_id}",
        project_id=row["project_id"],
        client_id=client_id,
        scope=DEFAULT_CLIENT_SCOPE,
        super_admin=str(row["project_id"]) == row["admin_project"],
    )


_DUMMY_SECRET_HASH = hash_client_secret("not-a-real-secret")
