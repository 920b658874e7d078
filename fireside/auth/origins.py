"""Which web origins may call Fireside from a browser (CORS): those of the ClientApplications.

A client's origins are the origins (scheme, host, port) of its `redirectUri`s and `launchUri`: a
single-page app is served from where it receives its redirect. The table is read from every
project at once and kept for `CACHE_SECONDS`, so a new or changed client is honoured within that
time by every API process.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from fireside.store import ResourceStore

CACHE_SECONDS = 30.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The serialized origin of a URL (RFC 6454 section 6.2), as a browser sends it in `Origin`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    origin = f"{parts.scheme}://{parts.hostname.lower()}"
    return origin if port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{origin}:{port}"


class OriginRegistry:
    """Client id -> the origins it may be called from, cached."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store
        self._by_client: dict[str, frozenset[str]] = {}
        self._everyone: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")

    async def allows(self, origin: str, client_id: str | None) -> bool:
        """Whether `origin` belongs to this client (or, without one, to any client)."""
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            await self._load()
        if client_id is None:
            return origin in self._everyone
        return origin in self._by_client.get(client_id, frozenset())

    async def _load(self) -> None:
        async with self.store.pool.connection() as conn:
            # Served by the partial unique index on ClientApplication ids (schema.sql).
            cursor = await conn.execute(
                "SELECT id, content FROM resource WHERE resource_type = 'ClientApplication' AND NOT deleted"
            )
            rows: list[dict[str, Any]] = await cursor.fetchall()
        self._by_client = {row["id"]: _client_origins(orjson.loads(row["content"])) for row in rows}
        self._everyone = frozenset().union(*self._by_client.values())
        self._loaded_at = time.monotonic()


def _client_origins(resource: dict[str, Any]) -> frozenset[str]:
    urls = [*resource.get("redirectUri", []), resource.get("launchUri") or ""]
    return frozenset(origin for origin in map(origin_of, urls) if origin)
