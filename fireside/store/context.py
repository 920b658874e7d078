"""Who is asking: the access context every store and search call carries.

`fireside.auth` builds it from a verified token; routes never filter rows themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class AccessContext:
    project_id: UUID
    # A FHIR reference to the caller, e.g. "ClientApplication/0193...": recorded on every version.
    author: str
    super_admin: bool = False
    scopes: tuple[str, ...] = ()
