"""Index rows written in the store's transaction: replaced on update, removed on delete."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from fireside.fhir import load_definitions
from fireside.store import AccessContext, ResourceStore, open_pool
from fireside.store.indexing import INDEX_TABLES, SearchIndexer, SearchParameterRegistry

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def indexer() -> SearchIndexer:
    definitions = load_definitions()
    return SearchIndexer(definitions, SearchParameterRegistry(definitions))


@pytest.fixture
async def store(database_url: str, indexer: SearchIndexer) -> AsyncIterator[ResourceStore]:
    pool = await open_pool(database_url, min_size=1, max_size=2)
    try:
        yield ResourceStore(pool, index_writer=indexer)
    finally:
        await pool.close()


@pytest.fixture
def ctx() -> AccessContext:
    return AccessContext(uuid.uuid4(), "Practitioner/tester")


async def put(store: ResourceStore, ctx: AccessContext, *resources: dict[str, Any]) -> None:
    async with store.transaction(ctx) as unit:
        current = await unit.current([(r["resourceType"], r["id"]) for r in resources])
        for resource in resources:
            unit.stage_put(resource, resource["id"], current.get((resource["resourceType"], resource["id"])))


async def index_rows(store: ResourceStore, resource_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every index row of `resource_id` by table, as (parameter, values...) text."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with store.pool.connection() as conn, conn.cursor(row_factory=psycopg.rows.tuple_row) as cursor:
        for table in INDEX_TABLES:
            columns = ", ".join(f"{c}::text" for c in ("parameter", *table.columns))
            await cursor.execute(
                f"SELECT {columns} FROM {table.name} WHERE resource_id = %s ORDER BY 1, 2", [resource_id])
            rows = await cursor.fetchall()
            if rows:
                found[table.name] = rows
    return found


PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-17",
           "name": [{"family": "Ng"}], "managingOrganization": {"reference": "Organization/o1"}}


async def test_a_written_resource_has_rows_in_each_table_it_has_values_for(
    store: ResourceStore, ctx: AccessContext
) -> None:
    await put(store, ctx, PATIENT)
    found = await index_rows(store, "p1")
    assert ("gender", None, "female", None) in found["search_token"]
    assert ("family", "ng", "Ng") in found["search_string"]
    assert ("organization", "Organization", "o1", None) in found["search_reference"]
    assert ("birthdate", "1980-05-17 00:00:00+00", "1980-05-18 00:00:00+00") in found["search_date"]
    async with store.pool.connection() as conn:
        cursor = await conn.execute("SELECT DISTINCT project_id FROM search_token")
        assert [row["project_id"] for row in await cursor.fetchall()] == [ctx.project_id]


async def test_an_update_replaces_the_rows_of_that_resource_only(store: ResourceStore, ctx: AccessContext) -> None:
    await put(store, ctx, PATIENT, {**PATIENT, "id": "p2"})
    await put(store, ctx, {**PATIENT, "gender": "male", "name": [{"family": "Ong"}]})
    updated, untouched = await index_rows(store, "p1"), await index_rows(store, "p2")
    assert [r for r in updated["search_token"] if r[0] == "gender"] == [("gender", None, "male", None)]
    assert [r[1] for r in updated["search_string"]] == ["ong"] * 2  # family and name
    assert ("gender", None, "female", None) in untouched["search_token"]


async def test_a_delete_removes_every_row_of_the_resource(store: ResourceStore, ctx: AccessContext) -> None:
    await put(store, ctx, PATIENT)
    async with store.transaction(ctx) as unit:
        current = await unit.read("Patient", "p1")
        assert current is not None
        unit.stage_delete(current)
    assert await index_rows(store, "p1") == {}


async def test_only_the_last_version_written_in_a_transaction_is_indexed(
    store: ResourceStore, ctx: AccessContext
) -> None:
    async with store.transaction(ctx) as unit:
        first = unit.stage_put(PATIENT, "p1", None)
        unit.stage_put({**PATIENT, "gender": "other"}, "p1", first)
    found = await index_rows(store, "p1")
    assert [r for r in found["search_token"] if r[0] == "gender"] == [("gender", None, "other", None)]


async def test_open_period_ends_are_stored_as_infinity(store: ResourceStore, ctx: AccessContext) -> None:
    await put(store, ctx, {"resourceType": "Encounter", "id": "e1", "status": "in-progress",
                           "class": {"code": "IMP"}, "period": {"start": "2020-03-01T10:00:00Z"}})
    found = await index_rows(store, "e1")
    assert ("date", "2020-03-01 10:00:00+00", "infinity") in found["search_date"]


async def test_content_that_would_break_a_copy_is_still_written(store: ResourceStore, ctx: AccessContext) -> None:
    name = {"family": "Nul\u0000Byte", "given": [None, "Tab\tNew\nLine"]}
    odd = {"resourceType": "Patient", "id": "odd", "name": [name],
           "birthDate": "19800517", "identifier": [{"system": {"not": "a string"}, "value": "1\\2"}],
           "telecom": [{"value": 5551234}]}
    await put(store, ctx, odd)
    found = await index_rows(store, "odd")
    assert ("family", "nulbyte", "NulByte") in found["search_string"]
    assert ("given", "tab\tnew\nline", "Tab\tNew\nLine") in found["search_string"]
    assert ("identifier", None, "1\\2", None) in found["search_token"]
    assert ("telecom", None, "5551234", None) in found["search_token"]
    assert "search_date" not in found


async def test_index_rows_of_the_same_id_in_two_projects_are_separate(store: ResourceStore, ctx: AccessContext) -> None:
    other = AccessContext(uuid.uuid4(), "Practitioner/other")
    await put(store, ctx, PATIENT)
    await put(store, other, {**PATIENT, "gender": "male"})
    await put(store, ctx, {**PATIENT, "gender": "other"})  # replaces rows in ctx's project only
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT project_id, value FROM search_token WHERE parameter = 'gender' ORDER BY value")
        rows = [(row["project_id"], row["value"]) for row in await cursor.fetchall()]
    assert rows == [(other.project_id, "male"), (ctx.project_id, "other")]
