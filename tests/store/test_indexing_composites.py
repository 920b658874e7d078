"""Composite and position index rows (migration 0003): one composite row per combination of
component values in one element; replaced on update and removed on delete like every other
index row."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from fireside.store import AccessContext, ResourceStore
from fireside.store.indexing import SearchIndexer
from tests.store import test_indexing_writer as writer_tests

pytestmark = pytest.mark.anyio

LOINC = "http://loinc.org"


# The store, indexer and `put` of the writer's tests.
anyio_backend = writer_tests.anyio_backend
indexer = writer_tests.indexer
store = writer_tests.store
ctx = writer_tests.ctx
put = writer_tests.put


async def composite_rows(store: ResourceStore, resource_id: str, parameter: str) -> list[tuple[Any, ...]]:
    """(first component value, second component low) of each row, in order."""
    async with store.pool.connection() as conn, conn.cursor(row_factory=psycopg.rows.tuple_row) as cursor:
        await cursor.execute(
            "SELECT c1_value, c2_low::text FROM search_composite WHERE resource_id = %s AND parameter = %s"
            " ORDER BY 1, 2", [resource_id, parameter])
        return await cursor.fetchall()


async def positions(store: ResourceStore, resource_id: str) -> list[tuple[Any, ...]]:
    async with store.pool.connection() as conn, conn.cursor(row_factory=psycopg.rows.tuple_row) as cursor:
        await cursor.execute("SELECT latitude, longitude FROM search_position WHERE resource_id = %s", [resource_id])
        return await cursor.fetchall()


def blood_pressure(systolic: int, diastolic: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": "bp", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": systolic}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": diastolic}},
        ],
    }


def test_every_combination_of_one_elements_component_values_is_a_row(indexer: SearchIndexer) -> None:
    registry = indexer.registry
    parameter = registry.parameter("Observation", "code-value-concept")
    assert parameter is not None and parameter.extract is not None
    rows = parameter.extract({
        "resourceType": "Observation",
        "code": {"coding": [{"system": LOINC, "code": "a"}, {"system": LOINC, "code": "b"}]},
        "valueCodeableConcept": {"coding": [{"system": "http://x", "code": "v"}]},
    })
    assert [(row[0], row[1], row[7], row[8]) for row in rows] == [
        (LOINC, "a", "http://x", "v"), (LOINC, "b", "http://x", "v")]


def test_composite_and_near_are_no_longer_reported_as_unsupported(indexer: SearchIndexer) -> None:
    registry = indexer.registry
    assert "code-value-quantity" in registry.for_type("Observation")
    assert "relationship" in registry.for_type("DocumentReference")
    assert "near" in registry.for_type("Location")
    assert not [d for d in registry.of_type("Observation").unsupported.values() if d.type == "composite"]


async def test_composite_rows_come_one_per_component(store: ResourceStore, ctx: AccessContext) -> None:
    await put(store, ctx, blood_pressure(150, 90))
    assert await composite_rows(store, "bp", "component-code-value-quantity") == [("8462-4", "90"), ("8480-6", "150")]


async def test_an_update_replaces_the_composite_rows(store: ResourceStore, ctx: AccessContext) -> None:
    await put(store, ctx, blood_pressure(150, 90))
    await put(store, ctx, blood_pressure(120, 80))
    assert await composite_rows(store, "bp", "component-code-value-quantity") == [("8462-4", "80"), ("8480-6", "120")]


async def test_a_delete_removes_composite_and_position_rows(store: ResourceStore, ctx: AccessContext) -> None:
    place = {"resourceType": "Location", "id": "bp", "position": {"latitude": 42.25, "longitude": -83.69}}
    await put(store, ctx, blood_pressure(150, 90))
    await put(store, ctx, place)
    assert await positions(store, "bp") == [(42.25, -83.69)]
    for resource_type in ("Observation", "Location"):
        async with store.transaction(ctx) as unit:
            current = await unit.read(resource_type, "bp")
            assert current is not None
            unit.stage_delete(current)
    assert await composite_rows(store, "bp", "component-code-value-quantity") == []
    assert await positions(store, "bp") == []


async def test_a_position_out_of_range_or_not_numeric_is_not_indexed(store: ResourceStore, ctx: AccessContext) -> None:
    await put(store, ctx, {"resourceType": "Location", "id": "odd", "position": {"latitude": 91, "longitude": 0}},
              {"resourceType": "Location", "id": "text", "position": {"latitude": "1", "longitude": 2}})
    assert await positions(store, "odd") == []
    assert await positions(store, "text") == []


def test_combo_composites_read_the_rows_of_the_observation_and_component_ones(indexer: SearchIndexer) -> None:
    observation = indexer.registry.of_type("Observation")
    combo = observation.searchable["combo-code-value-quantity"]
    assert (combo.rows_in, combo.extract) == (("code-value-quantity", "component-code-value-quantity"), None)
    assert "combo-code-value-quantity" not in {code for code, _, _ in observation.stored}
