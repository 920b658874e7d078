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

from fireside.auth.memberships import UserAccount, membership_row, new_membership, stage_user
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
                user = await stage_user(unit, member.email, password_hash, member.first_name, member.last_name)
            profile = _stage_profile(unit, member)
            membership = unit.stage_put(new_membership(project_id, user.reference, member.admin, profile,
                                                       member.access_policy), new_resource_id(), None)
    except psycopg.errors.UniqueViolation as error:
        # user_credential's unique lower(email): a concurrent invite or registration won.
        raise FhirError.single("conflict", "A user with this email already exists", expression="email") from error
    return Enrolment(user, existing is None, membership, profile)


async def _refuse_second_membership(unit: StoreTransaction, member: str) -> None:
    # Two invites of one user into one project serialize on this lock, so the second sees the first.
    await unit.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            [f"membership:{unit.ctx.project_id}:{member}"])
    if await membership_row(unit.conn, unit.ctx.project_id, member) is not None:
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

