"""Versioned resource storage: the current version in `resource`, every version in
`resource_history`, and index rows written by the `IndexWriter` in the same transaction.

Writes are staged in a `StoreTransaction` and flushed as one batch per table (psycopg pipelines
`executemany`), so a 100-entry transaction Bundle costs a handful of round trips, not hundreds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from fireside.fhir.errors import FhirError
from fireside.store.context import CREATE, DELETE, READ, UPDATE, AccessContext, Action

ResourceKey = tuple[str, str]

_COLUMNS = "resource_type, id, version_id, last_updated, deleted, content"
_READ_CURRENT = f"SELECT {_COLUMNS} FROM resource r WHERE r.project_id = %s AND r.resource_type = %s AND r.id = %s"


@dataclass(frozen=True)
class StoredResource:
    """One version of a resource as stored: `content` is the JSON text served to clients."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    content: str | None

    @property
    def key(self) -> ResourceKey:
        return (self.resource_type, self.id)

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.id}"

    def resource(self) -> dict[str, Any]:
        if self.content is None:
            raise ValueError(f"{self.reference} version {self.version_id} is a deletion")
        parsed: dict[str, Any] = orjson.loads(self.content)
        return parsed

    @staticmethod
    def from_row(row: dict[str, Any]) -> StoredResource:
        return StoredResource(
            resource_type=row["resource_type"],
            id=row["id"],
            version_id=row["version_id"],
            last_updated=row["last_updated"],
            deleted=row["deleted"],
            content=row["content"],
        )


def format_instant(moment: datetime) -> str:
    """FHIR instant with millisecond precision, always in UTC ('Z')."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def with_server_meta(resource: dict[str, Any], resource_id: str, version_id: int, moment: datetime) -> dict[str, Any]:
    """The resource as stored: server-assigned id, versionId and lastUpdated, in the spec's
    element order (resourceType, id, meta first) so stored text reads like the spec's examples."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = format_instant(moment)
    ordered: dict[str, Any] = {"resourceType": resource["resourceType"], "id": resource_id, "meta": meta}
    for key, value in resource.items():
        if key not in ordered:
            ordered[key] = value
    return ordered


class IndexWriter(Protocol):
    """Writes the search index rows of staged versions, inside the store's transaction."""

    async def write(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, versions: Sequence[StoredResource]
    ) -> None: ...


class AccessGuard(Protocol):
    """Runs the caller's access policy (`AccessContext.policy`) against resource ids, inside
    the store's queries (fireside/search/policy.py implements it with search criteria)."""

    async def read_current(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, resource_type: str, resource_id: str,
    ) -> StoredResource | None:
        """The current version (or deletion marker) if the caller may read it, hidden fields
        removed; None otherwise, as for one that never existed."""
        ...

    async def visible(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, versions: Sequence[StoredResource],
        action: Action = READ,
    ) -> list[StoredResource]:
        """Those of `versions` the caller may `action`, with hidden fields removed."""
        ...


class NoGuard:
    """Without a guard a policy still says which types it grants, but not which resources."""

    async def read_current(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, resource_type: str, resource_id: str,
    ) -> StoredResource | None:
        stored = await read_current(conn, ctx.project_id, resource_type, resource_id)
        return await _visible_one(self, conn, ctx, stored)

    async def visible(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, versions: Sequence[StoredResource],
        action: Action = READ,
    ) -> list[StoredResource]:
        if ctx.policy is None:
            return list(versions)
        return [v for v in versions if ctx.policy.allows(v.resource_type, action)]


async def read_current(
    conn: psycopg.AsyncConnection[Any], project_id: UUID, resource_type: str, resource_id: str,
    condition: sql.Composable | None = None, condition_params: Sequence[Any] = (),
) -> StoredResource | None:
    """The current version of a resource (or its deletion marker), if it meets `condition` on
    `resource r` (an access policy's, fireside/search/policy.py); None when there is none."""
    params = [project_id, resource_type, resource_id]
    if condition is None:
        cursor = await conn.execute(_READ_CURRENT, params)
    else:
        query = sql.SQL(_READ_CURRENT + " AND {}").format(condition)
        cursor = await conn.execute(query, [*params, *condition_params], prepare=False)
    row = await cursor.fetchone()
    return StoredResource.from_row(row) if row else None


async def _visible_one(
    guard: AccessGuard, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, stored: StoredResource | None,
) -> StoredResource | None:
    """`stored` if the caller's policy lets it read it, hidden fields removed; else None. A
    resource the caller may not see is "not found", like one of another project
    (https://hl7.org/fhir/R4/security.html#AccessDenied)."""
    if stored is None or ctx.policy is None:
        return stored
    visible = await guard.visible(conn, ctx, [stored])
    return visible[0] if visible else None


class NoIndex:
    async def write(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, versions: Sequence[StoredResource]
    ) -> None:
        return None


@dataclass
class StoreTransaction:
    """A unit of work on one connection inside one database transaction."""

    conn: psycopg.AsyncConnection[Any]
    ctx: AccessContext
    index_writer: IndexWriter
    guard: AccessGuard = field(default_factory=NoGuard)
    moment: datetime = field(default_factory=lambda: datetime.now(UTC))
    staged: list[StoredResource] = field(default_factory=list)
    _latest: dict[ResourceKey, StoredResource] = field(default_factory=dict)
    # Keys `current` found absent, so that re-reading them (a PUT that creates, after a
    # transaction Bundle read all its targets at once) costs no query. There is no row to lock.
    _absent: set[ResourceKey] = field(default_factory=set)
    # The versions read from the database, before this transaction changed them: an update or
    # delete must be allowed on what was there (AccessContext.policy), checked at flush.
    _before: dict[ResourceKey, StoredResource] = field(default_factory=dict)

    async def current(self, keys: Sequence[ResourceKey], lock: bool = True) -> dict[ResourceKey, StoredResource]:
        """The current versions of `keys` (deleted ones included), locked against concurrent
        writers until commit so that version checks cannot race (no lost update)."""
        wanted = [k for k in keys if k not in self._latest and k not in self._absent]
        if wanted:
            query = (
                f"SELECT {_COLUMNS} FROM resource WHERE project_id = %s"
                " AND (resource_type, id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
                " ORDER BY resource_type, id"  # a fixed lock order keeps concurrent batches from deadlocking
                + (" FOR UPDATE" if lock else "")
            )
            cursor = await self.conn.execute(
                query, [self.ctx.project_id, [k[0] for k in wanted], [k[1] for k in wanted]]
            )
            for row in await cursor.fetchall():
                stored = StoredResource.from_row(row)
                self._latest[stored.key] = stored
                self._before[stored.key] = stored
            self._absent.update(k for k in wanted if k not in self._latest)
        return {k: self._latest[k] for k in keys if k in self._latest}

    async def read(self, resource_type: str, resource_id: str, lock: bool = True) -> StoredResource | None:
        return (await self.current([(resource_type, resource_id)], lock=lock)).get((resource_type, resource_id))

    async def read_visible(self, resource_type: str, resource_id: str) -> StoredResource | None:
        """`read` without a lock, for a read the caller's policy must allow (a GET entry of a
        transaction Bundle): None when it does not, hidden fields removed."""
        stored = await self.read(resource_type, resource_id, lock=False)
        return await _visible_one(self.guard, self.conn, self.ctx, stored)

    def stage_put(self, resource: dict[str, Any], resource_id: str, previous: StoredResource | None) -> StoredResource:
        """Stage a new version of `resource` following `previous` (None for a first version)."""
        if self.ctx.policy is not None:
            before = previous.resource() if previous is not None and not previous.deleted else None
            resource = self.ctx.policy.protect(resource, before)
        version_id = previous.version_id + 1 if previous else 1
        stored_json = with_server_meta(resource, resource_id, version_id, self.moment)
        version = StoredResource(
            resource_type=resource["resourceType"],
            id=resource_id,
            version_id=version_id,
            last_updated=self.moment,
            deleted=False,
            content=orjson.dumps(stored_json).decode(),
        )
        self._stage(version)
        return version

    def stage_delete(self, previous: StoredResource) -> StoredResource:
        version = StoredResource(
            resource_type=previous.resource_type,
            id=previous.id,
            version_id=previous.version_id + 1,
            last_updated=self.moment,
            deleted=True,
            content=None,
        )
        self._stage(version)
        return version

    def _stage(self, version: StoredResource) -> None:
        self.staged.append(version)
        self._latest[version.key] = version

    async def flush(self) -> None:
        """Write every staged version: one pipelined batch per table."""
        if not self.staged:
            return
        # Only the last version of each resource is current; earlier ones go to history alone.
        latest = {v.key: v for v in self.staged}
        if self.ctx.policy is not None:
            await self._check_changes_allowed(latest)
        project, author = self.ctx.project_id, self.ctx.author
        history_rows = [
            (project, v.resource_type, v.id, v.version_id, v.last_updated, v.deleted, author, v.content)
            for v in self.staged
        ]
        current_rows = [
            (project, v.resource_type, v.id, v.version_id, v.last_updated, v.deleted, author, v.content)
            for v in latest.values()
        ]
        async with self.conn.cursor() as cursor:
            try:
                await cursor.executemany(
                    "INSERT INTO resource_history (project_id, resource_type, id, version_id,"
                    " last_updated, deleted, author, content) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    history_rows,
                )
            except psycopg.errors.UniqueViolation as error:
                # Two writers created the same client-chosen id at once; the loser retries.
                raise FhirError.single("conflict", "The resource was changed by a concurrent request") from error
            try:
                await cursor.executemany(
                    "INSERT INTO resource (project_id, resource_type, id, version_id, last_updated, deleted,"
                    " author, content) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (project_id, resource_type, id) DO UPDATE SET"
                    " version_id = excluded.version_id, last_updated = excluded.last_updated,"
                    " deleted = excluded.deleted, author = excluded.author, content = excluded.content",
                    current_rows,
                )
            except psycopg.errors.UniqueViolation as error:
                # ClientApplication ids are unique across projects (schema.sql): another project has it.
                raise FhirError.single("conflict", "This id is already taken on this server") from error
        await self.index_writer.write(self.conn, self.ctx, list(latest.values()))
        if self.ctx.policy is not None:
            await self._check_results_allowed(latest)
        self.staged.clear()

    async def _check_changes_allowed(self, latest: dict[ResourceKey, StoredResource]) -> None:
        """Before writing: an update or delete needs the policy to allow it on the stored version
        (its index rows are still the old ones here)."""
        for action in (UPDATE, DELETE):
            before = [self._before[k] for k, v in latest.items()
                      if k in self._before and not self._before[k].deleted and v.deleted == (action == DELETE)]
            allowed = {v.key for v in await self.guard.visible(self.conn, self.ctx, before, action)}
            refused = next((v for v in before if v.key not in allowed), None)
            if refused is not None:
                verb = "delete" if action == DELETE else "change"
                raise FhirError.single("forbidden", f"This access may not {verb} {refused.reference}")

    async def _check_results_allowed(self, latest: dict[ResourceKey, StoredResource]) -> None:
        """After indexing, inside the transaction: what was written must still be within the
        caller's reach, or a write could move a resource out of it (or create one outside it)."""
        for action in (CREATE, UPDATE):
            written = [v for k, v in latest.items() if not v.deleted
                       and ((k in self._before and not self._before[k].deleted) == (action == UPDATE))]
            allowed = {v.key for v in await self.guard.visible(self.conn, self.ctx, written, action)}
            refused = next((v for v in written if v.key not in allowed), None)
            if refused is not None:
                raise FhirError.single("forbidden", f"{refused.reference} would be outside what this access "
                                       f"may {'create' if action == CREATE else 'change'}")


class ResourceStore:
    """The entry point for reading and writing resources within one project."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], index_writer: IndexWriter | None = None,
        guard: AccessGuard | None = None,
    ) -> None:
        self.pool = pool
        self.index_writer: IndexWriter = index_writer or NoIndex()
        self.guard: AccessGuard = guard or NoGuard()

    @asynccontextmanager
    async def transaction(self, ctx: AccessContext) -> AsyncIterator[StoreTransaction]:
        async with self.pool.connection() as conn, conn.transaction():
            unit = StoreTransaction(conn, ctx, self.index_writer, self.guard)
            yield unit
            await unit.flush()

    async def read(self, ctx: AccessContext, resource_type: str, resource_id: str) -> StoredResource | None:
        """The current version, or its deletion marker, or None if it never existed here (or
        the caller's policy does not let it read it)."""
        async with self.pool.connection() as conn:
            if ctx.policy is not None:
                return await self.guard.read_current(conn, ctx, resource_type, resource_id)
            return await read_current(conn, ctx.project_id, resource_type, resource_id)

    async def visible(
        self, ctx: AccessContext, versions: Sequence[StoredResource],
        conn: psycopg.AsyncConnection[Any] | None = None,
    ) -> list[StoredResource]:
        """Those of `versions` the caller's policy lets it read, hidden fields removed."""
        if ctx.policy is None or not versions:
            return list(versions)
        if conn is not None:
            return await self.guard.visible(conn, ctx, versions)
        async with self.pool.connection() as pooled:
            return await self.guard.visible(pooled, ctx, versions)

    async def read_many(self, ctx: AccessContext, keys: Sequence[ResourceKey]) -> list[StoredResource]:
        """Current, undeleted versions of `keys` in one query (for _include and references)."""
        if not keys:
            return []
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM resource WHERE project_id = %s AND NOT deleted"
                " AND (resource_type, id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                [ctx.project_id, [k[0] for k in keys], [k[1] for k in keys]],
            )
            rows = await cursor.fetchall()
            return await self.guard.visible(conn, ctx, [StoredResource.from_row(row) for row in rows])

    async def vread(
        self, ctx: AccessContext, resource_type: str, resource_id: str, version_id: int
    ) -> StoredResource | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM resource_history WHERE project_id = %s AND resource_type = %s"
                " AND id = %s AND version_id = %s",
                [ctx.project_id, resource_type, resource_id, version_id],
            )
            row = await cursor.fetchone()
            return await _visible_one(self.guard, conn, ctx, StoredResource.from_row(row) if row else None)
