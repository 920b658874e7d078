"""Search test fixtures: a store that indexes with `SearchIndexer` and a `SearchEngine`, both on
the test's own database (`database_url` from tests/conftest.py: a fresh copy of the migrated
template), and a project to work in. Tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest

from fireside.fhir import load_definitions
from fireside.search import SearchEngine, SearchResult
from fireside.store import AccessContext, ResourceStore, StoredResource, open_pool
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def registry() -> SearchParameterRegistry:
    return SearchParameterRegistry(load_definitions())


@dataclass
class Searcher:
    """Writes resources with their index rows, and searches them, in one project."""

    store: ResourceStore
    engine: SearchEngine
    ctx: AccessContext

    async def put(self, *resources: dict[str, Any]) -> list[StoredResource]:
        """Create or update each resource under its own id, in one transaction."""
        async with self.store.transaction(self.ctx) as unit:
            previous = await unit.current([(r["resourceType"], r["id"]) for r in resources])
            return [unit.stage_put(r, r["id"], previous.get((r["resourceType"], r["id"]))) for r in resources]

    async def delete(self, resource_type: str, resource_id: str) -> None:
        async with self.store.transaction(self.ctx) as unit:
            current = await unit.read(resource_type, resource_id)
            assert current is not None
            unit.stage_delete(current)

    async def search(self, resource_type: str, query: str, **options: Any) -> SearchResult:
        params = parse_qsl(query, keep_blank_values=True)
        return await self.engine.search(self.ctx, resource_type, params, **options)

    async def ids(self, resource_type: str, query: str, **options: Any) -> set[str]:
        result = await self.search(resource_type, query, **options)
        assert result.next_cursor is None, "a test search should fit one page"
        return {stored.id for stored in result.resources}


@pytest.fixture
async def searcher(database_url: str, registry: SearchParameterRegistry) -> AsyncIterator[Searcher]:
    pool = await open_pool(database_url, min_size=1, max_size=2)
    try:
        definitions = registry.definitions
        store = ResourceStore(pool, index_writer=SearchIndexer(definitions, registry))
        engine = SearchEngine(pool, definitions, registry)
        yield Searcher(store, engine, AccessContext(uuid.uuid4(), "Practitioner/tester"))
    finally:
        await pool.close()
