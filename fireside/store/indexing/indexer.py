"""The store's `IndexWriter`: index rows of every written version, in the write's transaction.

A flush costs at most one DELETE statement (for resources that had rows: updates and deletes)
and one COPY per index table that gets rows, however many resources the flush holds, so a
95-entry transaction Bundle adds about seven round trips, not hundreds of statements.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import sql

from fireside.fhir import FhirDefinitions
from fireside.store.context import AccessContext
from fireside.store.indexing.custom import SEARCH_PARAMETER
from fireside.store.indexing.registry import SearchParameterRegistry
from fireside.store.indexing.tables import INDEX_TABLES, IndexTable
from fireside.store.resources import StoredResource

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
# Content that is not quite what its definition says can make an extractor trip; that value is
# then not indexed, and the write goes on.
_EXTRACTION_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError)


class SearchIndexer:
    """Extracts every stored search parameter of each version and writes the rows."""

    def __init__(self, definitions: FhirDefinitions, registry: SearchParameterRegistry | None = None) -> None:
        self.registry = registry or SearchParameterRegistry(definitions)
        self._copy_statements = {table: _copy_statement(table) for table in INDEX_TABLES}
        self._delete_statement = _delete_statement()

    def rows(self, version: StoredResource, project_id: UUID | None = None) -> dict[IndexTable, list[Row]]:
        """The index rows of `version` by table: (project_id, resource_type, resource_id,
        parameter, value columns...). A deletion has none."""
        tables: dict[IndexTable, list[Row]] = {}
        self._collect(self.registry, version, project_id, tables)
        return tables

    def _collect(
        self, registry: SearchParameterRegistry, version: StoredResource, project_id: UUID | None,
        tables: dict[IndexTable, list[Row]],
    ) -> None:
        if version.deleted or version.content is None:
            return
        resource = orjson.loads(version.content)
        resource_type, resource_id = version.resource_type, version.id
        for code, table, extract in registry.of_type(resource_type).stored:
            try:
                values = extract(resource)
            except _EXTRACTION_ERRORS:
                log.debug("%s %s: a value of unexpected shape is not indexed", resource_type, code)
                continue
            if not values:
                continue
            if len(values) > 1:
                values = list(dict.fromkeys(values))
            prefix = (project_id, resource_type, resource_id, code)
            found = tables.get(table)
            if found is None:
                found = tables[table] = []
            found.extend([prefix + row for row in values])

    async def write(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, versions: Sequence[StoredResource]
    ) -> None:
        # The project's own SearchParameters apply to its writes (custom.py); writing one checks it.
        parameters = [v for v in versions if v.resource_type == SEARCH_PARAMETER]
        if parameters:
            registry = await self.registry.projects.changed(conn, ctx.project_id, parameters)
        else:
            registry = await self.registry.for_project(conn, ctx.project_id)
        # A first version has no rows yet: skipping the DELETE keeps pure ingest to COPYs alone.
        await self._replace(conn, ctx.project_id, registry, versions, [v for v in versions if v.version_id > 1])

    async def reindex(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, versions: Sequence[StoredResource],
        registry: SearchParameterRegistry,
    ) -> None:
        """Extract the rows of stored `versions` again, replacing whatever rows they have ($reindex)."""
        await self._replace(conn, project_id, registry, versions, versions)

    async def _replace(
        self, conn: psycopg.AsyncConnection[Any], project_id: UUID, registry: SearchParameterRegistry,
        versions: Sequence[StoredResource], replaced: Sequence[StoredResource],
    ) -> None:
        if replaced:
            await conn.execute(self._delete_statement, {
                "project_id": project_id,
                "types": [v.resource_type for v in replaced],
                "ids": [v.id for v in replaced],
            })
        tables: dict[IndexTable, list[Row]] = {}
        for version in versions:
            self._collect(registry, version, project_id, tables)
        async with conn.cursor() as cursor:
            for table in INDEX_TABLES:
                rows = tables.get(table)
                if not rows:
                    continue
                async with cursor.copy(self._copy_statements[table]) as copy:
                    for row in rows:
                        await copy.write_row(row)


def _copy_statement(table: IndexTable) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.all_columns)))


def _delete_statement() -> sql.Composed:
    """One statement that clears the rows of the given resources from every index table: each
    DELETE is a data-modifying CTE, so all run in one round trip, each through the table's
    (project_id, resource_type, resource_id, parameter) index."""
    deletes = [
        sql.SQL(
            "{name} AS (DELETE FROM {table} i USING targets t WHERE i.project_id = %(project_id)s"
            " AND i.resource_type = t.resource_type AND i.resource_id = t.resource_id)"
        ).format(name=sql.Identifier(f"cleared_{table.name}"), table=sql.Identifier(table.name))
        for table in INDEX_TABLES
    ]
    return sql.SQL(
        "WITH targets AS MATERIALIZED (SELECT * FROM unnest(%(types)s::text[], %(ids)s::text[])"
        " AS t(resource_type, resource_id)), {deletes} SELECT 1"
    ).format(deletes=sql.SQL(", ").join(deletes))
