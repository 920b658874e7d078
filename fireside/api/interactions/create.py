"""create: POST [base]/[type] (https://hl7.org/fhir/R4/http.html#create), with conditional
create through If-None-Exist (https://hl7.org/fhir/R4/http.html#ccreate)."""

from __future__ import annotations

from typing import Any

from fireside.api.conditional import find_matches
from fireside.api.context import FhirRequest, FhirResponse, resource_response, write_unit, written_response
from fireside.api.services import Services
from fireside.fhir.errors import FhirError
from fireside.store import new_resource_id


async def create(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type
    resource = request.resource_body(request.resource_type)
    condition = request.header("if-none-exist")
    if condition:
        matches = await find_matches(request, services, request.resource_type, condition)
        if len(matches) == 1:
            return resource_response(matches[0], status=200)
        if len(matches) > 1:
            raise FhirError.single(
                "multiple-matches", f"If-None-Exist {condition!r} matched {len(matches)} resources", status=412
            )
    return await create_resource(request, services, resource, request.assigned_id or new_resource_id())


async def create_resource(
    request: FhirRequest, services: Services, resource: dict[str, Any], resource_id: str
) -> FhirResponse:
    """Store `resource` as version 1 of `resource_id` (the spec: a create ignores any client id)."""
    resource = {key: value for key, value in resource.items() if key != "id"}
    services.check_resource(resource, request.body_path)
    async with write_unit(request, services) as unit:
        stored = unit.stage_put(resource, resource_id, None)
    return written_response(request, stored, status=201)
