"""The `job_status` rows a client follows through the asynchronous request pattern
(https://hl7.org/fhir/R4/async.html): one per job, keyed by project, so that only the project
that started a job can see or cancel it.

States: queued -> running -> completed | failed, and cancelled from queued or running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

FINISHED_STATES = frozenset({"completed", "failed", "cancelled"})

_COLUMNS = ("project_id, id, kind, state, parameters, done, total, position, result, queue_job_id,"
            " created_at, finished_at")


@dataclass(frozen=True)
class JobStatus:
    project_id: UUID
    id: UUID
    kind: str
    state: str
    parameters: dict[str, Any]
    done: int
    total: int | None
    # Where a resumed job carries on; its shape belongs to the job's kind.
    position: dict[str, Any] | None
    result: dict[str, Any] | None
    queue_job_id: int | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def progress(self) -> str:
        """`n of m resources`, the X-Progress the async pattern suggests."""
        total = "?" if self.total is None else str(self.total)
        return f"{self.done} of {total} resources"

    @staticmethod
    def from_row(row: dict[str, Any]) -> JobStatus:
        return JobStatus(**row)


async def create_status(
    conn: psycopg.AsyncConnection[Any], project_id: UUID, kind: str, parameters: dict[str, Any]
) -> JobStatus:
    return await _one(conn, f"INSERT INTO job_status (project_id, id, kind, parameters) VALUES (%s, %s, %s, %s)"
                            f" RETURNING {_COLUMNS}", [project_id, uuid4(), kind, Jsonb(parameters)])


async def read_status(source: AsyncConnectionPool[Any] | psycopg.AsyncConnection[Any], project_id: UUID,
                      job_id: UUID, lock: bool = False) -> JobStatus | None:
    """The job's status; `lock` holds its row until commit (a batch and a cancel never interleave)."""
    query = f"SELECT {_COLUMNS} FROM job_status WHERE project_id = %s AND id = %s" + (" FOR UPDATE" if lock else "")
    if isinstance(source, AsyncConnectionPool):
        async with source.connection() as conn:
            return await _optional(conn, query, [project_id, job_id])
    return await _optional(source, query, [project_id, job_id])


async def set_queue_job(conn: psycopg.AsyncConnection[Any], status: JobStatus, queue_job_id: int) -> None:
    await conn.execute("UPDATE job_status SET queue_job_id = %s WHERE project_id = %s AND id = %s",
                       [queue_job_id, status.project_id, status.id])


async def update_status(conn: psycopg.AsyncConnection[Any], status: JobStatus, **changes: Any) -> None:
    """Set columns of the job's row (state, done, total, position, parameters, result); a final
    state also stamps `finished_at`."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"job_status has no updatable column {sorted(unknown)}")
    names = sorted(changes)
    values = [Jsonb(changes[n]) if isinstance(changes[n], dict) else changes[n] for n in names]
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(n)) for n in names)
    finished = sql.SQL(", finished_at = now()" if changes.get("state") in FINISHED_STATES else "")
    query = sql.SQL("UPDATE job_status SET {}, updated_at = now(){} WHERE project_id = %s AND id = %s").format(
        assignments, finished)
    await conn.execute(query, [*values, status.project_id, status.id])


_UPDATABLE = frozenset({"state", "done", "total", "position", "parameters", "result"})


async def _one(conn: psycopg.AsyncConnection[Any], query: str, params: list[Any]) -> JobStatus:
    found = await _optional(conn, query, params)
    assert found is not None
    return found


async def _optional(conn: psycopg.AsyncConnection[Any], query: str, params: list[Any]) -> JobStatus | None:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params)
        row = await cursor.fetchone()
    return JobStatus.from_row(row) if row else None
