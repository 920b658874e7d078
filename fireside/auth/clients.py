"""Client applications as the OAuth endpoints see them: found by id alone, across projects.

A ClientApplication is confidential when it has a secret (the `client_secret` table) or keys for
`private_key_jwt` (`jwks` or `jwksUri`); otherwise it is public, and must use PKCE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from fireside.auth.projects import ADMIN_PROJECT_SETTING
from fireside.store import ResourceStore


@dataclass(frozen=True)
class RegisteredClient:
    id: str
    project_id: UUID
    name: str
    redirect_uris: tuple[str, ...]
    has_secret: bool
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    pkce_optional: bool
    in_admin_project: bool

    @property
    def reference(self) -> str:
        return f"ClientApplication/{self.id}"

    @property
    def has_keys(self) -> bool:
        return self.jwks is not None or self.jwks_uri is not None

    @property
    def is_public(self) -> bool:
        return not self.has_secret and not self.has_keys

    @property
    def requires_pkce(self) -> bool:
        return self.is_public or not self.pkce_optional


async def find_client(store: ResourceStore, client_id: str) -> RegisteredClient | None:
    """The live ClientApplication with this id, in whichever project holds it."""
    async with store.pool.connection() as conn:
        # The partial unique index on resource (id) WHERE resource_type = 'ClientApplication'
        # answers this without the project id.
        cursor = await conn.execute(
            "SELECT r.project_id, r.content, s.client_id IS NOT NULL AS has_secret,"
            " r.project_id::text = a.value AS in_admin_project"
            " FROM resource r"
            " LEFT JOIN client_secret s ON s.project_id = r.project_id AND s.client_id = r.id"
            " LEFT JOIN server_setting a ON a.key = %s"
            " WHERE r.resource_type = 'ClientApplication' AND r.id = %s AND NOT r.deleted",
            [ADMIN_PROJECT_SETTING, client_id],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    if row is None or row["content"] is None:
        return None
    resource: dict[str, Any] = orjson.loads(row["content"])
    return RegisteredClient(
        id=client_id,
        project_id=row["project_id"],
        name=str(resource.get("name", "")),
        redirect_uris=tuple(resource.get("redirectUri", [])),
        has_secret=bool(row["has_secret"]),
        jwks=_inline_jwks(resource.get("jwks")),
        jwks_uri=resource.get("jwksUri"),
        pkce_optional=bool(resource.get("pkceOptional")),
        in_admin_project=bool(row["in_admin_project"]),
    )


def _inline_jwks(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"keys": []}  # registered but unreadable: no assertion can verify against it
    return parsed if isinstance(parsed, dict) and isinstance(parsed.get("keys"), list) else {"keys": []}
