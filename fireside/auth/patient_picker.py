"""Standalone launch's patient picker (SMART App Launch 2.x, scope `launch/patient`:
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#launchpatient).

After the password, a user who is not a patient picks the patient the app will work on. The
page carries the checked request and the user in a signed picker token bound to the sign-in
form's cookie (as the login form is, fireside/auth/authorize.py), so nobody can choose for
another browser. The list is a search of the project's Patients under the user's own access
policies: the picker offers only patients the user could read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

import jwt

from fireside.auth.authorize import AuthorizationPageError, AuthorizationRequest, SignedIn
from fireside.auth.clients import find_client
from fireside.auth.form_binding import OtherBrowser, read_bound_token, sign_bound_token
from fireside.auth.logins import LoginRequest, start_login
from fireside.auth.memberships import Membership, UserAccount, find_user, membership_for_sign_in
from fireside.auth.policies import AccessResolver
from fireside.auth.tokens import TokenGrant, TokenService
from fireside.search import SearchEngine
from fireside.store import AccessContext, ResourceStore

PICKER_AUDIENCE = "fireside:patient-picker"
PICKER_TOKEN_SECONDS = 600
PICKER_PAGE_SIZE = 50


class PatientNotAvailable(Exception):
    """The chosen patient does not exist here, or the user may not read it."""


@dataclass(frozen=True)
class PatientChoice:
    """A signed-in user who has still to pick the patient for `request`."""

    request: AuthorizationRequest
    user_id: str
    project_id: UUID


@dataclass(frozen=True)
class PatientOption:
    id: str
    name: str
    birth_date: str
    gender: str


def sign_picker_token(tokens: TokenService, request: AuthorizationRequest, signed_in: SignedIn, binding: str) -> str:
    return sign_bound_token(tokens, PICKER_AUDIENCE, PICKER_TOKEN_SECONDS, binding, {
        "user": signed_in.user_reference.removeprefix("User/"),
        "project": str(signed_in.project_id),
        "request": asdict(request),
    })


def read_picker_token(tokens: TokenService, picker_token: str, binding: str | None) -> PatientChoice:
    try:
        claims = read_bound_token(tokens, picker_token, PICKER_AUDIENCE, binding, ("user", "project", "request"))
    except jwt.PyJWTError as error:
        raise AuthorizationPageError("The patient choice expired or was altered; start again from the app.") from error
    except OtherBrowser as error:
        message = "The patient choice was not opened in this browser; start again from the app."
        raise AuthorizationPageError(message) from error
    request: dict[str, Any] = claims["request"]
    return PatientChoice(AuthorizationRequest(**request), str(claims["user"]), UUID(claims["project"]))


async def _signed_in_user(store: ResourceStore, choice: PatientChoice) -> tuple[UserAccount, Membership]:
    """The user again, as now: a membership removed since the password means no choice."""
    user = await find_user(store, choice.user_id)
    membership = await membership_for_sign_in(store, choice.project_id, user) if user else None
    if user is None or membership is None:
        raise AuthorizationPageError("This account has no access to the application's project.")
    return user, membership


async def _user_context(
    access: AccessResolver | None, choice: PatientChoice, user: UserAccount, membership: Membership
) -> AccessContext:
    # No clinical scope: the user's membership and its AccessPolicies alone decide what they see.
    grant = TokenGrant(subject=user.reference, project_id=choice.project_id, client_id=choice.request.client_id,
                       scope="", super_admin=user.super_admin, project_admin=membership.admin)
    return await access.context(grant) if access is not None else grant.access_context()


async def patient_options(
    store: ResourceStore, search: SearchEngine, access: AccessResolver | None, choice: PatientChoice, name: str,
) -> list[PatientOption]:
    """Up to PICKER_PAGE_SIZE Patients the user may read, whose name contains `name` (FHIR
    `name` search: a prefix of any name part) when given."""
    user, membership = await _signed_in_user(store, choice)
    ctx = await _user_context(access, choice, user, membership)
    params = [("_count", str(PICKER_PAGE_SIZE)), ("_total", "none")]
    if name.strip():
        params.append(("name", name.strip()))
    result = await search.search(ctx, "Patient", params)
    return [_option(stored.id, stored.resource()) for stored in result.resources]


def _option(patient_id: str, patient: dict[str, Any]) -> PatientOption:
    names = patient.get("name") or [{}]
    first = names[0] if isinstance(names[0], dict) else {}
    shown = first.get("text") or " ".join([*first.get("given", []), first.get("family", "")]).strip()
    return PatientOption(patient_id, shown or f"Patient/{patient_id}", str(patient.get("birthDate", "")),
                         str(patient.get("gender", "")))


async def choose_patient(
    store: ResourceStore, access: AccessResolver | None, choice: PatientChoice, patient_id: str
) -> str:
    """Record the sign-in with `patient_id` as its patient context; return the authorization code."""
    request = choice.request
    client = await find_client(store, request.client_id)
    if client is None or request.redirect_uri not in client.redirect_uris or client.project_id != choice.project_id:
        raise AuthorizationPageError("The client application changed; start again from the app.")
    user, membership = await _signed_in_user(store, choice)
    ctx = await _user_context(access, choice, user, membership)
    stored = await store.read(ctx, "Patient", patient_id) if patient_id else None
    if stored is None or stored.deleted:
        raise PatientNotAvailable("Choose one of the patients listed.")
    login_request = LoginRequest(request.client_id, request.redirect_uri, request.scope, request.code_challenge,
                                 request.nonce, patient=patient_id)
    return await start_login(store, client, user, membership, login_request)
