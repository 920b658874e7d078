"""Microbenchmark: what per-project custom search parameters cost a write, in-process, no database.

    python -m bench.custom_parameters

Prints the cost of `SearchParameterRegistry.for_project` for a cached project without custom
parameters (the path every write and search takes), next to extracting one Patient's index rows
with the R4 registry and with an overlay holding one custom parameter.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import orjson

from fireside.fhir import load_definitions
from fireside.store import StoredResource
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry
from fireside.store.indexing.custom import ProjectRegistry, definition_of

NICKNAME_URL = "http://example.org/nickname"
LOOKUPS = 20_000
RESOURCES = 2_000


def patient(n: int) -> StoredResource:
    content = {"resourceType": "Patient", "id": f"p{n}", "gender": "female", "birthDate": "1970-01-01",
               "name": [{"family": "Smith", "given": ["Ann"]}],
               "identifier": [{"system": "http://mrn", "value": str(n)}],
               "extension": [{"url": NICKNAME_URL, "valueString": "Nan"}]}
    return StoredResource("Patient", f"p{n}", 1, datetime.now(UTC), False, orjson.dumps(content).decode())


async def lookup_seconds(registry: SearchParameterRegistry, project_id: uuid.UUID) -> float:
    await registry.for_project(None, project_id)  # type: ignore[arg-type]  # cached: no database
    started = time.perf_counter()
    for _ in range(LOOKUPS):
        await registry.for_project(None, project_id)  # type: ignore[arg-type]
    return (time.perf_counter() - started) / LOOKUPS


def extract_seconds(indexer: SearchIndexer, registry: SearchParameterRegistry, versions: list[StoredResource]) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for version in versions:
            indexer._collect(registry, version, None, {})
        best = min(best, (time.perf_counter() - started) / len(versions))
    return best


def main() -> None:
    definitions = load_definitions()
    registry = SearchParameterRegistry(definitions)
    indexer = SearchIndexer(definitions, registry)
    project_id = uuid.uuid4()
    registry.projects._cache[project_id] = (time.monotonic(), registry)
    nickname = definition_of({"code": "nickname", "type": "string", "base": ["Patient"],
                              "expression": f"Patient.extension.where(url = '{NICKNAME_URL}').value"})
    assert nickname is not None
    overlay = ProjectRegistry(registry, [nickname])
    versions = [patient(n) for n in range(RESOURCES)]
    lookup = asyncio.run(lookup_seconds(registry, project_id))
    print(f"for_project, cached, no custom parameters: {lookup * 1e6:7.1f} us")
    print(f"extract one Patient's rows, R4 registry:    {extract_seconds(indexer, registry, versions) * 1e6:7.1f} us")
    print(f"extract one Patient's rows, +1 custom:      {extract_seconds(indexer, overlay, versions) * 1e6:7.1f} us")


if __name__ == "__main__":
    main()
