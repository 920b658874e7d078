"""The job queue: procrastinate (https://procrastinate.readthedocs.io) on Fireside's PostgreSQL.

Jobs are rows in `procrastinate_jobs` (migration 0005); a worker takes one with
`SELECT ... FOR UPDATE SKIP LOCKED` and hears of new ones by LISTEN/NOTIFY, so API processes keep
no state and any number of workers (in `fireside serve` or `fireside worker`) share the work.
Every job's arguments carry its project id, and each has a `job_status` row in that project
that clients follow.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import procrastinate
from procrastinate import JobContext, RetryStrategy
from psycopg_pool import AsyncConnectionPool

from fireside.jobs.reindex import KIND as REINDEX
from fireside.jobs.reindex import ReindexServices, mark_failed, run_reindex
from fireside.jobs.status import JobStatus, create_status, read_status, set_queue_job, update_status

log = logging.getLogger(__name__)

QUEUE = "fireside"
CONTEXT_KEY = "fireside"
# A failed reindex is retried: a job resumes where it stopped, so a retry after a transient error
# (a lost connection, a deadlock) costs only the batch that failed.
RETRIES = 5
TASK_NAMES = {REINDEX: "fireside.reindex"}


async def _reindex_task(context: JobContext, project_id: str, job_id: str) -> None:
    services: ReindexServices = context.additional_context[CONTEXT_KEY]
    try:
        await run_reindex(services, UUID(project_id), UUID(job_id))
    except Exception as error:
        if context.job.attempts >= RETRIES:
            log.error("reindex job %s failed for good: %s", job_id, type(error).__name__)
            await mark_failed(services.pool, UUID(project_id), UUID(job_id),
                              f"The job failed after {RETRIES + 1} attempts ({type(error).__name__})")
        raise


def build_app(database_url: str) -> procrastinate.App:
    """A procrastinate app on its own small pool: procrastinate's listener opens a connection with
    the pool's settings plus `autocommit=True`, which clashes with the API pool's own autocommit."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database_url, min_size=1, max_size=4))
    app.task(name=TASK_NAMES[REINDEX], queue=QUEUE, pass_context=True,
             retry=RetryStrategy(max_attempts=RETRIES, wait=1))(_reindex_task)
    return app


class JobQueue:
    """Where the API enqueues jobs, follows and cancels them."""

    def __init__(self, database_url: str) -> None:
        self.app = build_app(database_url)

    async def open(self) -> None:
        await self.app.open_async()

    async def close(self) -> None:
        await self.app.close_async()

    async def enqueue(
        self, pool: AsyncConnectionPool[Any], project_id: UUID, kind: str, parameters: dict[str, Any]
    ) -> JobStatus:
        async with pool.connection() as conn:
            status = await create_status(conn, project_id, kind, parameters)
        try:
            deferrer = self.app.configure_task(TASK_NAMES[kind], queue=QUEUE)
            queue_job_id = await deferrer.defer_async(project_id=str(project_id), job_id=str(status.id))
        except Exception:
            async with pool.connection() as conn:
                await update_status(conn, status, state="failed")
            raise
        async with pool.connection() as conn:
            await set_queue_job(conn, status, queue_job_id)
        return status

    async def cancel(self, pool: AsyncConnectionPool[Any], project_id: UUID, job_id: UUID) -> JobStatus | None:
        """Cancel the job unless it is over: a running batch finishes or rolls back, and no
        other starts (each checks the state under the row's lock). None if there is no such job."""
        async with pool.connection() as conn, conn.transaction():
            status = await read_status(conn, project_id, job_id, lock=True)
            if status is None or status.finished:
                return status
            await update_status(conn, status, state="cancelled")
        if status.queue_job_id is not None:
            # Takes a queued job off the queue; a running one sees `cancelled` at its next batch.
            await self.app.job_manager.cancel_job_by_id_async(status.queue_job_id, abort=True)
        return await read_status(pool, project_id, job_id)
