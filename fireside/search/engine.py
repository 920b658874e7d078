"""Search as one SQL query over `resource` and the index tables, always within one project.

    SELECT ... FROM resource r
    WHERE r.project_id = $p AND r.resource_type = $t AND NOT r.deleted
      AND <criterion> AND <criterion> ...        -- see `filters`
      [AND (sort keys, r.id) > (cursor)]         -- keyset paging: fireside/search/paging.py
    ORDER BY <sort key>, r.id LIMIT _count + 1   -- one more row tells whether a next page exists

The total is counted only when `_total` asks and the page does not already tell it: by the
same WHERE clause without the page bounds or, for a single criterion on index rows, from the
index alone. A single criterion also takes its page's ids from the index before reading
`resource`.

Queries are never prepared. psycopg prepares a statement run five times on a connection, and
PostgreSQL may then keep a generic plan, made without the values: for `Observation?code=X` at
1M resources that plan hash-joined all 130k matches (480 ms) where the plan for the actual value
merges the code index with the primary key in id order and stops after one page (1 ms).
Planning each search costs about 0.3 ms.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from fireside.fhir import FhirDefinitions
from fireside.search.filters import (
    WALKED_FROM_ROWS,
    Condition,
    FilterContext,
    compile_any_of,
    compile_criterion,
    walk_probe,
)
from fireside.search.filters.special import SpecialScope, compile_special, special_terminology_criteria
from fireside.search.includes import resolve_includes
from fireside.search.paging import Page, Segment, plan_page
from fireside.search.policy import PolicyGuard, policy_matches
from fireside.search.request import AnyOf, SearchRequest, parse_conditional_url, parse_search
from fireside.search.system import check_common, split_types, types_of_project
from fireside.search.terminology import ResolvedTerminology, TerminologyResolver, terminology_criteria
from fireside.store import AccessContext, StoredResource
from fireside.store.context import SEARCH
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
    # The cursor of the page before this one (search.html#paging), None on the first page.
    previous_cursor: str | None = None
    # `_include`/`_revinclude` results for this page (search.mode = include), not in `total`.
    included: list[StoredResource] = field(default_factory=list)
    include_warnings: list[str] = field(default_factory=list)


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
    # The index rows of each condition in `where` (criteria, then the access policy's); None
    # for one that needs the resource row. They tell whether every condition is broad
    # (`_every_condition_broad`).
    condition_rows: tuple[Condition | None, ...] = ()

    @property
    def several_conditions_on_index_rows(self) -> bool:
        """Whether every condition might be broad (`_every_condition_broad`): there are several,
        each with index rows."""
        return len(self.condition_rows) > 1 and all(rows is not None for rows in self.condition_rows)


class SearchEngine:
    def __init__(
        self, pool: AsyncConnectionPool[Any], definitions: FhirDefinitions,
        registry: SearchParameterRegistry | None = None,
    ) -> None:
        self.pool = pool
        self.registry = registry or SearchParameterRegistry(definitions)
        self.terminology = TerminologyResolver(self.registry)
        # The caller's access policy, in the WHERE clause and on each resource read by id.
        self.guard = PolicyGuard(self.registry)

    async def search(
        self, ctx: AccessContext, resource_type: str, params: list[tuple[str, str]], *, base_url: str = "",
        strict: bool = False, conn: psycopg.AsyncConnection[Any] | None = None,
        restrictions: Sequence[AnyOf] = (),
    ) -> SearchResult:
        """Current, undeleted resources of `resource_type` in ctx's project matching `params`
        and each of `restrictions` (a compartment: fireside/search/compartments.py).

        `conn` is the caller's transaction, when it has one (a search inside a transaction
        Bundle sees the Bundle's own writes)."""
        # The project's own SearchParameters too (store/indexing/custom.py): cached, no query.
        registry = await self.registry.for_project(conn if conn is not None else self.pool, ctx.project_id)
        request = parse_search(registry, resource_type, params, strict)
        request.restrictions.extend(restrictions)
        page = Page([], False, None, None)
        async with self._connection(conn) as connection:
            # Terminology criteria read the project's CodeSystems / ValueSets on this connection.
            terminology = await self._resolve_terminology(ctx, request, connection)
            walked = await _walked_criteria(connection, ctx, request, FilterContext(base_url.rstrip("/"), terminology))
            compiled = self.compile(ctx, request, base_url, terminology, registry, walked)
            if request.summary != "count" and request.count > 0:
                page = await _page(connection, compiled, request)
            resources = self.guard.redact(ctx, page.resources)
            # A walk suits a page, not a count: counting checks the walked criterion on every
            # resource row, where the gathered form reads each match once.
            counted = self.compile(ctx, request, base_url, terminology, registry) if walked else compiled
            total = await _total(connection, counted, request, page)
            included = await resolve_includes(connection, ctx.project_id, request.includes, resources)
            included.resources = await self.guard.visible(connection, ctx, included.resources)
        return SearchResult(resources, total, page.next_cursor, request, request.ignored,
                            previous_cursor=page.previous_cursor,
                            included=included.resources, include_warnings=included.warnings)

    async def search_system(
        self, ctx: AccessContext, params: list[tuple[str, str]], *, base_url: str = "", strict: bool = False,
    ) -> SearchResult:
        """System search over the types `_type` names, or every type of ctx's project
        (fireside/search/system.py): each type's search compiled as `search` does, ORed."""
        registry = await self.registry.for_project(self.pool, ctx.project_id)
        types, rest = split_types(registry.definitions, params)
        async with self._connection(None) as connection:
            searched = types if types is not None else await types_of_project(connection, ctx.project_id)
            requests = [parse_search(registry, resource_type, rest, strict) for resource_type in searched]
            if not requests:  # a project without resources
                return SearchResult([], 0, None, SearchRequest(""), [])
            check_common(requests, typed=types is not None)
            compiled = []
            for request in requests:
                terminology = await self._resolve_terminology(ctx, request, connection)
                compiled.append(self.compile(ctx, request, base_url, terminology, registry))
            either = _any_of_searches(compiled)
            first = requests[0]
            page = Page([], False, None, None)
            if first.summary != "count" and first.count > 0:
                page = await _page(connection, either, first)
            total = await _total(connection, either, first, page)
            included = await resolve_includes(connection, ctx.project_id, first.includes, page.resources)
            included.resources = await self.guard.visible(connection, ctx, included.resources)
        return SearchResult(self.guard.redact(ctx, page.resources), total, page.next_cursor, first, first.ignored,
                            previous_cursor=page.previous_cursor,
                            included=included.resources, include_warnings=included.warnings)

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

    def compile(
        self, ctx: AccessContext, request: SearchRequest, base_url: str = "",
        terminology: ResolvedTerminology | None = None, registry: SearchParameterRegistry | None = None,
        walked: frozenset[int] = frozenset(),
    ) -> CompiledSearch:
        context = FilterContext(base_url.rstrip("/"), terminology or {}, walked)
        compiled = [compile_criterion(c, ctx.project_id, request.resource_type, context) for c in request.criteria]
        compiled += [compile_any_of(a, ctx.project_id, request.resource_type, context) for a in request.restrictions]
        conditions = [c.condition for c in compiled]
        # _filter, _list, _text, _content (filters/special.py).
        # `registry`: the project's, with its own SearchParameters, which _filter may name.
        scope = SpecialScope(ctx.project_id, request.resource_type, registry or self.registry, context)
        conditions += [compile_special(special, scope) for special in request.specials]
        # Inside the WHERE clause, so that pages and totals hold only what the caller may see.
        allowed = self.guard.restriction(ctx, request.resource_type, SEARCH, context)
        if allowed is not None:
            conditions.append(allowed.condition)
        where = sql.SQL(" AND ").join(
            [sql.SQL("r.project_id = %s AND r.resource_type = %s"), *(c.sql for c in conditions)])
        params = (ctx.project_id, request.resource_type, *(p for c in conditions for p in c.params))
        only_matches = compiled[0].matches if len(compiled) == 1 and not request.specials else None
        if allowed is not None:
            only_matches = policy_matches(only_matches, allowed, len(compiled), bool(request.specials))
        # A criterion on the first sort key bounds the walk of that key's index itself: it needs
        # no count (a criterion on its chain, `_has` or a component is another matter).
        sort_code = request.sort[0].code if request.sort else None
        condition_rows = (*(c.matches for c, criterion in zip(compiled, request.criteria, strict=False)
                            if criterion.code != sort_code or criterion.chain),
                          *(c.matches for c in compiled[len(request.criteria):]),
                          *(None for _ in request.specials),
                          *((allowed.matches,) if allowed is not None else ()))
        return CompiledSearch(where, params, only_matches, any(c.matches for c in compiled), condition_rows)

    async def _resolve_terminology(
        self, ctx: AccessContext, request: SearchRequest, conn: psycopg.AsyncConnection[Any] | None
    ) -> ResolvedTerminology:
        """The codes of :in, :not-in, :below and :above criteria (a connection only when there are some)."""
        criteria = [*terminology_criteria(request), *special_terminology_criteria(request, self.registry)]
        if not criteria:
            return {}
        async with self._connection(conn) as connection:
            return await self.terminology.resolve(connection, ctx.project_id, criteria)

    @asynccontextmanager
    async def _connection(
        self, conn: psycopg.AsyncConnection[Any] | None
    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if conn is not None:
            yield conn
            return
        async with self.pool.connection() as pooled:
            yield pooled


async def _walked_criteria(
    conn: psycopg.AsyncConnection[Any], ctx: AccessContext, request: SearchRequest, context: FilterContext,
) -> frozenset[int]:
    """The criteria to walk (filters.WALKED_FROM_ROWS): those that would gather at least that
    many index rows, counted up to there (an index-only scan of at most that many rows). Only
    for a search in id order, the order the walk reads `resource` in."""
    if any(key.code != "_id" for key in request.sort):
        return frozenset()
    walked: set[int] = set()
    for criterion in request.criteria:
        probe = walk_probe(criterion, ctx.project_id, request.resource_type, context)
        if probe is not None and await _holds_at_least(conn, probe, WALKED_FROM_ROWS):
            walked.add(id(criterion))
    return frozenset(walked)


async def _holds_at_least(conn: psycopg.AsyncConnection[Any], rows: Condition, count: int) -> bool:
    """Whether the `SELECT` `rows` gives at least `count` rows, counted up to there only."""
    query = sql.SQL("SELECT count(*) FROM ({} LIMIT {}) t").format(rows.sql, sql.Literal(count))
    async with conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute(query, rows.params, prepare=False)
        row = await cursor.fetchone()
    return row is not None and row[0] >= count


def _any_of_searches(compiled: list[CompiledSearch]) -> CompiledSearch:
    """The searches of several types as one: each keeps its own project and type condition."""
    if len(compiled) == 1:
        return compiled[0]
    where = sql.SQL(" OR ").join(sql.SQL("({})").format(c.where) for c in compiled)
    return CompiledSearch(sql.SQL("({})").format(where), tuple(p for c in compiled for p in c.params), None,
                          all(c.implies_live for c in compiled))


async def _page(conn: psycopg.AsyncConnection[Any], compiled: CompiledSearch, request: SearchRequest) -> Page:
    """The page `request` asks for, by keyset (fireside/search/paging.py): one statement, or a
    second when the first comes up short."""
    plan = plan_page(compiled, request)
    rows: list[dict[str, Any]] = []
    broad: bool | None = None
    async with conn.cursor(row_factory=dict_row) as cursor:
        for segment in plan.segments:
            wanted = request.count + 1 - len(rows)
            if wanted <= 0:
                break
            if segment.first_tries:
                if broad is None:
                    broad = await _every_condition_broad(conn, compiled)
                found = await _page_from_index_head(cursor, segment.first_tries, wanted) if broad else None
                if found is not None:
                    rows += found
                    continue
            await cursor.execute(segment.query, (*segment.params, wanted), prepare=False)
            rows += await cursor.fetchall()
    return plan.page(rows, request.count)


async def _page_from_index_head(
    cursor: psycopg.AsyncCursor[dict[str, Any]], first_tries: Sequence[Segment], wanted: int,
) -> list[dict[str, Any]] | None:
    """The `wanted` rows from the head of the sort index, trying longer heads in turn; None when
    none holds them all (no match can come before a head's matches, so a full one is right)."""
    for first_try in first_tries:
        await cursor.execute(first_try.query, (*first_try.params, wanted), prepare=False)
        found = await cursor.fetchall()
        if len(found) == wanted:
            return found
    return None


async def _every_condition_broad(conn: psycopg.AsyncConnection[Any], compiled: CompiledSearch) -> bool:
    """Whether a page in sort-index order should first be read from the head of that index
    (`_page_from_index_head`, paging.WALK_FIRST_ROWS): when there are several conditions
    besides the sort key's own and each holds at least WALKED_FROM_ROWS index rows, counted up to
    there.

    PostgreSQL estimates several conditions as independent. Correlated ones (a laboratory code
    and `category=laboratory`, in a search or from an access policy) look to it far rarer than
    they are together, so it gathers every match of one and sorts them (1.1 s at 1M resources)
    where reading the sort index in order finds a page within a few hundred rows (10 ms). A
    condition with few rows is the right place to start, and PostgreSQL then does."""
    if not compiled.several_conditions_on_index_rows:
        return False
    for rows in compiled.condition_rows:
        assert rows is not None
        if not await _holds_at_least(conn, rows, WALKED_FROM_ROWS):
            return False
    return True


async def _total(
    conn: psycopg.AsyncConnection[Any], compiled: CompiledSearch, request: SearchRequest, page: Page,
) -> int | None:
    """Bundle.total (search.html#total) as `_total` asks. Without `_total`, only a first page
    that holds every match says how many (it has counted them): the spec lets a server leave an
    unasked-for total out, and a count costs what the whole search would. At 1M resources,
    counting the 128k Observations of one code took 0.9 s where their first page took 2 ms;
    even bounded at 1,000 matches, the count doubled `Observation?code=&date=&_sort=-date`
    (p50 14 -> 31 ms) and its p95 reached 160 ms where few matches were recent enough."""
    wanted = request.total
    if wanted == "none" or (wanted is None and request.cursor is not None and request.summary != "count"):
        return None
    # A first page that is not full has counted the matches already.
    if request.cursor is None and not page.has_next and request.summary != "count" and request.count > 0:
        return len(page.resources)
    if wanted == "estimate":
        return await _count(conn, compiled, estimate=True)
    # `_count=0` asks for nothing but the total (search.html#count).
    if wanted is None and request.summary != "count" and request.count > 0:
        return None
    return await _count(conn, compiled)


async def _count(
    conn: psycopg.AsyncConnection[Any], compiled: CompiledSearch, *, estimate: bool = False,
) -> int:
    """The number of matches: counted, or for
    `_total=estimate` the planner's row estimate of the same rows (EXPLAIN, not run: constant
    time at any size)."""
    if compiled.only_matches is not None:
        rows = sql.SQL("SELECT DISTINCT resource_id FROM ({}) m").format(compiled.only_matches.sql)
        params = compiled.only_matches.params
    else:
        live = sql.SQL("") if compiled.implies_live else sql.SQL(" AND NOT r.deleted")
        rows = sql.SQL("SELECT 1 FROM resource r WHERE {}{}").format(compiled.where, live)
        params = compiled.params
    if estimate:
        query = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(rows)
    else:
        query = sql.SQL("SELECT count(*) FROM ({}) t").format(rows)
    async with conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute(query, params, prepare=False)
        row = await cursor.fetchone()
    if row is None:
        return 0
    return int(row[0][0]["Plan"]["Plan Rows"]) if estimate else int(row[0])
