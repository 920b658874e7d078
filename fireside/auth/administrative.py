"""Fireside's administrative resource types, and who may change them through the FHIR API.

They are stored and read like any resource. Three roles write them:
- a super admin writes every one of them, in any project;
- a project admin (a ProjectMembership with `admin: true`) manages their own project's
  memberships, client applications, bots, users and access policies: the token's project
  bounds every write;
- a member writes none of them, or they could make themselves admin or register clients.
`Project` itself, `Login` (sign-in state the OAuth endpoints keep) and `JsonWebKey` (the token
signing keys, fireside/auth/keys.py) are the server's alone.
"""

from __future__ import annotations

from fireside.fhir.errors import FhirError
from fireside.store import AccessContext

PROJECT_ADMIN_TYPES = frozenset({"ClientApplication", "Bot", "User", "ProjectMembership", "AccessPolicy"})
ADMINISTRATIVE_TYPES = PROJECT_ADMIN_TYPES | {"Project", "Login", "JsonWebKey"}
# Writing one of these changes what some token may reach (fireside/auth/policies.py).
ACCESS_DEFINING_TYPES = frozenset({"ProjectMembership", "AccessPolicy", "ClientApplication"})


def check_administrative_write(ctx: AccessContext, resource_type: str | None) -> None:
    if resource_type not in ADMINISTRATIVE_TYPES or ctx.super_admin:
        return
    if ctx.project_admin and resource_type in PROJECT_ADMIN_TYPES:
        return
    who = "a super admin or project admin" if resource_type in PROJECT_ADMIN_TYPES else "a super admin"
    raise FhirError.single("forbidden", f"Only {who} may change {resource_type} resources")
