"""Search parameters a project defines for itself, as SearchParameter resources it stores
(https://hl7.org/fhir/R4/searchparameter.html, https://hl7.org/fhir/R4/search.html#custom).

A SearchParameter written in a project applies to that project only: search parses it and the
indexer extracts it on every later write there. Resources written before it have no rows for it
until a `$reindex` (fireside.jobs).

Each process caches, per project, the registry to use: the shared R4 registry itself for a
project without SearchParameters (the common case costs a dict lookup), or a `ProjectRegistry`
overlay. A write of a SearchParameter sends `NOTIFY fireside_search_parameters` with the project
id; PostgreSQL delivers it at commit to every process listening (`ProjectParameters.listen`),
which drops that project's entry. A process that is not listening re-reads an entry after
`RECHECK_SECONDS`, so a missed notification is never stale for long. No per-request query: an
extra round trip on every write would have cost single-resource ingest about a tenth.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from fireside.fhir.definitions import SearchParameterDefinition
from fireside.fhir.errors import FhirError, Issue
from fireside.fhir.fhirpath import fhirpath_options
from fireside.store.indexing.expressions import UnsupportedExpression, parse_expression
from fireside.store.indexing.fallback import without_resolve
from fireside.store.indexing.registry import (
    RESOURCE_COLUMNS,
    IndexedParameter,
    SearchParameterRegistry,
    TypeParameters,
    _extractor,
    _parts_for,
)
from fireside.store.indexing.tables import TABLE_OF_TYPE
from fireside.store.resources import StoredResource

log = logging.getLogger(__name__)

SEARCH_PARAMETER = "SearchParameter"
CHANNEL = "fireside_search_parameters"
RECHECK_SECONDS = 60.0
# Parameter types whose values one expression yields; composite and special need more than that.
CUSTOM_TYPES = frozenset({"number", "date", "string", "token", "reference", "quantity", "uri"})
# search.html#parameters: a name is letters, digits, '-' and '_'; a leading '_' is the spec's.
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_ABSTRACT_BASES = ("Resource", "DomainResource")

Source = psycopg.AsyncConnection[Any] | AsyncConnectionPool[Any]


class ProjectRegistry(SearchParameterRegistry):
    """The R4 parameters plus one project's own, compiled per type on first use."""

    def __init__(self, base: SearchParameterRegistry, custom: Sequence[SearchParameterDefinition]) -> None:
        super().__init__(base.definitions, compile_now=False)
        # Its own cache: the shared one (_compiled_types) holds the R4 parameters alone.
        self._by_type = {}
        self.base = base
        self.custom = tuple(custom)

    def of_type(self, resource_type: str) -> TypeParameters:
        compiled = self._by_type.get(resource_type)
        if compiled is None:
            own = [d for d in self.custom if applies_to(d, resource_type)]
            compiled = self.base.of_type(resource_type)
            if own:
                compiled = _overlay(self.base, compiled, own, resource_type)
            self._by_type[resource_type] = compiled
        return compiled

    async def for_project(self, source: Source, project_id: UUID) -> SearchParameterRegistry:
        return await self.base.for_project(source, project_id)


class ProjectParameters:
    """Per-project registries of one base registry, cached in this process."""

    def __init__(self, base: SearchParameterRegistry) -> None:
        self.base = base
        self._cache: dict[UUID, tuple[float, SearchParameterRegistry]] = {}
        # Counts invalidations: a load that an invalidation overtook may have read the old
        # SearchParameters, so it is used but not cached.
        self._generation = 0
        # Projects this process is changing SearchParameters of, until the notification of the
        # commit comes back (or RECHECK_SECONDS pass, for a rollback): meanwhile nothing of
        # theirs is cached, since a load may see the state before the commit.
        self._pending: dict[UUID, float] = {}

    async def registry_for(self, source: Source, project_id: UUID) -> SearchParameterRegistry:
        cached = self._cache.get(project_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < RECHECK_SECONDS:
            return cached[1]
        generation = self._generation
        registry = await self.load(source, project_id)
        if generation == self._generation and not self._is_pending(project_id, now):
            self._cache[project_id] = (now, registry)
        return registry

    def _is_pending(self, project_id: UUID, now: float) -> bool:
        deadline = self._pending.get(project_id)
        if deadline is not None and now >= deadline:
            del self._pending[project_id]
            return False
        return deadline is not None

    async def load(self, source: Source, project_id: UUID) -> SearchParameterRegistry:
        """The project's registry as the database has it now (seen from `source`'s transaction)."""
        if isinstance(source, AsyncConnectionPool):
            async with source.connection() as conn:
                contents = await _stored_contents(conn, project_id)
        else:
            contents = await _stored_contents(source, project_id)
        custom: list[SearchParameterDefinition] = []
        for content in contents:
            # Checked when written (`changed`); a type it cannot apply to is left out in _overlay.
            try:
                definition = definition_of(orjson.loads(content))
            except FhirError:
                log.warning("project %s has a SearchParameter that is not usable; it is left out", project_id)
                continue
            if definition is not None:
                custom.append(definition)
        return ProjectRegistry(self.base, custom) if custom else self.base

    async def changed(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, versions: Sequence[StoredResource]
    ) -> SearchParameterRegistry:
        """Check the SearchParameters being written (400/422 if one cannot apply), tell every
        process at commit, and return the registry this write indexes with. It is not cached:
        the transaction may still roll back."""
        for version in versions:
            if not version.deleted:
                definition = definition_of(version.resource())
                if definition is not None:
                    check_definition(self.base, definition)
        registry = await self.load(conn, project_id)
        if isinstance(registry, ProjectRegistry):
            _check_no_duplicates(registry.custom)
        await conn.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(project_id)])
        self._pending[project_id] = time.monotonic() + RECHECK_SECONDS
        self.invalidate(project_id)
        return registry

    def invalidate(self, project_id: UUID | None = None) -> None:
        self._generation += 1
        if project_id is None:
            self._cache.clear()
        else:
            self._cache.pop(project_id, None)

    async def listen(self, database_url: str) -> None:
        """Drop cached projects as other processes change their SearchParameters; runs until
        cancelled, reconnecting after a lost connection (and then dropping everything, since
        notifications sent meanwhile are lost)."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.invalidate()
                    async for notification in conn.notifies():
                        self._on_notification(notification.payload)
            except psycopg.OperationalError:
                log.warning("lost the SearchParameter notification connection; reconnecting")
                self.invalidate()
                await asyncio.sleep(1)

    def _on_notification(self, payload: str) -> None:
        try:
            project_id = UUID(payload)
        except ValueError:
            self.invalidate()
            return
        self._pending.pop(project_id, None)
        self.invalidate(project_id)


def applies_to(definition: SearchParameterDefinition, resource_type: str) -> bool:
    return resource_type in definition.base or any(b in definition.base for b in _ABSTRACT_BASES)


def definition_of(resource: dict[str, Any]) -> SearchParameterDefinition | None:
    """The definition a SearchParameter resource makes; None for a retired one, which no
    longer applies (SearchParameter.status)."""
    if resource.get("status") == "retired":
        return None
    code, kind, expression = resource.get("code"), resource.get("type"), resource.get("expression")
    base, target = resource.get("base") or [], resource.get("target") or []
    if not isinstance(code, str) or not _CODE.match(code):
        raise FhirError([Issue("invalid", f"SearchParameter.code {code!r} is not a search parameter name "
                               "(a letter, then letters, digits, '-' or '_')", "SearchParameter.code")])
    if not isinstance(expression, str) or not expression.strip():
        raise FhirError([Issue("invalid", "A SearchParameter needs an expression to be searchable",
                               "SearchParameter.expression")])
    url = resource.get("url")
    return SearchParameterDefinition(
        url=url if isinstance(url, str) else "", code=code, base=tuple(b for b in base if isinstance(b, str)),
        type=str(kind), expression=expression, target=tuple(t for t in target if isinstance(t, str)), raw=resource)


def check_definition(base: SearchParameterRegistry, definition: SearchParameterDefinition) -> None:
    """Raise a 400 (or 422 for a name already taken) unless every base type can use it."""
    if definition.type not in CUSTOM_TYPES:
        raise FhirError([Issue("not-supported", f"SearchParameter.type {definition.type!r} is not supported for "
                               f"custom parameters (one of {', '.join(sorted(CUSTOM_TYPES))})",
                               "SearchParameter.type")])
    if not definition.base:
        raise FhirError([Issue("required", "A SearchParameter needs a base type", "SearchParameter.base")])
    for index, resource_type in enumerate(definition.base):
        if resource_type in _ABSTRACT_BASES:
            # A Resource-wide parameter needs a path on some type, not on every one.
            usable = [_check_for_type(base, definition, t, required=False) for t in base.definitions.resource_types]
            if not any(usable):
                raise FhirError([Issue("invalid", "The expression has no path that starts at a resource type",
                                       "SearchParameter.expression")])
        elif not base.definitions.is_resource_type(resource_type):
            raise FhirError([Issue("invalid", f"{resource_type!r} is not a resource type",
                                   f"SearchParameter.base[{index}]")])
        else:
            _check_for_type(base, definition, resource_type, required=True)


def _check_for_type(
    base: SearchParameterRegistry, definition: SearchParameterDefinition, resource_type: str, required: bool
) -> bool:
    """Whether `definition` yields values on `resource_type`; raises where it never could."""
    compiled = base.of_type(resource_type)
    code = definition.code
    if code in compiled.searchable or code in compiled.unsupported or code in RESOURCE_COLUMNS:
        raise FhirError([Issue("business-rule", f"{resource_type} already has a search parameter {code!r}; "
                               "choose another code", "SearchParameter.code")])
    assert definition.expression is not None
    parts = _parts_for(definition.expression, resource_type)
    if not parts:
        if required:
            raise FhirError([Issue("invalid", f"The expression has no path that starts at {resource_type}",
                                   "SearchParameter.expression")])
        return False
    unusable = next((part for part in parts if not _evaluates(part, resource_type)), None)
    if unusable is not None or _extractor(base.definitions, definition, resource_type) is None:
        raise FhirError([Issue("invalid", f"The expression {definition.expression!r} cannot be evaluated for "
                               f"{resource_type} as a {definition.type} parameter", "SearchParameter.expression")])
    return True


def _evaluates(part: str, resource_type: str) -> bool:
    """Whether fhirpathpy can run `part`. It compiles lazily and leniently (`where(` compiles),
    and the indexer swallows evaluation errors, so a bad expression is caught only by running it."""
    try:
        parse_expression(part)
        return True
    except UnsupportedExpression:
        pass
    import fhirpathpy
    from fhirpathpy.models import models

    try:
        fhirpathpy.compile(without_resolve(part), models["r4"], fhirpath_options())({"resourceType": resource_type}, {})
    except Exception:  # fhirpathpy raises bare Exceptions
        return False
    return True


def _check_no_duplicates(custom: Sequence[SearchParameterDefinition]) -> None:
    seen: set[tuple[str, str]] = set()
    for definition in custom:
        for resource_type in definition.base:
            if (resource_type, definition.code) in seen:
                raise FhirError([Issue("business-rule", f"This project already has a SearchParameter "
                                       f"{definition.code!r} on {resource_type}", "SearchParameter.code")])
            seen.add((resource_type, definition.code))


def _overlay(
    base: SearchParameterRegistry, compiled: TypeParameters, own: list[SearchParameterDefinition], resource_type: str
) -> TypeParameters:
    # `replace` keeps whatever else the registry compiles per type.
    merged = replace(compiled, searchable=dict(compiled.searchable), unsupported=dict(compiled.unsupported))
    stored = list(compiled.stored)
    for definition in own:
        table = TABLE_OF_TYPE.get(definition.type)
        extract = _extractor(base.definitions, definition, resource_type) if table is not None else None
        if table is None or extract is None:
            merged.unsupported[definition.code] = definition
            continue
        merged.searchable[definition.code] = IndexedParameter(
            definition.code, definition.type, definition, table, (definition.code,), extract=extract)
        stored.append((definition.code, table, extract))
    merged.stored = tuple(stored)
    return merged


async def _stored_contents(conn: psycopg.AsyncConnection[Any], project_id: UUID) -> list[str]:
    # The primary key's (project_id, resource_type) prefix: a project's few SearchParameters.
    async with conn.cursor() as cursor:
        await cursor.execute(
            "SELECT content FROM resource WHERE project_id = %s AND resource_type = %s AND NOT deleted"
            " ORDER BY id", [project_id, SEARCH_PARAMETER], prepare=False)
        rows = await cursor.fetchall()
    return [row[0] if isinstance(row, tuple) else row["content"] for row in rows]
