"""Fireside's administrative resource types, and who may change them through the FHIR API.

They are stored and read like any resource, but a project member could otherwise rename its
project or register clients, so until access policies land only super admins write them.
"""

from __future__ import annotations

from fireside.fhir.errors import FhirError
from fireside.store import AccessContext

ADMINISTRATIVE_TYPES = frozenset({"Project", "ClientApplication", "User"})


def check_administrative_write(ctx: AccessContext, resource_type: str | None) -> None:
    if resource_type in ADMINISTRATIVE_TYPES and not ctx.super_admin:
        raise FhirError.single("forbidden", f"Only a super admin may change {resource_type} resources")
