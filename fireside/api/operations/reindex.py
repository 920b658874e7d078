"""$reindex: POST [base]/$reindex (every type of the project) or POST [base]/[type]/$reindex, with
an optional `searchParameter` (canonical URL or code). R4 core defines no such operation; its
Fireside OperationDefinition is in fireside-operations.json.

It starts a job and answers at once, following the asynchronous request pattern
(https://hl7.org/fhir/R4/async.html): 202 Accepted, with Content-Location at `$job-status`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any
from uuid import UUID

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.operations.parameters import read_operation_input
from fireside.api.services import Services
from fireside.fhir.errors import FhirError
from fireside.jobs import REINDEX, reindex_parameters

REINDEX_URL = "https://fireside.health/fhir/OperationDefinition/reindex"


@cache
def fireside_operation(code: str) -> dict[str, Any]:
    """One of Fireside's own OperationDefinitions (the operations R4 core does not define)."""
    text = resources.files("fireside.api.operations").joinpath("fireside-operations.json").read_text("utf-8")
    definition: dict[str, Any] = next(d for d in json.loads(text) if d["code"] == code)
    return definition


def job_status_url(request: FhirRequest, job_id: UUID) -> str:
    return f"{request.base_url}/$job-status?id={job_id}"


async def reindex(request: FhirRequest, services: Services) -> FhirResponse:
    if request.method != "POST":
        # operations.html: an operation that changes state is invoked with POST only.
        raise FhirError.single("not-supported", "$reindex changes state: invoke it with POST", status=405)
    inputs = read_operation_input(request, fireside_operation("reindex"))
    if services.jobs is None:
        raise FhirError.single("not-supported", "This server runs no job queue", status=501)
    registry = await services.search.registry.for_project(services.store.pool, request.ctx.project_id)
    parameters = reindex_parameters(registry, request.resource_type, inputs.one("searchParameter"))
    status = await services.jobs.enqueue(services.store.pool, request.ctx.project_id, REINDEX, parameters)
    what = request.resource_type or "every resource type"
    outcome = {"resourceType": "OperationOutcome", "issue": [{
        "severity": "information", "code": "informational",
        "diagnostics": f"Reindexing {what}: follow the job at its Content-Location"}]}
    return FhirResponse(status=202, resource=outcome, headers={"Content-Location": job_status_url(request, status.id)})
