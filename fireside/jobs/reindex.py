"""$reindex as a job: extract the index rows of a project's stored resources again, so that search
parameters created after the resources were written find them.

Batches go by keyset over (resource_type, id), each in its own transaction that also records how
far the job got (`job_status.position`) and how many resources it has done: a batch is done
completely or not at all, so a job whose worker died carries on after the last committed batch
and re-extracting a batch twice writes the same rows. Each batch reads its resources `FOR SHARE`:
a concurrent update waits for the batch (or the batch for it), so the rows written are always
those of the current version.

Only resources last written before the job was started are reindexed (and counted): later
writes were indexed by their writers with the parameters of that time. Without this cut-off a
busy project (every request adding an AuditEvent) never lets the progress reach its total.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from fireside.fhir.errors import FhirError, Issue
from fireside.jobs.status import JobStatus, read_status, update_status
from fireside.store import StoredResource
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry
from fireside.store.indexing.custom import ProjectRegistry, applies_to

log = logging.getLogger(__name__)

KIND = "reindex"
DEFAULT_BATCH_SIZE = 500

# Every type a project has, by skipping through the primary key's (project_id, resource_type)
# prefix one type at a time (a loose index scan) instead of reading every row.
_PROJECT_TYPES = """
WITH RECURSIVE types AS (
    (SELECT resource_type FROM resource WHERE project_id = %(project)s ORDER BY resource_type LIMIT 1)
    UNION ALL
    SELECT (SELECT r.resource_type FROM resource r WHERE r.project_id = %(project)s
            AND r.resource_type > types.resource_type ORDER BY r.resource_type LIMIT 1)
    FROM types WHERE types.resource_type IS NOT NULL
)
SELECT resource_type FROM types WHERE resource_type IS NOT NULL
"""


@dataclass(frozen=True)
class ReindexServices:
    """What a worker needs to run reindex jobs."""

    pool: AsyncConnectionPool[Any]
    indexer: SearchIndexer
    batch_size: int = DEFAULT_BATCH_SIZE
    # A pause after each batch leaves the database to the API while a large project reindexes.
    batch_pause_seconds: float = 0.0


def reindex_parameters(
    registry: SearchParameterRegistry, resource_type: str | None, search_parameter: str | None
) -> dict[str, Any]:
    """The job's parameters: which types to reindex (None: every type the project has when the
    job starts). `search_parameter`, a canonical URL or a code, narrows them to the parameter's
    base types; naming none the project knows is a 400."""
    types: list[str] | None = [resource_type] if resource_type else None
    if search_parameter:
        bases = _bases_of(registry, search_parameter, resource_type)
        if types is None and not any(b in ("Resource", "DomainResource") for b in bases):
            types = sorted(bases)
    return {"types": types, "searchParameter": search_parameter}


def _bases_of(registry: SearchParameterRegistry, wanted: str, resource_type: str | None) -> set[str]:
    custom = registry.custom if isinstance(registry, ProjectRegistry) else ()
    found = [d for d in (*registry.definitions.search_parameters, *custom) if wanted in (d.url, d.code)]
    if resource_type:
        found = [d for d in found if applies_to(d, resource_type)]
    if not found:
        where = f" of {resource_type}" if resource_type else ""
        raise FhirError([Issue("invalid", f"searchParameter {wanted!r} is not a search parameter{where} here",
                               "Parameters.parameter.where(name = 'searchParameter')")])
    return {base for d in found for base in d.base}


async def run_reindex(services: ReindexServices, project_id: UUID, job_id: UUID) -> None:
    status = await _start(services.pool, project_id, job_id)
    if status is None:
        return
    types: list[str] = status.parameters["types"]
    position = status.position or {}
    resume = position.get("type")
    remaining = types[types.index(resume):] if resume in types else types
    for resource_type in remaining:
        after = position.get("id", "") if resource_type == resume else ""
        while after is not None:
            after = await _batch(services, status, resource_type, after)
            if after == _STOPPED:
                return
            if services.batch_pause_seconds:
                await asyncio.sleep(services.batch_pause_seconds)
    await _finish(services.pool, status, types)


async def _start(pool: AsyncConnectionPool[Any], project_id: UUID, job_id: UUID) -> JobStatus | None:
    """Mark the job running, fixing its types and total on the first run; None if it is over."""
    async with pool.connection() as conn, conn.transaction():
        status = await read_status(conn, project_id, job_id, lock=True)
        if status is None or status.finished:
            return None
        parameters = dict(status.parameters)
        if parameters.get("types") is None:
            parameters["types"] = await _project_types(conn, project_id)
        total = status.total
        if total is None:
            total = await _count(conn, project_id, parameters["types"], status.created_at)
        await update_status(conn, status, state="running", parameters=parameters, total=total)
        return await read_status(conn, project_id, job_id)


_STOPPED = "\x00stopped"


async def _batch(services: ReindexServices, status: JobStatus, resource_type: str, after: str) -> str | None:
    """Reindex the next batch of `resource_type` after id `after`: the last id done, None when the
    type is done, or _STOPPED when the job was cancelled."""
    async with services.pool.connection() as conn, conn.transaction():
        current = await read_status(conn, status.project_id, status.id, lock=True)
        if current is None or current.state != "running":
            return _STOPPED
        versions = await _next_resources(conn, status, resource_type, after, services.batch_size)
        if not versions:
            return None
        # Read again per batch, so that a SearchParameter changed meanwhile applies from here on.
        registry = await services.indexer.registry.projects.load(conn, status.project_id)
        await services.indexer.reindex(conn, status.project_id, versions, registry)
        last = versions[-1].id
        await update_status(conn, current, done=current.done + len(versions),
                            position={"type": resource_type, "id": last})
    return last


async def _finish(pool: AsyncConnectionPool[Any], status: JobStatus, types: list[str]) -> None:
    async with pool.connection() as conn, conn.transaction():
        current = await read_status(conn, status.project_id, status.id, lock=True)
        if current is None or current.state != "running":
            return
        message = f"Reindexed {current.done} resources" + (f" of {', '.join(types)}" if types else "")
        outcome = {"resourceType": "OperationOutcome",
                   "issue": [{"severity": "information", "code": "informational", "diagnostics": message}]}
        await update_status(conn, current, state="completed", result=outcome)


async def mark_failed(pool: AsyncConnectionPool[Any], project_id: UUID, job_id: UUID, reason: str) -> None:
    async with pool.connection() as conn, conn.transaction():
        current = await read_status(conn, project_id, job_id, lock=True)
        if current is None or current.finished:
            return
        outcome = {"resourceType": "OperationOutcome",
                   "issue": [{"severity": "error", "code": "exception", "diagnostics": reason}]}
        await update_status(conn, current, state="failed", result=outcome)


async def _next_resources(
    conn: psycopg.AsyncConnection[Any], status: JobStatus, resource_type: str, after: str, limit: int
) -> list[StoredResource]:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            "SELECT resource_type, id, version_id, last_updated, deleted, content FROM resource"
            " WHERE project_id = %s AND resource_type = %s AND id > %s AND NOT deleted AND last_updated <= %s"
            " ORDER BY id LIMIT %s FOR SHARE", [status.project_id, resource_type, after, status.created_at, limit])
        return [StoredResource.from_row(row) for row in await cursor.fetchall()]


async def _project_types(conn: psycopg.AsyncConnection[Any], project_id: UUID) -> list[str]:
    async with conn.cursor() as cursor:
        await cursor.execute(_PROJECT_TYPES, {"project": project_id})
        return [_first(row) for row in await cursor.fetchall()]


async def _count(conn: psycopg.AsyncConnection[Any], project_id: UUID, types: list[str], cutoff: datetime) -> int:
    async with conn.cursor() as cursor:
        await cursor.execute("SELECT count(*) FROM resource WHERE project_id = %s AND resource_type = ANY(%s)"
                             " AND NOT deleted AND last_updated <= %s", [project_id, types, cutoff])
        row = await cursor.fetchone()
    return int(_first(row)) if row else 0


def _first(row: Any) -> Any:
    # Pool connections return dicts (database.open_pool); a plain connection returns tuples.
    return next(iter(row.values())) if isinstance(row, dict) else row[0]
