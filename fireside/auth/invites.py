"""Invites: a project admin (or the super admin) makes someone a member of the project.

`POST /admin/projects/{id}/invite` with `email`, `firstName`, `lastName`, `resourceType` (of the
profile: Practitioner, Patient or RelatedPerson), `admin`, `accessPolicy`, `sendEmail` and an
optional `password`. A new user without a password gets a one-time link to choose one
(fireside/auth/password_tokens.py). Inviting someone who already is a member is a 409.

Another project's id answers 404 whether or not it exists: a project admin learns nothing about
projects that are not theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from fireside.auth.enrollment import PROFILE_TYPES, Enrolment, NewMember, enroll
from fireside.auth.mail import OutgoingMail
from fireside.auth.memberships import find_user_by_email
from fireside.auth.password_tokens import new_password_token
from fireside.auth.passwords import password_problem
from fireside.auth.projects import system_context
from fireside.fhir.errors import FhirError, invalid
from fireside.store import AccessContext, ResourceStore

# Deliberately loose (RFC 5321 allows far more than any regex checks): one @, no spaces, a dot
# in the domain. The email that arrives is the real test.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 320
MAX_NAME_LENGTH = 200
_REFERENCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass(frozen=True)
class Invite:
    member: NewMember
    send_email: bool


@dataclass(frozen=True)
class Invitation:
    enrolment: Enrolment
    project_name: str
    # The token of the link to choose a password: a new user invited without one.
    password_token: str | None


def parse_invite(body: Any) -> Invite:
    """The invite a JSON body asks for; 400 naming the element that is wrong."""
    if not isinstance(body, dict):
        raise invalid("Send the invite as a JSON object")
    email = check_email(body.get("email"), "email")
    profile_type = _optional_string(body, "resourceType") or "Practitioner"
    if profile_type not in PROFILE_TYPES:
        raise invalid(f"resourceType must be one of {', '.join(PROFILE_TYPES)}", "resourceType")
    password = _optional_string(body, "password")
    if password is not None and (problem := password_problem(password, email)):
        raise invalid(problem, "password")
    patient = _reference(body, "patient", "Patient")
    if profile_type == "RelatedPerson" and patient is None:
        raise FhirError.single("required", "A RelatedPerson needs the Patient they are related to", "patient")
    member = NewMember(
        email=email,
        first_name=check_name(body.get("firstName"), "firstName"),
        last_name=check_name(body.get("lastName"), "lastName"),
        profile_type=profile_type,
        admin=_boolean(body, "admin", False),
        access_policy=_reference(body, "accessPolicy", "AccessPolicy"),
        patient=patient,
        password=password,
    )
    return Invite(member, _boolean(body, "sendEmail", True))


def check_email(value: Any, expression: str) -> str:
    if value is None or value == "":
        raise FhirError.single("required", "email is required", expression)
    if (not isinstance(value, str) or len(value) > MAX_EMAIL_LENGTH or not value.isprintable()
            or not _EMAIL.fullmatch(value.strip())):
        raise invalid("email must be an email address", expression)
    return value.strip()


def check_name(value: Any, expression: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH or not value.isprintable():
        raise invalid(f"{expression} must be a printable string of at most {MAX_NAME_LENGTH} characters",
                      expression)
    return value.strip() or None


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string", name)
    return value


def _boolean(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise invalid(f"{name} must be true or false", name)
    return value


def _reference(body: dict[str, Any], name: str, resource_type: str) -> str | None:
    """`{"reference": "AccessPolicy/1"}` or the string "AccessPolicy/1", as "AccessPolicy/1"."""
    value = body.get(name)
    if value is None:
        return None
    text = value.get("reference") if isinstance(value, dict) else value
    expression = f"{name}.reference" if isinstance(value, dict) else name
    prefix = f"{resource_type}/"
    if not isinstance(text, str) or not text.startswith(prefix) or not _REFERENCE_ID.fullmatch(text[len(prefix):]):
        raise invalid(f"{name} must be a reference to a {resource_type} of the project ({prefix}<id>)", expression)
    return text


def check_project_admin(ctx: AccessContext, project_id: UUID, action: str) -> None:
    """Super admins administer any project, project admins their own, nobody else."""
    if ctx.super_admin:
        return
    if ctx.project_id != project_id:
        raise project_not_found()
    if not ctx.project_admin:
        raise FhirError.single("forbidden", f"Only a project admin may {action}")


def project_not_found() -> FhirError:
    return FhirError.single("not-found", "Project not found")


async def invite(store: ResourceStore, ctx: AccessContext, project_id: UUID, request: Invite,
                 link_lifetime: timedelta) -> Invitation:
    check_project_admin(ctx, project_id, "invite members")
    project = await _live(store, project_id, "Project", str(project_id))
    if project is None:
        raise project_not_found()
    member = request.member
    for reference, expression in ((member.access_policy, "accessPolicy"), (member.patient, "patient")):
        if reference and await _live(store, project_id, *reference.split("/", 1)) is None:
            raise invalid(f"{reference} is not a resource of this project", expression)
    existing = await find_user_by_email(store, member.email)
    if existing is not None and member.password is not None:
        # An invite must never change the password of someone who already has an account.
        raise FhirError.single("business-rule", "A user with this email exists: their password cannot be set "
                               "by an invite", "password")
    enrolment = await enroll(store, project_id, member, existing)
    token = None
    if enrolment.new_user and member.password is None:
        token = await new_password_token(store, enrolment.user.id, "invite", link_lifetime)
    return Invitation(enrolment, str(project.get("name", "")), token)


async def _live(store: ResourceStore, project_id: UUID, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    stored = await store.read(system_context(project_id), resource_type, resource_id)
    return None if stored is None or stored.deleted else stored.resource()


def invite_mail(invitation: Invitation, link: str | None, lifetime: timedelta) -> OutgoingMail:
    """The email for the invited user: the link to choose a password, or (a user who already has
    one) a note that they can now sign in to the project."""
    user = invitation.enrolment.user
    project = invitation.project_name or "a Fireside project"
    if link is not None:
        days = max(1, round(lifetime.total_seconds() / 86400))
        body = (f"You are invited to {project}.\n\nTo choose your password, open this link within {days} "
                f"day(s):\n\n{link}\n\nThe link works once. Then sign in with {user.email} and that password.\n")
    else:
        body = (f"You are now a member of {project}. Sign in with {user.email} and your password "
                "(or ask for a new password on the sign-in page).\n")
    return OutgoingMail(user.email, f"Invitation to {project}", body, f"invite for {user.reference}")
