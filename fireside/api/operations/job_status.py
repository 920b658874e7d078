"""$job-status: GET or DELETE [base]/$job-status?id=[job], the status endpoint of the asynchronous
request pattern (https://hl7.org/fhir/R4/async.html) for jobs such as $reindex.

GET answers 202 with `X-Progress: n of m resources` while the job is queued or running, and 200
with its result (an OperationOutcome) when it is done; a failed job answers 500 with what went
wrong. DELETE cancels the job (202). A job is visible only to the project that started it; any
other id is a 404.
"""

from __future__ import annotations

from uuid import UUID

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.operations.parameters import read_operation_input
from fireside.api.operations.reindex import fireside_operation
from fireside.api.services import Services
from fireside.fhir.errors import FhirError, invalid
from fireside.jobs import JobStatus, read_status

JOB_STATUS_URL = "https://fireside.health/fhir/OperationDefinition/job-status"
# How soon to poll again, in seconds (async.html: the server may send Retry-After).
RETRY_AFTER = "2"


async def job_status(request: FhirRequest, services: Services) -> FhirResponse:
    if request.method not in ("GET", "DELETE"):
        raise FhirError.single("not-supported", "$job-status answers GET and DELETE", status=405)
    inputs = read_operation_input(request, fireside_operation("job-status"))
    job_id = _job_id(inputs.one("id"))
    pool, project_id = services.store.pool, request.ctx.project_id
    if request.method == "DELETE":
        if services.jobs is None:
            raise FhirError.single("not-supported", "This server runs no job queue", status=501)
        status = await services.jobs.cancel(pool, project_id, job_id)
        if status is None:
            raise _not_found(job_id)
        return FhirResponse(status=202, resource=_outcome("information", "informational",
                                                          f"Job {job_id} is {status.state}"))
    status = await read_status(pool, project_id, job_id)
    if status is None:
        raise _not_found(job_id)
    return _answer(status)


def _answer(status: JobStatus) -> FhirResponse:
    if status.state in ("queued", "running"):
        return FhirResponse(status=202, headers={"X-Progress": status.progress, "Retry-After": RETRY_AFTER})
    if status.state == "cancelled":
        raise FhirError.single("not-found", f"Job {status.id} was cancelled")
    headers = {"X-Progress": status.progress}
    result = status.result or _outcome("information", "informational", f"Job {status.id} is {status.state}")
    return FhirResponse(status=200 if status.state == "completed" else 500, resource=result, headers=headers)


def _job_id(value: object) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise invalid(f"$job-status: {value!r} is not a job id") from None


def _not_found(job_id: UUID) -> FhirError:
    return FhirError.single("not-found", f"There is no job {job_id} in this project")


def _outcome(severity: str, code: str, message: str) -> dict[str, object]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": message}]}
