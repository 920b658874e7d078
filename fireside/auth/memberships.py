"""Users and their places in projects.

A `User` is a person with a password (kept hashed in `user_credential`); the User resource lives
in the project that created it. A user works in a project only through a `ProjectMembership`
stored in that project, which says whether they are a project admin and which resource
(`profile`: a Practitioner, Patient, ...) they are there. Super admins may sign in anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg.types.json import Jsonb

from fireside.auth.passwords import hash_password, verify_password
from fireside.auth.projects import system_context
from fireside.store import ResourceStore, StoreTransaction, new_resource_id


@dataclass(frozen=True)
class UserAccount:
    id: str
    project_id: UUID  # where the User resource lives
    email: str
    super_admin: bool

    @property
    def reference(self) -> str:
        return f"User/{self.id}"


@dataclass(frozen=True)
class Membership:
    id: str | None  # None: a super admin working in a project without a membership there
    project_id: UUID
    admin: bool
    profile: str | None  # a reference, "Practitioner/123"


async def create_user(
    store: ResourceStore, project_id: UUID, email: str, password: str, name: tuple[str, str] | None = None
) -> UserAccount:
    """A User in `project_id` who signs in with `email` and `password` (hashed with argon2)."""
    first_name, last_name = name or (None, None)
    async with store.transaction(system_context(project_id)) as unit:
        return await stage_user(unit, email, hash_password(password), first_name, last_name)


async def stage_user(unit: StoreTransaction, email: str, password_hash: str, first_name: str | None = None,
                     last_name: str | None = None) -> UserAccount:
    """A new User in the transaction's project, with its credential row."""
    user_id = new_resource_id()
    resource: dict[str, Any] = {"resourceType": "User", "email": email}
    if first_name:
        resource["firstName"] = first_name
    if last_name:
        resource["lastName"] = last_name
    unit.stage_put(resource, user_id, None)
    await unit.conn.execute(
        "INSERT INTO user_credential (project_id, user_id, email, password_hash) VALUES (%s, %s, %s, %s)",
        [unit.ctx.project_id, user_id, email, password_hash],
    )
    return UserAccount(user_id, unit.ctx.project_id, email, False)


async def add_membership(
    store: ResourceStore, project_id: UUID, member: str, admin: bool = False, profile: str | None = None
) -> str:
    """Make `member` ("User/<id>", "ClientApplication/<id>" or "Bot/<id>") a member of `project_id`."""
    membership_id = new_resource_id()
    async with store.transaction(system_context(project_id)) as unit:
        unit.stage_put(new_membership(project_id, member, admin, profile), membership_id, None)
    return membership_id


def new_membership(project_id: UUID, member: str, admin: bool = False, profile: str | None = None,
                   access_policy: str | None = None) -> dict[str, Any]:
    """The ProjectMembership resource making `member` a member of `project_id`, as `profile`
    ("Practitioner/<id>"), limited by `access_policy` ("AccessPolicy/<id>") when given."""
    resource: dict[str, Any] = {
        "resourceType": "ProjectMembership",
        "project": {"reference": f"Project/{project_id}"},
        member_element(member): {"reference": member},
    }
    if profile:
        resource["profile"] = {"reference": profile}
    resource["admin"] = admin
    if access_policy:
        resource["accessPolicy"] = [{"reference": access_policy}]
    return resource


def member_element(member: str) -> str:
    """The ProjectMembership element that references `member`."""
    resource_type = member.partition("/")[0]
    return {"User": "user", "Bot": "bot"}.get(resource_type, "client")


async def find_membership(store: ResourceStore, project_id: UUID, member: str) -> Membership | None:
    """`member`'s live membership in `project_id`."""
    found = await membership_resource(store, project_id, member)
    if found is None:
        return None
    membership_id, resource = found
    profile = resource.get("profile", {}).get("reference")
    return Membership(membership_id, project_id, bool(resource.get("admin")), profile)


async def membership_resource(
    store: ResourceStore, project_id: UUID, member: str
) -> tuple[str, dict[str, Any]] | None:
    """The id and ProjectMembership resource of `member` (`User/...`, `ClientApplication/...` or
    `Bot/...`) in `project_id`.

    Memberships have no search index yet; a project holds one per member, and the containment
    test runs only over that project's memberships."""
    async with store.pool.connection() as conn:
        return await membership_row(conn, project_id, member)


async def membership_row(
    conn: psycopg.AsyncConnection[Any], project_id: UUID, member: str
) -> tuple[str, dict[str, Any]] | None:
    """`membership_resource` on `conn` (a transaction's, to see its own writes and locks)."""
    cursor = await conn.execute(
        "SELECT id, content FROM resource WHERE project_id = %s AND resource_type = 'ProjectMembership'"
        " AND NOT deleted AND fireside_content_jsonb(content) @> %s ORDER BY id LIMIT 1",
        [project_id, Jsonb({member_element(member): {"reference": member}})],
    )
    row: dict[str, Any] | None = await cursor.fetchone()
    if row is None:
        return None
    resource: dict[str, Any] = orjson.loads(row["content"])
    return row["id"], resource


async def find_user_by_password(store: ResourceStore, email: str, password: str) -> UserAccount | None:
    """The user with this email and password, or None when either is wrong."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT project_id, user_id, email, password_hash, super_admin FROM user_credential"
            " WHERE lower(email) = lower(%s)",
            [email],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    if row is None:
        # Spend an argon2 verification anyway, so timing does not tell which emails exist.
        verify_password(_DUMMY_PASSWORD_HASH, password)
        return None
    if not verify_password(row["password_hash"], password):
        return None
    return _account(row)


async def find_user(store: ResourceStore, user_id: str) -> UserAccount | None:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT project_id, user_id, email, super_admin FROM user_credential WHERE user_id = %s", [user_id]
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    return _account(row) if row else None


async def find_user_by_email(store: ResourceStore, email: str) -> UserAccount | None:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT project_id, user_id, email, super_admin FROM user_credential WHERE lower(email) = lower(%s)",
            [email],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    return _account(row) if row else None


def _account(row: dict[str, Any]) -> UserAccount:
    return UserAccount(row["user_id"], row["project_id"], row["email"], bool(row["super_admin"]))


async def membership_for_sign_in(store: ResourceStore, project_id: UUID, user: UserAccount) -> Membership | None:
    """What `user` may be in `project_id`: their membership, or (super admins) an admin's place."""
    membership = await find_membership(store, project_id, user.reference)
    if membership is None and user.super_admin:
        return Membership(None, project_id, True, None)
    return membership


_DUMMY_PASSWORD_HASH = hash_password("not-a-real-password")
