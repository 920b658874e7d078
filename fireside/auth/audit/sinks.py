"""Where AuditEvents go: the store (searchable in the caller's project), a JSON log stream, or nowhere.

The store sink never makes a request wait on the audit write: `record` appends to an in-memory
queue, and one background task writes what has queued in one database transaction per batch,
after `flush_seconds` or as soon as `batch_size` events wait. A crash loses at most the events
not yet written (one batch, about `flush_seconds` of traffic); docs/audit.md says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from collections.abc import Sequence
from itertools import groupby
from typing import Protocol
from uuid import UUID

import orjson

from fireside.auth.audit.events import AuditRecord, audit_event
from fireside.store import AccessContext, ResourceStore, StoreTransaction, new_resource_id

log = logging.getLogger(__name__)
# The audit stream: PHI-bearing (queries, who read what), so it does not propagate to the
# application log; deployments route it to its own file or collector.
AUDIT_LOGGER = "fireside.audit"
AUDIT_AUTHOR = "Device/fireside-audit"
SINK_KINDS = ("store", "log", "off")
# Beyond this many unwritten events (the database is down), new ones are dropped and counted
# rather than letting memory grow without bound.
MAX_QUEUED = 100_000


class AuditSink(Protocol):
    def record(self, record: AuditRecord) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class DisabledAuditSink:
    def record(self, record: AuditRecord) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class LogAuditSink:
    """One JSON AuditEvent per line on the `fireside.audit` logger."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(AUDIT_LOGGER)
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        if not self.logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(handler)

    def record(self, record: AuditRecord) -> None:
        self.logger.info(orjson.dumps(audit_event(record)).decode())

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class StoreAuditSink:
    """AuditEvents written to the store in batches by one background task."""

    def __init__(self, store: ResourceStore, batch_size: int = 200, flush_seconds: float = 0.1) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.dropped = 0
        self.failed = 0
        self._queue: deque[AuditRecord] = deque()
        self._waiting = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def record(self, record: AuditRecord) -> None:
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("audit queue full: %d AuditEvents dropped so far", self.dropped)
            return
        self._queue.append(record)
        self._waiting.set()
        if len(self._queue) >= self.batch_size:
            self._full.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fireside-audit-writer")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        self._closing = True
        self._waiting.set()
        self._full.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._waiting.wait()
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.flush_seconds)
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            if len(self._queue) < self.batch_size:
                self._full.clear()
            if not self._queue:
                self._waiting.clear()
            if batch:
                await self._write(batch)
            if self._closing and not self._queue:
                return

    async def _write(self, batch: Sequence[AuditRecord]) -> None:
        try:
            await write_audit_events(self.store, batch)
        except Exception as error:  # the writer must outlive a database outage
            self.failed += len(batch)
            log.error("writing %d AuditEvents failed: %s", len(batch), type(error).__name__)


async def write_audit_events(store: ResourceStore, records: Sequence[AuditRecord]) -> None:
    """One transaction for the batch, one flush (a pipelined insert) per project in it."""
    def project(record: AuditRecord) -> UUID:
        return record.project_id

    async with store.pool.connection() as conn, conn.transaction():
        for project_id, group in groupby(sorted(records, key=project), key=project):
            ctx = AccessContext(project_id=project_id, author=AUDIT_AUTHOR, super_admin=True)
            unit = StoreTransaction(conn, ctx, store.index_writer)
            for record in group:
                unit.stage_put(audit_event(record), new_resource_id(), None)
            await unit.flush()


def open_audit_sink(kind: str, store: ResourceStore, batch_size: int = 200, flush_seconds: float = 0.1) -> AuditSink:
    if kind == "store":
        return StoreAuditSink(store, batch_size, flush_seconds)
    if kind == "log":
        return LogAuditSink()
    if kind == "off":
        return DisabledAuditSink()
    raise ValueError(f"FIRESIDE_AUDIT must be one of {', '.join(SINK_KINDS)}; got {kind!r}")
