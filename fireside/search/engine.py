"""Search as one SQL query over `resource` and the index tables, always within one project.

    SELECT ... FROM resource r
    WHERE r.project_id = $p AND r.resource_type = $t AND NOT r.deleted
      AND <criterion> AND <criterion> ...        -- see `filters`
      [AND (r.sort_key, r.id) > (cursor)]        -- keyset paging
    ORDER BY <sort key>, r.id LIMIT _count + 1   -- one more row tells whether a next page exists

The total is counted only when the page does not already tell it: by the same WHERE clause
without the page bounds or, for a single criterion on index rows, from the index alone. A
single criterion also takes its page's ids from the index before reading `resource`.

Queries are never prepared. psycopg prepares a statement run five times on a connection, and
PostgreSQL may then keep a generic plan, made without the values: for `Observation?code=X` at
1M resources that plan hash-joined all 130k matches (480 ms) where the plan for the actual value
merges the code index with the primary key in id order and stops after one page (1 ms).
Planning each search costs about 0.3 ms.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from fireside.fhir import FhirDefinitions
from fireside.search.filters import Condition, FilterContext, compile_criterion
from fireside.search.paging import Ordering, cursor_after, ordering
from fireside.search.request import SearchRequest, parse_conditional_url, parse_search
from fireside.store import AccessContext, StoredResource
from fireside.store.indexing import SearchParameterRegistry

_COLUMNS = sql.SQL("r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content")


@dataclass
class SearchResult:
    resources: list[StoredResource]
    total: int | None
    next_cursor: str | None
    request: SearchRequest
    # Parameters that were not applied (unknown, or not supported yet): the caller reports them.
    ignored: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledSearch:
    """The WHERE clause of a search over `resource r`. `only_matches` is set for a search with
    a single criterion on index rows: its total is the number of distinct resource ids in those
    rows, counted from the index alone (25 ms for 130k Observations, against 350 ms joining
    each to `resource`)."""

    where: sql.Composable
    params: tuple[Any, ...]
    only_matches: Condition | None = None
    # A criterion keeps only resources with index rows, so `NOT r.deleted` is implied and
    # counting need not read `deleted` from the resource heap.
    implies_live: bool = False


class SearchEngine:
    def __init__(
        self, pool: AsyncConnectionPool[Any], definitions: FhirDefinitions,
        registry: SearchParameterRegistry | None = None,
    ) -> None:
        self.pool = pool
        self.registry = registry or SearchParameterRegistry(definitions)

    async def search(
        self, ctx: AccessContext, resource_type: str, params: list[tuple[str, str]], *, base_url: str = "",
        strict: bool = False, conn: psycopg.AsyncConnection[Any] | None = None,
    ) -> SearchResult:
        """Current, undeleted resources of `resource_type` in ctx's project matching `params`.

        `conn` is the caller's transaction, when it has one (a search inside a transaction
        Bundle sees the Bundle's own writes)."""
        request = parse_search(self.registry, resource_type, params, strict)
        compiled = self.compile(ctx, request, base_url)
        resources: list[StoredResource] = []
        has_next = False
        total: int | None = None
        async with self._connection(conn) as connection:
            if request.summary != "count" and request.count > 0:
                rows = await _page(connection, compiled, request)
                resources, has_next = rows[: request.count], len(rows) > request.count
            if request.total != "none":
                # A first page that is not full has counted the matches already.
                page_told = request.cursor is None and not has_next and request.summary != "count" and request.count > 0
                total = len(resources) if page_told else await _count(connection, compiled)
        next_cursor = cursor_after(resources[-1]) if has_next and resources else None
        return SearchResult(resources, total, next_cursor, request, request.ignored)

    async def find(
        self, conn: psycopg.AsyncConnection[Any] | None, ctx: AccessContext, resource_type: str,
        params: list[tuple[str, str]], limit: int,
    ) -> list[StoredResource]:
        """Up to `limit` matches, for conditional create, update, delete and references. Unknown
        criteria are an error here: ignoring one would widen what the interaction touches."""
        result = await self.search(
            ctx, resource_type, [*params, ("_count", str(limit)), ("_total", "none")], strict=True, conn=conn)
        return result.resources

    async def resolve_conditional(
        self, conn: psycopg.AsyncConnection[Any] | None, ctx: AccessContext, url: str, limit: int = 2
    ) -> list[StoredResource]:
        """The matches of a conditional URL such as `Patient?identifier=http://x|1` (limit 2 is
        enough to tell none, one and several apart)."""
        resource_type, params = parse_conditional_url(url)
        return await self.find(conn, ctx, resource_type, params, limit)

    def compile(self, ctx: AccessContext, request: SearchRequest, base_url: str = "") -> CompiledSearch:
        context = FilterContext(base_url.rstrip("/"))
        compiled = [compile_criterion(c, ctx.project_id, request.resource_type, context) for c in request.criteria]
        conditions = [c.condition for c in compiled]
        where = sql.SQL(" AND ").join(
            [sql.SQL("r.project_id = %s AND r.resource_type = %s"), *(c.sql for c in conditions)])
        params = (ctx.project_id, request.resource_type, *(p for c in conditions for p in c.params))
        only_matches = compiled[0].matches if len(compiled) == 1 else None
        return CompiledSearch(where, params, only_matches, any(c.matches for c in compiled))

    @asynccontextmanager
    async def _connection(
        self, conn: psycopg.AsyncConnection[Any] | None
    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if conn is not None:
            yield conn
            return
        async with self.pool.connection() as pooled:
            yield pooled


async def _page(
    conn: psycopg.AsyncConnection[Any], compiled: CompiledSearch, request: SearchRequest
) -> list[StoredResource]:
    order = ordering(request)
    query: sql.Composed
    params: tuple[Any, ...]
    if compiled.only_matches is not None and order.column == "id":
        query, params = _page_of_matches(compiled, request, order)
    else:
        query = sql.SQL(
            "SELECT {columns} FROM resource r WHERE {where} AND NOT r.deleted{after} ORDER BY {order} LIMIT %s"
        ).format(columns=_COLUMNS, where=compiled.where, after=order.after_cursor, order=order.order_by)
        params = (*compiled.params, *order.params, request.count + 1)
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params, prepare=False)
        return [StoredResource.from_row(row) for row in await cursor.fetchall()]


def _page_of_matches(
    compiled: CompiledSearch, request: SearchRequest, order: Ordering
) -> tuple[sql.Composed, tuple[Any, ...]]:
    """One criterion, in id order: the page's ids come from the index rows alone, and only
    those rows are read from `resource`. For `code=a,b,c` (13k Conditions) this takes 8 ms
    where joining every match to `resource` first took 43 ms."""
    assert compiled.only_matches is not None
    direction = sql.SQL("DESC" if order.descending else "ASC")
    after: sql.Composable = sql.SQL("")
    after_params: tuple[Any, ...] = ()
    if order.cursor_id is not None:
        after = sql.SQL(" WHERE m.resource_id {} %s").format(sql.SQL("<" if order.descending else ">"))
        after_params = (order.cursor_id,)
    query = sql.SQL(
        "SELECT {columns} FROM resource r WHERE r.project_id = %s AND r.resource_type = %s AND NOT r.deleted"
        " AND r.id IN (SELECT m.resource_id FROM ({matches}) m{after}"
        " GROUP BY m.resource_id ORDER BY m.resource_id {direction} LIMIT %s)"
        " ORDER BY r.id {direction}"
    ).format(columns=_COLUMNS, matches=compiled.only_matches.sql, after=after, direction=direction)
    limit = request.count + 1
    return query, (compiled.params[0], compiled.params[1], *compiled.only_matches.params, *after_params, limit)


async def _count(conn: psycopg.AsyncConnection[Any], compiled: CompiledSearch) -> int:
    if compiled.only_matches is not None:
        query = sql.SQL("SELECT count(*) AS total FROM (SELECT DISTINCT resource_id FROM ({}) m) t").format(
            compiled.only_matches.sql)
        params = compiled.only_matches.params
    else:
        live = sql.SQL("") if compiled.implies_live else sql.SQL(" AND NOT r.deleted")
        query = sql.SQL("SELECT count(*) AS total FROM resource r WHERE {}{}").format(compiled.where, live)
        params = compiled.params
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params, prepare=False)
        row = await cursor.fetchone()
    return int(row["total"]) if row else 0
