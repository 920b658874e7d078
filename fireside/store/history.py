"""Version history (https://hl7.org/fhir/R4/http.html#history): every version of one resource,
of one type, or of the whole project, newest first, one page at a time.

Pages are cut with keyset cursors, never OFFSET: a cursor holds the sort key of the version a
page ended on, and the next page is "versions ordered before that key". PostgreSQL then walks
an index from that point, so page 1,000 costs what page 1 does, and versions written while a
client pages through never shift or repeat entries. Each level uses one existing index:

- instance: the primary key (project_id, resource_type, id, version_id), ordered by version_id;
- type: resource_history_type_time_idx (project_id, resource_type, last_updated);
- system: resource_history_time_idx (project_id, last_updated).

Type and system order by (last_updated, resource_type, id, version_id), all descending; the
index supplies last_updated, and PostgreSQL's incremental sort only orders the few versions
that share one instant (those written by one transaction). The row comparison in the keyset
condition becomes an index bound on last_updated.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import sql

from fireside.store.context import AccessContext
from fireside.store.resources import ResourceStore, StoredResource

# Further reads of a page whose versions the caller's access policy hides: a bound on the work
# one request does when nearly everything is hidden (the page then comes back short).
_POLICY_READS = 10
_COLUMNS = sql.SQL("h.resource_type, h.id, h.version_id, h.last_updated, h.deleted, h.content")


@dataclass(frozen=True)
class Period:
    """The half-open span [start, end) a FHIR dateTime of some precision stands for:
    `2024-05` is [2024-05-01T00:00Z, 2024-06-01T00:00Z)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class HistoryCursor:
    """The sort key of the version a page ended on, and which way the next page goes from it.

    Going `backward` (to the previous, newer page) fetches the versions just newer than the key.
    Clients see the cursor only as an opaque token (`encode`)."""

    last_updated: datetime
    resource_type: str
    id: str
    version_id: int
    backward: bool = False

    @staticmethod
    def at(version: StoredResource, backward: bool = False) -> HistoryCursor:
        return HistoryCursor(version.last_updated, version.resource_type, version.id, version.version_id, backward)

    def encode(self) -> str:
        payload = orjson.dumps([
            self.last_updated.isoformat(), self.resource_type, self.id, self.version_id, int(self.backward)
        ])
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    @staticmethod
    def decode(token: str) -> HistoryCursor:
        """The cursor a token stands for; ValueError if it is not one `encode` made."""
        try:
            payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            last_updated, resource_type, resource_id, version_id, backward = orjson.loads(payload)
            moment = datetime.fromisoformat(last_updated)
        except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as error:
            raise ValueError(f"{token!r} is not a history cursor") from error
        valid = (
            moment.tzinfo is not None
            and isinstance(resource_type, str)
            and isinstance(resource_id, str)
            and isinstance(version_id, int)
            and not isinstance(version_id, bool)
            and backward in (0, 1)
        )
        if not valid:
            raise ValueError(f"{token!r} is not a history cursor")
        return HistoryCursor(moment, resource_type, resource_id, version_id, bool(backward))


def _key_columns(resource_type: str | None, resource_id: str | None) -> list[str]:
    """The sort key at this level, leaving out the columns the level fixes."""
    if resource_id is not None:
        return ["version_id"]
    if resource_type is not None:
        return ["last_updated", "id", "version_id"]
    return ["last_updated", "resource_type", "id", "version_id"]


def _filters(
    ctx: AccessContext,
    resource_type: str | None,
    resource_id: str | None,
    since: datetime | None,
    at: Period | None,
) -> tuple[list[sql.Composable], list[Any]]:
    clauses: list[sql.Composable] = [sql.SQL("h.project_id = %s")]
    params: list[Any] = [ctx.project_id]
    if resource_type is not None:
        clauses.append(sql.SQL("h.resource_type = %s"))
        params.append(resource_type)
    if resource_id is not None:
        clauses.append(sql.SQL("h.id = %s"))
        params.append(resource_id)
    if since is not None:
        # The spec: versions "created at or after the given instant".
        clauses.append(sql.SQL("h.last_updated >= %s"))
        params.append(since)
    if at is not None:
        # A version was current at some point of [start, end) if it began before the end and
        # its successor (looked up by primary key) did not replace it by the start.
        clauses.append(sql.SQL(
            "h.last_updated < %s AND NOT EXISTS (SELECT 1 FROM resource_history n"
            " WHERE n.project_id = h.project_id AND n.resource_type = h.resource_type AND n.id = h.id"
            " AND n.version_id = h.version_id + 1 AND n.last_updated <= %s)"
        ))
        params.extend([at.end, at.start])
    return clauses, params


def _cursor_values(cursor: HistoryCursor, columns: list[str]) -> list[Any]:
    values: dict[str, Any] = {
        "last_updated": cursor.last_updated,
        "resource_type": cursor.resource_type,
        "id": cursor.id,
        "version_id": cursor.version_id,
    }
    return [values[c] for c in columns]


async def read_history(
    store: ResourceStore,
    ctx: AccessContext,
    *,
    resource_type: str | None = None,
    id: str | None = None,
    since: datetime | None = None,
    at: Period | None = None,
    cursor: HistoryCursor | None = None,
    count: int,
    conn: psycopg.AsyncConnection[Any] | None = None,
) -> list[StoredResource]:
    """Up to `count` versions, newest first, deletions included (with no content).

    Without `id` the level is the type (or, without `resource_type` too, the whole project).
    With a forward cursor these are the versions ordered after it; with a backward one, the
    `count` versions just before it (still returned newest first). Pass `conn` to read on a
    transaction's connection.
    """
    if id is not None and resource_type is None:
        raise ValueError("the history of one resource needs its type")
    backward = cursor is not None and cursor.backward
    fetched = await _read_versions(store, ctx, resource_type, id, since, at, cursor, count, conn)
    versions = fetched
    if ctx.policy is not None:
        # Under an access policy a version shows when its resource is visible now (its index
        # rows are the current version's). Hidden versions are skipped by reading on from the
        # last one read, so that a page is still full while more versions lie beyond it.
        versions = await store.visible(ctx, fetched, conn)
        for _ in range(_POLICY_READS):
            if len(versions) >= count or len(fetched) < count:
                break
            after = HistoryCursor.at(fetched[-1], backward)
            fetched = await _read_versions(store, ctx, resource_type, id, since, at, after, count, conn)
            versions += await store.visible(ctx, fetched, conn)
        versions = versions[:count]
    if backward:
        versions.reverse()
    return versions


async def _read_versions(
    store: ResourceStore, ctx: AccessContext, resource_type: str | None, id: str | None,
    since: datetime | None, at: Period | None, cursor: HistoryCursor | None, count: int,
    conn: psycopg.AsyncConnection[Any] | None,
) -> list[StoredResource]:
    """Up to `count` versions after `cursor` in reading order (oldest first when going backward)."""
    clauses, params = _filters(ctx, resource_type, id, since, at)
    columns = _key_columns(resource_type, id)
    backward = cursor is not None and cursor.backward
    if cursor is not None:
        key = sql.SQL(", ").join(sql.SQL("h.") + sql.Identifier(c) for c in columns)
        placeholders = sql.SQL(", ").join(sql.Placeholder() * len(columns))
        comparison = sql.SQL(">") if backward else sql.SQL("<")
        clauses.append(sql.SQL("({}) {} ({})").format(key, comparison, placeholders))
        params.extend(_cursor_values(cursor, columns))
    direction = sql.SQL("ASC") if backward else sql.SQL("DESC")
    query = sql.SQL("SELECT {} FROM resource_history h WHERE {} ORDER BY {} LIMIT %s").format(
        _COLUMNS,
        sql.SQL(" AND ").join(clauses),
        sql.SQL(", ").join(sql.SQL("h.") + sql.Identifier(c) + sql.SQL(" ") + direction for c in columns),
    )
    params.append(count)
    rows = await _fetch(store, conn, query, params)
    return [StoredResource.from_row(row) for row in rows]


async def count_history(
    store: ResourceStore,
    ctx: AccessContext,
    *,
    resource_type: str,
    id: str,
    since: datetime | None = None,
    at: Period | None = None,
    conn: psycopg.AsyncConnection[Any] | None = None,
) -> int:
    """How many versions of one resource `read_history` would page through (Bundle.total).

    Only for one resource: counting a type's or project's history scans all of it."""
    clauses, params = _filters(ctx, resource_type, id, since, at)
    query = sql.SQL("SELECT count(*) AS total FROM resource_history h WHERE {}").format(
        sql.SQL(" AND ").join(clauses)
    )
    rows = await _fetch(store, conn, query, params)
    total: int = rows[0]["total"]
    return total


async def _fetch(
    store: ResourceStore, conn: psycopg.AsyncConnection[Any] | None, query: sql.Composed, params: list[Any]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]]
    if conn is not None:
        cursor = await conn.execute(query, params)
        rows = await cursor.fetchall()
        return rows
    async with store.pool.connection() as pooled:
        cursor = await pooled.execute(query, params)
        rows = await cursor.fetchall()
    return rows
