"""Writes search index rows for staged versions, inside the store's write transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
import psycopg

from fireside.fhir import FhirDefinitions
from fireside.store.context import AccessContext
from fireside.store.indexing.registry import SearchParameterRegistry
from fireside.store.indexing.values import (
    date_rows,
    number_rows,
    reference_rows,
    string_rows,
    token_rows,
    uri_rows,
)
from fireside.store.resources import StoredResource

RowsOf = Callable[[Any], Iterator[tuple[Any, ...]]]

# index table, its value columns, and the extractor of rows, by search parameter type
_TABLES: dict[str, tuple[str, tuple[str, ...], RowsOf]] = {
    "token": ("search_token", ("system", "value", "display"), token_rows),
    "string": ("search_string", ("normalized", "value"), string_rows),
    "reference": ("search_reference", ("target_type", "target_id", "url"), reference_rows),
    "date": ("search_date", ("low", "high"), date_rows),
    "number": ("search_number", ("value", "system", "unit"), number_rows),
    "quantity": ("search_number", ("value", "system", "unit"), number_rows),
    "uri": ("search_uri", ("value",), uri_rows),
}
INDEX_TABLES = sorted({table for table, _, _ in _TABLES.values()})


class SearchIndexer:
    """The store's `IndexWriter`: extracts every applicable search parameter of each version."""

    def __init__(self, definitions: FhirDefinitions, registry: SearchParameterRegistry | None = None) -> None:
        self.registry = registry or SearchParameterRegistry(definitions)

    def rows(self, version: StoredResource) -> dict[str, list[tuple[Any, ...]]]:
        """Index rows by table, without the leading project_id (added when written)."""
        tables: dict[str, list[tuple[Any, ...]]] = {}
        if version.deleted or version.content is None:
            return tables
        resource = orjson.loads(version.content)
        key = (version.resource_type, version.id)
        for parameter in self.registry.for_type(version.resource_type).values():
            table, _, rows_of = _TABLES[parameter.type]
            seen = set()
            for value in parameter.extract(resource):
                for row in rows_of(value):
                    if row not in seen:
                        seen.add(row)
                        tables.setdefault(table, []).append((*key, parameter.code, *row))
        return tables

    async def write(
        self, conn: psycopg.AsyncConnection[Any], ctx: AccessContext, versions: Sequence[StoredResource]
    ) -> None:
        replaced = [v for v in versions if v.version_id > 1]
        if replaced:
            # First versions have no rows yet: skipping them saves a statement per table on ingest.
            types, ids = [v.resource_type for v in replaced], [v.id for v in replaced]
            for table in INDEX_TABLES:
                await conn.execute(
                    f"DELETE FROM {table} WHERE project_id = %s"
                    " AND (resource_type, resource_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                    [ctx.project_id, types, ids],
                )
        collected: dict[str, list[tuple[Any, ...]]] = {}
        for version in versions:
            for table, rows in self.rows(version).items():
                collected.setdefault(table, []).extend(rows)
        for table, rows in collected.items():
            columns = _columns_of(table)
            async with conn.cursor() as cursor, cursor.copy(
                f"COPY {table} (project_id, resource_type, resource_id, code, {', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    await copy.write_row((ctx.project_id, *row))


def _columns_of(table: str) -> tuple[str, ...]:
    return next(columns for name, columns, _ in _TABLES.values() if name == table)
