"""Who is asking: the access context every store and search call carries.

`fireside.auth` builds it from a verified token; routes never filter rows themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

# What an interaction does to a resource, in SMART v2 scope letters (scopes-and-launch-context):
# create, read (read, vread, history), update (and patch), delete, search.
Action = str
CREATE, READ, UPDATE, DELETE, SEARCH = "c", "r", "u", "d", "s"


class AccessPolicy(Protocol):
    """What a caller may touch, compiled once per token by `fireside.auth` (the type that
    implements it, with its search criteria, is fireside/search/policy.py). The store asks it
    the questions that need no query; the criteria run inside the store's and search's SQL."""

    def allows(self, resource_type: str, action: Action) -> bool:
        """Whether some resource of `resource_type` may be the object of `action`."""
        ...

    def redact(self, resource_type: str, content: str) -> str:
        """`content` (stored JSON) without the fields hidden from the caller."""
        ...

    def protect(self, resource: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """`resource` as it may be written: hidden and read-only fields keep their stored values."""
        ...


@dataclass(frozen=True)
class AccessContext:
    project_id: UUID
    # A FHIR reference to the caller, e.g. "ClientApplication/0193...": recorded on every version.
    author: str
    super_admin: bool = False
    # A project admin manages its project's memberships and clients (fireside.auth.administrative).
    project_admin: bool = False
    scopes: tuple[str, ...] = ()
    # The OAuth client the token was issued to (empty for internal work), for AuditEvents.
    client_id: str = ""
    # None: no restriction beyond the project (super admins, the server's own work).
    policy: AccessPolicy | None = None
