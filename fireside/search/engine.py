"""Search as one SQL query: criteria over the index tables, keyset paging over the resource table."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from fireside.fhir import FhirDefinitions
from fireside.fhir.errors import FhirError
from fireside.search.filters import compile_criterion
from fireside.search.parameters import SearchRequest, parse_search
from fireside.store import AccessContext, StoredResource
from fireside.store.indexing import SearchParameterRegistry

_COLUMNS = sql.SQL("r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content")
# Sort keys served by the resource table; sorting on any search parameter comes with full search.
_SORT_COLUMNS = {"_id": "id", "_lastUpdated": "last_updated"}


@dataclass
class SearchResult:
    resources: list[StoredResource]
    total: int | None
    next_cursor: str | None
    request: SearchRequest
    ignored: list[str] = field(default_factory=list)


class SearchEngine:
    def __init__(self, pool: AsyncConnectionPool[Any], definitions: FhirDefinitions,
                 registry: SearchParameterRegistry | None = None) -> None:
        self.pool = pool
        self.registry = registry or SearchParameterRegistry(definitions)

    async def search(
        self, ctx: AccessContext, resource_type: str, params: list[tuple[str, str]], *, base_url: str = "",
        strict: bool = False, conn: psycopg.AsyncConnection[Any] | None = None,
    ) -> SearchResult:
        request = parse_search(self.registry, resource_type, params, strict)
        where, where_params = self._where(ctx, request, base_url)
        order, keyset, keyset_params = _ordering(request)
        query = sql.SQL("SELECT {columns} FROM resource r WHERE {where}{keyset} ORDER BY {order} LIMIT %s").format(
            columns=_COLUMNS, where=where, keyset=keyset, order=order)
        total: int | None = None
        async with self._connection(conn) as connection:
            cursor = await connection.execute(query, [*where_params, *keyset_params, request.count + 1])
            rows = await cursor.fetchall()
            if request.total != "none" and request.summary != "data":
                if request.cursor is None and len(rows) <= request.count:
                    total = len(rows)
                else:
                    counted = await connection.execute(
                        sql.SQL("SELECT count(*) AS n FROM resource r WHERE {}").format(where), where_params)
                    total = (await counted.fetchone() or {"n": 0})["n"]
        resources = [StoredResource.from_row(row) for row in rows[: request.count]]
        next_cursor = _cursor_after(resources[-1], request) if len(rows) > request.count and resources else None
        return SearchResult(resources, total, next_cursor, request, request.ignored)

    async def find(
        self, conn: psycopg.AsyncConnection[Any] | None, ctx: AccessContext, resource_type: str,
        params: list[tuple[str, str]], limit: int,
    ) -> list[StoredResource]:
        """The `ResourceFinder` seam for conditional interactions: unknown criteria are errors here,
        since ignoring one would widen what a conditional update or delete touches."""
        result = await self.search(ctx, resource_type, [*params, ("_count", str(limit)), ("_total", "none")],
                                   strict=True, conn=conn)
        return result.resources

    def _where(self, ctx: AccessContext, request: SearchRequest, base_url: str) -> tuple[sql.Composable, list[Any]]:
        conditions: list[sql.Composable] = [sql.SQL("r.project_id = %s AND r.resource_type = %s AND NOT r.deleted")]
        params: list[Any] = [ctx.project_id, request.resource_type]
        for criterion in request.criteria:
            condition, condition_params = compile_criterion(criterion, ctx.project_id, request.resource_type,
                                                            base_url)
            conditions.append(condition)
            params.extend(condition_params)
        return sql.SQL(" AND ").join(conditions), params

    def _connection(self, conn: psycopg.AsyncConnection[Any] | None) -> Any:
        if conn is not None:
            return _Borrowed(conn)
        return self.pool.connection()


class _Borrowed:
    """A connection we were handed (a transaction's): used, not returned to the pool."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        return None


def _sort_key(request: SearchRequest) -> tuple[str, bool]:
    for code, descending in request.sort:
        if code in _SORT_COLUMNS:
            return _SORT_COLUMNS[code], descending
        request.ignored.append(f"_sort={code}")
    return "id", False


def _ordering(request: SearchRequest) -> tuple[sql.Composable, sql.Composable, list[Any]]:
    """ORDER BY and the keyset condition that continues after the cursor (no growing OFFSET)."""
    column, descending = _sort_key(request)
    direction = sql.SQL("DESC" if descending else "ASC")
    comparison = sql.SQL("<" if descending else ">")
    if column == "id":
        order = sql.SQL("r.id {}").format(direction)
    else:
        order = sql.SQL("r.{} {}, r.id {}").format(sql.Identifier(column), direction, direction)
    if request.cursor is None:
        return order, sql.SQL(""), []
    position = _decode_cursor(request.cursor)
    if column == "id":
        return order, sql.SQL(" AND r.id {} %s").format(comparison), [position["id"]]
    return (order, sql.SQL(" AND (r.{}, r.id) {} (%s, %s)").format(sql.Identifier(column), comparison),
            [datetime.fromisoformat(position["at"]), position["id"]])


def _cursor_after(last: StoredResource, request: SearchRequest) -> str:
    position = {"id": last.id, "at": last.last_updated.isoformat()}
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, str]:
    try:
        decoded: dict[str, str] = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(decoded.get("id"), str):
            raise ValueError("no id")
        return decoded
    except (ValueError, orjson.JSONDecodeError) as error:
        raise FhirError.single("invalid", "_cursor is not a cursor this server issued") from error
