"""Making someone a member of a project: their User (if the email has none), their profile
resource in the project, and the ProjectMembership that ties them, written in one transaction.

Invites (fireside/auth/invites.py) and self-registration (fireside/auth/registration.py) both
come here. Users are server-wide (one per email, `user_credential`), while the User resource
lives in the project that created it; a user invited into a second project keeps their User and
password and gains a membership.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from fireside.auth.memberships import UserAccount
from fireside.auth.passwords import hash_password, unusable_password_hash
from fireside.auth.projects import system_context
from fireside.fhir.errors import FhirError
from fireside.store import ResourceStore, StoredResource, StoreTransaction, new_resource_id

PROFILE_TYPES = ("Practitioner", "Patient", "RelatedPerson")


@dataclass(frozen=True)
class NewMember:
    email: str
    first_name: str | None
    last_name: str | None
    profile_type: str  # one of PROFILE_TYPES
    admin: bool = False
    access_policy: str | None = None  # "AccessPolicy/<id>" of the project
    # RelatedPerson.patient is required (1..1): "Patient/<id>" of the project.
    patient: str | None = None
    # None: the user chooses one through a one-time link (fireside/auth/password_tokens.py).
    password: str | None = None


@dataclass(frozen=True)
class Enrolment:
    user: UserAccount
    new_user: bool
    membership: StoredResource
    profile: str  # "Practitioner/<id>"


async def find_user_by_email(store: ResourceStore, email: str) -> UserAccount | None:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT project_id, user_id, email, super_admin FROM user_credential WHERE lower(email) = lower(%s)",
            [email],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    return UserAccount(row["user_id"], row["project_id"], row["email"], bool(row["super_admin"])) if row else None


async def enroll(store: ResourceStore, project_id: UUID, member: NewMember, existing: UserAccount | None) -> Enrolment:
    """Make `member` a member of `project_id`: a new User unless `existing` is theirs.

    409 when they already are a member, or when another request just took the email."""
    # Hashed before the transaction: argon2 takes tens of milliseconds and needs no lock.
    password_hash = None if existing else (hash_password(member.password) if member.password
                                           else unusable_password_hash())
    try:
        async with store.transaction(system_context(project_id)) as unit:
            if existing is not None:
                await _refuse_second_membership(unit, existing.reference)
                user = existing
            else:
                assert password_hash is not None
                user = await _stage_user(unit, member, password_hash)
            profile = _stage_profile(unit, member)
            membership = _stage_membership(unit, member, user.reference, profile)
    except psycopg.errors.UniqueViolation as error:
        # user_credential's unique lower(email): a concurrent invite or registration won.
        raise FhirError.single("conflict", "A user with this email already exists", expression="email") from error
    return Enrolment(user, existing is None, membership, profile)


async def _stage_user(unit: StoreTransaction, member: NewMember, password_hash: str) -> UserAccount:
    user_id = new_resource_id()
    resource: dict[str, Any] = {"resourceType": "User", "email": member.email}
    if member.first_name:
        resource["firstName"] = member.first_name
    if member.last_name:
        resource["lastName"] = member.last_name
    unit.stage_put(resource, user_id, None)
    await unit.conn.execute(
        "INSERT INTO user_credential (project_id, user_id, email, password_hash) VALUES (%s, %s, %s, %s)",
        [unit.ctx.project_id, user_id, member.email, password_hash],
    )
    return UserAccount(user_id, unit.ctx.project_id, member.email, False)


async def _refuse_second_membership(unit: StoreTransaction, member: str) -> None:
    # Two invites of one user into one project serialize on this lock, so the second sees the first.
    await unit.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            [f"membership:{unit.ctx.project_id}:{member}"])
    cursor = await unit.conn.execute(
        "SELECT 1 FROM resource WHERE project_id = %s AND resource_type = 'ProjectMembership' AND NOT deleted"
        " AND fireside_content_jsonb(content) @> %s LIMIT 1",
        [unit.ctx.project_id, Jsonb({"user": {"reference": member}})],
    )
    if await cursor.fetchone() is not None:
        raise FhirError.single("conflict", "This user is already a member of the project", expression="email")


def _stage_profile(unit: StoreTransaction, member: NewMember) -> str:
    profile: dict[str, Any] = {"resourceType": member.profile_type}
    name: dict[str, Any] = {}
    if member.first_name:
        name["given"] = [member.first_name]
    if member.last_name:
        name["family"] = member.last_name
    if name:
        profile["name"] = [name]
    profile["telecom"] = [{"system": "email", "value": member.email}]
    if member.profile_type == "RelatedPerson":
        profile["patient"] = {"reference": member.patient}
    profile_id = new_resource_id()
    unit.stage_put(profile, profile_id, None)
    return f"{member.profile_type}/{profile_id}"


def _stage_membership(unit: StoreTransaction, member: NewMember, user: str, profile: str) -> StoredResource:
    resource: dict[str, Any] = {
        "resourceType": "ProjectMembership",
        "project": {"reference": f"Project/{unit.ctx.project_id}"},
        "user": {"reference": user},
        "profile": {"reference": profile},
        "admin": member.admin,
    }
    if member.access_policy:
        resource["accessPolicy"] = [{"reference": member.access_policy}]
    return unit.stage_put(resource, new_resource_id(), None)
