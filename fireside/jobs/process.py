"""A worker process on its own (`fireside worker`): the definitions, a pool, an indexer and a
procrastinate worker that stops gracefully on SIGINT or SIGTERM."""

from __future__ import annotations

import dataclasses

from fireside.fhir import load_definitions
from fireside.jobs.queue import JobQueue
from fireside.jobs.worker import WorkerOptions, run_worker
from fireside.store import open_pool
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry


async def serve_jobs(database_url: str, concurrency: int | None = None) -> None:
    options = WorkerOptions.from_environment()
    if concurrency is not None:
        options = dataclasses.replace(options, concurrency=concurrency)
    definitions = load_definitions()
    indexer = SearchIndexer(definitions, SearchParameterRegistry(definitions))
    pool = await open_pool(database_url, min_size=1, max_size=options.concurrency + 1)
    queue = JobQueue(database_url)
    await queue.open()
    try:
        await run_worker(queue, pool, indexer, options, install_signal_handlers=True)
    finally:
        await queue.close()
        await pool.close()
