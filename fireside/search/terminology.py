"""Terminology for token search modifiers, read from the searching project's CodeSystem and
ValueSet resources, falling back to the packaged R4 code systems and value sets
(https://hl7.org/fhir/R4/search.html#token: :in, :not-in, :below, :above).

Before a search is compiled, `TerminologyResolver.resolve` turns each terminology criterion
value into the codes it stands for (by system); the token filter then matches them with
`value = ANY(...)`. Only the project's own resources are read: a ValueSet stored in another
project is unknown here.

Stored resources are looked up by url on every search (one index probe of search_uri), and
parsed resources and code system views are kept per (project, id, versionId, lastUpdated): a
new version of a CodeSystem is a new key, so nothing is served stale, and the subtree of
`code:below=` is computed once per code system version per process (`CodeSystemView.below`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from fireside.fhir.terminology import (
    CodeSet,
    CodeSystemView,
    ExpansionError,
    code_count,
    expand_value_set,
    is_packaged_value_set,
    packaged_code_systems,
    packaged_value_set,
    view_of_code_system,
)
from fireside.search.escaping import split_unescaped, unescape
from fireside.search.filters.condition import bad_value
from fireside.search.request import Criterion, SearchRequest
from fireside.store.indexing import SearchParameterRegistry

TERMINOLOGY_MODIFIERS = frozenset({"in", "not-in", "below", "above"})
# Beyond this many codes a criterion is refused (400) rather than bound as one array: the
# largest packaged R4 value set has about 1,000 codes, and a wider subtree is better searched by
# its parent codes.
MAX_CODES = 10_000
# Nested value set imports deeper than this are taken for a cycle.
_MAX_FETCH_ROUNDS = 20
_CACHE_SIZE = 512

# (modifier, criterion value) -> codes by system
ResolvedTerminology = Mapping[tuple[str, str], CodeSet]

_FIND_BY_URL = sql.SQL(
    "SELECT r.id, r.version_id, r.last_updated FROM resource r"
    " WHERE r.project_id = %s AND r.resource_type = %s AND NOT r.deleted"
    " AND r.id IN (SELECT i.resource_id FROM search_uri i WHERE i.project_id = %s AND i.resource_type = %s"
    " AND i.parameter = %s AND i.value = %s) ORDER BY r.last_updated DESC, r.id LIMIT 20")
_FIND_BY_ID = sql.SQL(
    "SELECT r.id, r.version_id, r.last_updated FROM resource r WHERE r.project_id = %s AND r.resource_type = %s"
    " AND r.id = %s AND NOT r.deleted")
_READ = sql.SQL("SELECT content FROM resource WHERE project_id = %s AND resource_type = %s AND id = %s")

# (project, type, id, versionId, lastUpdated): lastUpdated too, because a version written by a
# transaction that rolled back after a search read it gets its number again on the next write.
_Key = tuple[UUID, str, str, int, datetime]


def terminology_criteria(request: SearchRequest) -> list[Criterion]:
    """The token criteria of `request` with a terminology modifier, chained ones and those of
    its restrictions included."""
    found: list[Criterion] = []
    pending = [*request.criteria, *(c for any_of in request.restrictions for c in any_of.criteria)]
    while pending:
        criterion = pending.pop()
        pending.extend(link.criterion for link in criterion.chain)
        if criterion.modifier in TERMINOLOGY_MODIFIERS and criterion.parameter.type == "token":
            found.append(criterion)
    return found


class _Missing(Exception):
    """The expansion needs a resource not fetched yet."""

    def __init__(self, resource_type: str, url: str) -> None:
        super().__init__(f"{resource_type} {url}")
        self.resource_type = resource_type
        self.url = url


@dataclass
class _ProjectSource:
    """A `TerminologySource` over what was fetched from the project (None: not stored there,
    use the packaged R4 one). Asking for anything not fetched yet raises `_Missing`."""

    code_systems: dict[str, CodeSystemView | None] = field(default_factory=dict)
    value_sets: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)
    expanding: set[str] = field(default_factory=set)

    def code_system(self, url: str) -> CodeSystemView | None:
        if url not in self.code_systems:
            raise _Missing("CodeSystem", url)
        return self.code_systems[url] or packaged_code_systems().get(url)

    def value_set(self, url: str) -> CodeSet:
        if url not in self.value_sets:
            raise _Missing("ValueSet", url)
        resource = self.value_sets[url]
        if resource is None:
            return packaged_value_set(url)
        if url in self.expanding:
            raise ExpansionError(f"ValueSet {url} includes itself")
        self.expanding.add(url)
        try:
            return expand_value_set(resource, self)
        finally:
            self.expanding.discard(url)


class TerminologyResolver:
    """Resolves terminology criteria against one project; one per search engine, so that its
    caches live as long as the process."""

    def __init__(self, registry: SearchParameterRegistry) -> None:
        # The rows holding each type's `url` (CodeSystem `url` is read from its `system` rows).
        self._url_rows = {t: _url_rows(registry, t) for t in ("CodeSystem", "ValueSet")}
        self._resources: OrderedDict[_Key, Mapping[str, Any]] = OrderedDict()
        self._views: OrderedDict[_Key, CodeSystemView] = OrderedDict()

    async def resolve(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, criteria: Iterable[Criterion]
    ) -> dict[tuple[str, str], CodeSet]:
        """The codes of every terminology criterion value, by (modifier, value)."""
        resolved: dict[tuple[str, str], CodeSet] = {}
        for criterion in criteria:
            for value in criterion.values:
                key = (criterion.modifier or "", value)
                if key not in resolved:
                    codes = await self._resolve_value(conn, project_id, criterion, value)
                    if code_count(codes) > MAX_CODES:
                        raise bad_value(criterion, value, f"stands for {code_count(codes):,} codes, more than the "
                                        f"{MAX_CODES:,} a search can match")
                    resolved[key] = codes
        return resolved

    async def _resolve_value(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, criterion: Criterion, value: str
    ) -> CodeSet:
        if criterion.modifier in ("below", "above"):
            return await self._subsumption(conn, project_id, criterion, value)
        return await self._value_set(conn, project_id, criterion, value)

    async def _subsumption(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, criterion: Criterion, value: str
    ) -> CodeSet:
        """`system|code` :below is the code and every code it subsumes; :above the code and every
        code that subsumes it. In a code system with no known hierarchy, the code alone."""
        parts = split_unescaped(value, "|", limit=1)
        system, code = (unescape(parts[0]), unescape(parts[1])) if len(parts) == 2 else ("", "")
        if not system or not code:
            raise bad_value(criterion, value, f"is not system|code (:{criterion.modifier} needs both)")
        view = await self._stored_code_system(conn, project_id, system) or packaged_code_systems().get(system)
        if view is None:
            return {system: frozenset({code})}
        return {system: view.below(code) if criterion.modifier == "below" else view.above(code)}

    async def _value_set(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, criterion: Criterion, value: str
    ) -> CodeSet:
        source = _ProjectSource()
        reference = unescape(value)
        if reference.startswith("ValueSet/"):
            resource = await self._stored_by_id(conn, project_id, reference.removeprefix("ValueSet/"))
            if resource is None:
                raise bad_value(criterion, value, "is not a ValueSet of this project")
            url = str(resource.get("url") or reference)
            source.value_sets[url] = resource
        else:
            url = reference.split("|", 1)[0]
            version = reference.split("|", 1)[1] if "|" in reference else None
            stored = await self._stored(conn, project_id, "ValueSet", url, version)
            if stored is None and not is_packaged_value_set(url):
                raise bad_value(criterion, value, "is not a ValueSet of this project nor of FHIR R4")
            source.value_sets[url] = stored
        for _ in range(_MAX_FETCH_ROUNDS):
            try:
                return source.value_set(url)
            except _Missing as missing:
                await self._fetch(conn, project_id, source, missing)
            except ExpansionError as problem:
                raise bad_value(criterion, value, f"cannot be expanded: {problem}") from None
        raise bad_value(criterion, value, "cannot be expanded: its value set imports nest too deep")

    async def _fetch(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, source: _ProjectSource, missing: _Missing
    ) -> None:
        if missing.resource_type == "CodeSystem":
            source.code_systems[missing.url] = await self._stored_code_system(conn, project_id, missing.url)
        else:
            stored = await self._stored(conn, project_id, "ValueSet", missing.url, None)
            if stored is None and not is_packaged_value_set(missing.url):
                stored = {"url": missing.url, "compose": {}}  # reported by expansion as not listable
            source.value_sets[missing.url] = stored

    async def _stored_code_system(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, url: str
    ) -> CodeSystemView | None:
        found = await self._find(conn, project_id, "CodeSystem", url)
        for key in found:
            view = self._views.get(key)
            if view is None:
                # Only the view is kept: a large CodeSystem's parsed JSON is many times its size.
                view = view_of_code_system(await self._content(conn, key, keep=False))
                _remember(self._views, key, view)
            else:
                self._views.move_to_end(key)
            return view  # the most recently updated one
        return None

    async def _stored(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, resource_type: str, url: str, version: str | None
    ) -> Mapping[str, Any] | None:
        """The project's resource with this canonical url (and version, if given); of several,
        the most recently updated."""
        for key in await self._find(conn, project_id, resource_type, url):
            resource = await self._content(conn, key)
            if version is None or resource.get("version") == version:
                return resource
        return None

    async def _stored_by_id(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, resource_id: str
    ) -> Mapping[str, Any] | None:
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute(_FIND_BY_ID, (project_id, "ValueSet", resource_id), prepare=False)
            row = await cursor.fetchone()
        return None if row is None else await self._content(conn, (project_id, "ValueSet", row[0], row[1], row[2]))

    async def _find(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, resource_type: str, url: str
    ) -> list[_Key]:
        async with conn.cursor(row_factory=tuple_row) as cursor:
            params = (project_id, resource_type, project_id, resource_type, self._url_rows[resource_type], url)
            await cursor.execute(_FIND_BY_URL, params, prepare=False)
            return [(project_id, resource_type, row[0], row[1], row[2]) for row in await cursor.fetchall()]

    async def _content(self, conn: psycopg.AsyncConnection[Any], key: _Key, keep: bool = True) -> Mapping[str, Any]:
        resource = self._resources.get(key)
        if resource is not None:
            self._resources.move_to_end(key)
            return resource
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute(_READ, key[:3], prepare=False)
            row = await cursor.fetchone()
        parsed: Mapping[str, Any] = orjson.loads(row[0]) if row and row[0] else {}
        if keep:
            _remember(self._resources, key, parsed)
        return parsed


def _url_rows(registry: SearchParameterRegistry, resource_type: str) -> str:
    parameter = registry.parameter(resource_type, "url")
    return parameter.rows_in[0] if parameter is not None and parameter.rows_in else "url"


def _remember(cache: OrderedDict[_Key, Any], key: _Key, value: Any) -> None:
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
