"""Running jobs: a procrastinate worker, inside `fireside serve` (a background task of each API
process, unless FIRESIDE_WORKER=off) or alone as `fireside worker` to scale out separately.

A worker that dies mid-job (killed, out of memory, its machine gone) leaves the job `doing`.
Procrastinate's heartbeats tell: every worker here looks, at start and then every
`stalled_seconds`, for jobs of workers silent that long, and puts them back on the queue. The
job itself resumes from its last committed batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import procrastinate
from psycopg_pool import AsyncConnectionPool

from fireside.jobs.queue import CONTEXT_KEY, QUEUE, JobQueue
from fireside.jobs.reindex import DEFAULT_BATCH_SIZE, ReindexServices
from fireside.store.indexing import SearchIndexer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs; each has a FIRESIDE_WORKER_* variable (see `from_environment`)."""

    concurrency: int = 2
    # procrastinate's defaults: a worker silent for 30 s is taken for dead.
    heartbeat_seconds: float = 10.0
    stalled_seconds: float = 30.0
    # LISTEN/NOTIFY wakes a worker at once; polling only covers a lost notification.
    poll_seconds: float = 5.0
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_pause_seconds: float = 0.0
    # How long a stopping worker lets running jobs go on before aborting them (they resume later).
    shutdown_seconds: float = 10.0

    @staticmethod
    def from_environment() -> WorkerOptions:
        defaults = WorkerOptions()
        return WorkerOptions(
            concurrency=_env("FIRESIDE_WORKER_CONCURRENCY", int, defaults.concurrency),
            heartbeat_seconds=_env("FIRESIDE_WORKER_HEARTBEAT_SECONDS", float, defaults.heartbeat_seconds),
            stalled_seconds=_env("FIRESIDE_WORKER_STALLED_SECONDS", float, defaults.stalled_seconds),
            poll_seconds=_env("FIRESIDE_WORKER_POLL_SECONDS", float, defaults.poll_seconds),
            batch_size=_env("FIRESIDE_REINDEX_BATCH_SIZE", int, defaults.batch_size),
            batch_pause_seconds=_env("FIRESIDE_REINDEX_BATCH_PAUSE_SECONDS", float, defaults.batch_pause_seconds),
            shutdown_seconds=_env("FIRESIDE_WORKER_SHUTDOWN_SECONDS", float, defaults.shutdown_seconds),
        )


def worker_enabled() -> bool:
    """Whether `fireside serve` runs a worker in each API process (FIRESIDE_WORKER, default on)."""
    return os.environ.get("FIRESIDE_WORKER", "on").lower() not in ("off", "0", "false", "no")


async def run_worker(
    queue: JobQueue, pool: AsyncConnectionPool[Any], indexer: SearchIndexer, options: WorkerOptions,
    install_signal_handlers: bool = False,
) -> None:
    """Run jobs until cancelled (or, with `install_signal_handlers`, until SIGINT/SIGTERM)."""
    services = ReindexServices(pool, indexer, options.batch_size, options.batch_pause_seconds)
    recovery = asyncio.create_task(recover_stalled_jobs(queue.app, options.stalled_seconds))
    try:
        await queue.app.run_worker_async(
            queues=[QUEUE],
            name="fireside",
            concurrency=options.concurrency,
            additional_context={CONTEXT_KEY: services},
            install_signal_handlers=install_signal_handlers,
            update_heartbeat_interval=options.heartbeat_seconds,
            stalled_worker_timeout=options.stalled_seconds,
            fetch_job_polling_interval=options.poll_seconds,
            abort_job_polling_interval=options.poll_seconds,
            shutdown_graceful_timeout=options.shutdown_seconds,
        )
    finally:
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovery


async def recover_stalled_jobs(app: procrastinate.App, stalled_seconds: float) -> None:
    """Put the jobs of dead workers back on the queue, now and every `stalled_seconds`."""
    while True:
        try:
            await app.job_manager.prune_stalled_workers(stalled_seconds)
            stalled = await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stalled_seconds)
            for job in stalled:
                log.warning("job %s (%s) was left running by a dead worker; queueing it again", job.id, job.task_name)
                with contextlib.suppress(procrastinate.exceptions.ConnectorException):  # another worker was first
                    await app.job_manager.retry_job(job)
        except procrastinate.exceptions.ConnectorException as error:
            log.warning("could not look for stalled jobs: %s", type(error).__name__)
        await asyncio.sleep(stalled_seconds)


def _env(name: str, parse: Callable[[str], Any], default: Any) -> Any:
    value = os.environ.get(name)
    return parse(value) if value else default
