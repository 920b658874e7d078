"""Background jobs on PostgreSQL (procrastinate): the queue, the worker, and the jobs ($reindex)
whose progress clients follow through `job_status` (https://hl7.org/fhir/R4/async.html)."""

from fireside.jobs.queue import QUEUE, JobQueue, build_app
from fireside.jobs.reindex import KIND as REINDEX
from fireside.jobs.reindex import ReindexServices, reindex_parameters, run_reindex
from fireside.jobs.status import JobStatus, read_status
from fireside.jobs.worker import WorkerOptions, recover_stalled_jobs, run_worker, worker_enabled

__all__ = [
    "QUEUE",
    "REINDEX",
    "JobQueue",
    "JobStatus",
    "ReindexServices",
    "WorkerOptions",
    "build_app",
    "read_status",
    "recover_stalled_jobs",
    "reindex_parameters",
    "run_reindex",
    "run_worker",
    "worker_enabled",
]
