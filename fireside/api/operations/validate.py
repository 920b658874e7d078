"""$validate: check a resource without storing it (https://hl7.org/fhir/R4/resource-operation-validate.html).

Answers 200 with an OperationOutcome whether or not the resource is valid; a 4xx means the
validation itself could not be done (no resource, wrong type).
"""

from __future__ import annotations

from typing import Any

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.interactions.read import current_version
from fireside.api.operations.parameters import operation_definition, read_operation_input
from fireside.api.services import Services
from fireside.fhir.errors import Issue, invalid, operation_outcome

MODES = ("create", "update", "delete", "profile")


async def validate(request: FhirRequest, services: Services) -> FhirResponse:
    definition = operation_definition(services.definitions, "validate", request.resource_type)
    inputs = read_operation_input(request, definition)
    mode = inputs.one("mode")
    if mode is not None and mode not in MODES:
        raise invalid(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "delete":
        if request.id is None:
            raise invalid("mode=delete validates a stored resource: call it on [type]/[id]/$validate")
        await current_version(request, services, request.resource_type or "", request.id)
        return FhirResponse(resource=_outcome_of([]))
    resource = inputs.one("resource")
    if resource is None and request.id is not None:
        resource = (await current_version(request, services, request.resource_type or "", request.id)).resource()
    if not isinstance(resource, dict):
        raise invalid("$validate needs the resource to check (the body, or a 'resource' parameter)")
    if request.resource_type and resource.get("resourceType") != request.resource_type:
        raise invalid(f"The resource is a {resource.get('resourceType')!r}, not a {request.resource_type!r}",
                      "resourceType")
    if mode == "update" and request.id is not None and resource.get("id") != request.id:
        raise invalid("In update mode the resource id must match the URL's id", f"{resource['resourceType']}.id")
    profile = inputs.one("profile")
    issues = services.validator.validate(resource, [profile] if profile else [])
    return FhirResponse(resource=_outcome_of(issues))


def _outcome_of(issues: list[Issue]) -> dict[str, Any]:
    if not issues:
        return {"resourceType": "OperationOutcome",
                "issue": [{"severity": "information", "code": "informational", "diagnostics": "No issues found"}]}
    return operation_outcome(issues)
