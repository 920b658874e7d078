"""Which validator, indexer and search engine the server runs with, and the work it does in
the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg_pool import AsyncConnectionPool

from fireside.api.services import ResourceValidator
from fireside.fhir import FhirDefinitions
from fireside.fhir.validation import Validator
from fireside.jobs import JobQueue, WorkerOptions, run_worker, worker_enabled
from fireside.search import SearchEngine
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry


def build_validator(definitions: FhirDefinitions) -> ResourceValidator:
    return Validator(definitions)


def build_search(
    pool: AsyncConnectionPool[Any], definitions: FhirDefinitions
) -> tuple[SearchIndexer, SearchEngine]:
    """The indexer and the engine share one registry, so each expression is compiled once."""
    registry = SearchParameterRegistry(definitions)
    return SearchIndexer(definitions, registry), SearchEngine(pool, definitions, registry)


log = logging.getLogger(__name__)


@asynccontextmanager
async def background_work(
    database_url: str, pool: AsyncConnectionPool[Any], indexer: SearchIndexer
) -> AsyncIterator[JobQueue]:
    """For the app's lifetime: the job queue, a job worker (unless FIRESIDE_WORKER=off: then
    `fireside worker` processes run the jobs) and the listener that keeps each project's custom
    search parameters current across processes."""
    queue = JobQueue(database_url)
    await queue.open()
    tasks = [asyncio.create_task(indexer.registry.projects.listen(database_url), name="search-parameters")]
    if worker_enabled():
        worker = run_worker(queue, pool, indexer, WorkerOptions.from_environment())
        tasks.append(asyncio.create_task(worker, name="job-worker"))
    for task in tasks:
        task.add_done_callback(_report_stopped)
    try:
        yield queue
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await queue.close()


def _report_stopped(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s stopped: %r", task.get_name(), task.exception())
