"""SMART App Launch 2.x launch context (https://hl7.org/fhir/smart-app-launch/app-launch.html).

EHR launch: a signed-in EHR (a user's or a client's token) makes a `launch` handle binding a
Patient and an Encounter of its project (`create_launch`), then opens the app's launch URL with
`iss=<FHIR base>&launch=<handle>`. The app sends the handle back to /oauth2/authorize with the
scope `launch`; the sign-in uses it up and records its context on the Login, and the token
response carries `patient` and `encounter`
(scopes-and-launch-context.html#launch-context-arrives-with-your-access_token).

The handle is 256 random bits stored only as its SHA-256, in the project that made it (a client
of another project cannot open it), lives `LAUNCH_LIFETIME` and opens one sign-in.

Standalone launch (scope `launch/patient`, no handle) asks the user to pick a patient after the
password: fireside/auth/patient_picker.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fireside.auth.clients import find_client
from fireside.auth.oauth import new_opaque_token, token_hash
from fireside.fhir.errors import FhirError
from fireside.store import AccessContext, ResourceStore

if TYPE_CHECKING:
    from fireside.auth.logins import LoginSession

LAUNCH_LIFETIME = timedelta(minutes=5)
EHR_LAUNCH_SCOPE = "launch"
PATIENT_LAUNCH_SCOPE = "launch/patient"
# http://hl7.org/fhir/R4/datatypes.html#id
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class LaunchRefused(Exception):
    """The `launch` handle is unknown here, expired, used, or made for another app."""


@dataclass(frozen=True)
class LaunchContext:
    patient: str | None  # Patient id
    encounter: str | None  # Encounter id


def is_smart_launch(scope: str, launch: str | None) -> bool:
    """Whether the request asks for launch context, so SMART's rules (a required `aud`) apply."""
    return launch is not None or any(s == EHR_LAUNCH_SCOPE or s.startswith("launch/") for s in scope.split())


def needs_patient_choice(scope: str, launch: str | None) -> bool:
    """Standalone launch asking for a patient: the user picks one after signing in."""
    return launch is None and PATIENT_LAUNCH_SCOPE in scope.split()


def launch_context(session: LoginSession) -> dict[str, str]:
    """The context parameters of a token response for this sign-in (kept across refreshes)."""
    context: dict[str, str] = {}
    if session.patient:
        context["patient"] = session.patient
    if session.encounter:
        context["encounter"] = session.encounter
    return context


async def create_launch(
    store: ResourceStore, ctx: AccessContext, created_by: str, patient: str | None, encounter: str | None,
    client_id: str | None = None,
) -> str:
    """A new launch handle for `patient` and `encounter` (ids of resources the caller may read).

    Without `patient`, an Encounter's subject (when a Patient) is the patient context."""
    encounter_resource = await _readable(store, ctx, "Encounter", encounter, "encounter")
    if patient is None and encounter_resource is not None:
        subject = (encounter_resource.get("subject") or {}).get("reference", "")
        patient = subject.removeprefix("Patient/") if subject.startswith("Patient/") else None
    if patient is not None:
        await _readable(store, ctx, "Patient", patient, "patient")
        subject = (encounter_resource or {}).get("subject", {}).get("reference")
        if encounter_resource is not None and subject != f"Patient/{patient}":
            raise FhirError.single("invalid", f"Encounter/{encounter} is not an encounter of Patient/{patient}",
                                   expression="encounter")
    if client_id is not None:
        client = await find_client(store, client_id)
        if client is None or client.project_id != ctx.project_id:
            raise FhirError.single("invalid", "client_id is not a client application of this project",
                                   expression="client_id")
    handle = new_opaque_token()
    async with store.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO smart_launch (project_id, launch_hash, patient, encounter, client_id, created_by,"
            " expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [ctx.project_id, token_hash(handle), patient, encounter, client_id, created_by,
             datetime.now(UTC) + LAUNCH_LIFETIME],
        )
    return handle


async def _readable(
    store: ResourceStore, ctx: AccessContext, resource_type: str, resource_id: str | None, parameter: str
) -> dict[str, Any] | None:
    if resource_id is None:
        return None
    if not _FHIR_ID.match(resource_id):
        raise FhirError.single("invalid", f"{parameter} must be a {resource_type} id", expression=parameter)
    stored = await store.read(ctx, resource_type, resource_id)
    if stored is None or stored.deleted:
        # Not found and not allowed read the same (security.html#AccessDenied).
        raise FhirError.single("invalid", f"{parameter}: there is no {resource_type}/{resource_id} you may read",
                               expression=parameter)
    resource: dict[str, Any] = stored.resource()
    return resource


async def check_launch(store: ResourceStore, project_id: UUID, handle: str, client_id: str) -> LaunchContext:
    """The context of a live launch handle, without using it (the app's first request)."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT patient, encounter, client_id, expires_at, used_at FROM smart_launch"
            " WHERE project_id = %s AND launch_hash = %s",
            [project_id, token_hash(handle)],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    if row is None or row["used_at"] is not None or row["expires_at"] <= datetime.now(UTC):
        raise LaunchRefused("The launch is unknown, expired or already used; launch the app again from the EHR")
    if row["client_id"] is not None and row["client_id"] != client_id:
        raise LaunchRefused("The launch was made for another app")
    return LaunchContext(row["patient"], row["encounter"])


async def use_launch(store: ResourceStore, project_id: UUID, handle: str, client_id: str) -> LaunchContext:
    """The context of a live launch handle, used up: one launch opens one sign-in."""
    async with store.pool.connection() as conn:
        # One statement: two sign-ins racing for a handle cannot both see it unused.
        cursor = await conn.execute(
            "UPDATE smart_launch SET used_at = now() WHERE project_id = %s AND launch_hash = %s"
            " AND used_at IS NULL AND expires_at > now() AND (client_id IS NULL OR client_id = %s)"
            " RETURNING patient, encounter",
            [project_id, token_hash(handle), client_id],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    if row is None:
        raise LaunchRefused("The launch is unknown, expired or already used; launch the app again from the EHR")
    return LaunchContext(row["patient"], row["encounter"])
