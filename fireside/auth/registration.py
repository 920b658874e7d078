"""Self-registration: someone makes their own account in a project that allows it.

`Project.registrationAllowed: true` opens `/oauth2/register?client_id=...` for the project of
that client application. The new account is a User, a Patient profile in the project and a
ProjectMembership with the project's `defaultPatientAccessPolicy` (if it names one). Projects
are written by super admins only, so opening a project to the public is their decision.

The form carries a signed token bound to a cookie, as the sign-in form does (login CSRF: a page
elsewhere must not be able to make accounts in the user's browser).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from fireside.auth.clients import find_client
from fireside.auth.enrollment import Enrolment, NewMember, enroll
from fireside.auth.form_binding import OtherBrowser, read_bound_token, sign_bound_token
from fireside.auth.invites import check_email, check_name
from fireside.auth.memberships import find_user_by_email
from fireside.auth.passwords import password_problem
from fireside.auth.projects import default_patient_policy, read_project
from fireside.auth.tokens import TokenService
from fireside.fhir.errors import FhirError
from fireside.store import ResourceStore

REGISTER_PATH = "/oauth2/register"
FORM_AUDIENCE = "fireside:register-form"
FORM_TOKEN_SECONDS = 1800
# The OAuth parameters of an authorization request the registration continues afterwards.
_AUTHORIZATION_PARAMETERS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                             "code_challenge", "code_challenge_method", "aud", "launch")


class RegistrationClosed(Exception):
    """The client is unknown, or its project does not allow self-registration: a 403 page."""


class RegistrationFormInvalid(Exception):
    """The posted form's token expired, was altered, or belongs to another browser: a 400 page."""


class RegistrationRefused(Exception):
    """The form's content is not acceptable: show the form again with the reason."""


@dataclass(frozen=True)
class RegistrationTarget:
    client_id: str
    client_name: str
    project_id: UUID
    default_access_policy: str | None  # "AccessPolicy/<id>"


@dataclass(frozen=True)
class RegistrationForm:
    """What the signed form token carries: the client, and the authorization request to continue."""

    client_id: str
    authorize: dict[str, str]


async def registration_target(store: ResourceStore, client_id: str | None) -> RegistrationTarget:
    if not client_id:
        raise RegistrationClosed("The request has no client_id.")
    client = await find_client(store, client_id)
    if client is None:
        raise RegistrationClosed("The client_id is not a registered client application.")
    project = await read_project(store, client.project_id)
    if project.get("registrationAllowed") is not True:
        raise RegistrationClosed("This application's project does not allow creating an account here; "
                                 "ask its administrator for an invite.")
    return RegistrationTarget(client.id, client.name or client.id, client.project_id,
                              default_patient_policy(project))


def authorization_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """The authorization request to go on with after registering (none without response_type)."""
    if "response_type" not in params:
        return {}
    return {name: params[name] for name in _AUTHORIZATION_PARAMETERS if name in params}


def sign_registration_form(tokens: TokenService, form: RegistrationForm, binding: str) -> str:
    return sign_bound_token(tokens, FORM_AUDIENCE, FORM_TOKEN_SECONDS, binding,
                            {"client_id": form.client_id, "authorize": form.authorize})


def read_registration_form(tokens: TokenService, form_token: str, binding: str | None) -> RegistrationForm:
    try:
        claims = read_bound_token(tokens, form_token, FORM_AUDIENCE, binding, ("client_id",))
    except jwt.PyJWTError as error:
        raise RegistrationFormInvalid("The form expired or was altered; start again from the app.") from error
    except OtherBrowser as error:
        raise RegistrationFormInvalid("The form was not opened in this browser; start again from the app.") from error
    authorize: Any = claims.get("authorize") or {}
    return RegistrationForm(str(claims["client_id"]), {str(k): str(v) for k, v in dict(authorize).items()})


async def register(store: ResourceStore, target: RegistrationTarget, fields: Mapping[str, str]) -> Enrolment:
    """The new account; `RegistrationRefused` says what to change."""
    try:
        email = check_email(fields.get("email"), "email")
        first_name = check_name(fields.get("firstName"), "firstName")
        last_name = check_name(fields.get("lastName"), "lastName")
    except FhirError as error:
        raise RegistrationRefused(error.issues[0].diagnostics) from error
    password = fields.get("password", "")
    problem = password_problem(password, email)
    if problem:
        raise RegistrationRefused(problem + ".")
    if await find_user_by_email(store, email) is not None:
        raise _taken()
    member = NewMember(email, first_name, last_name, "Patient", access_policy=target.default_access_policy,
                       password=password)
    try:
        return await enroll(store, target.project_id, member, None)
    except FhirError as error:  # another registration took the email meanwhile
        raise _taken() from error


def _taken() -> RegistrationRefused:
    return RegistrationRefused("An account with this email exists already: sign in, or reset its password.")
