"""update: PUT [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#update), including
update-as-create with a client-chosen id and version-aware updates through If-Match."""

from __future__ import annotations

import re

from fireside.api.conditional import find_matches
from fireside.api.context import FhirRequest, FhirResponse, parse_version_etag, write_unit, written_response
from fireside.api.services import Services
from fireside.fhir.errors import FhirError, invalid
from fireside.store import new_resource_id

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


async def update(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type and request.id
    resource = request.resource_body(request.resource_type)
    return await update_resource(request, services, resource, request.id)


async def conditional_update(request: FhirRequest, services: Services) -> FhirResponse:
    """PUT [base]/[type]?criteria: update the one match, create when none, 412 when several."""
    assert request.resource_type
    resource = request.resource_body(request.resource_type)
    matches = await find_matches(request, services, request.resource_type, request.query)
    if len(matches) > 1:
        raise FhirError.single("multiple-matches", f"The criteria matched {len(matches)} resources", status=412)
    if matches:
        target_id = matches[0].id
        if "id" in resource and resource["id"] != target_id:
            raise invalid("The resource id does not match the resource the criteria found",
                          f"{request.resource_type}.id")
    else:
        target_id = resource.get("id") or new_resource_id()
    return await update_resource(request, services, {**resource, "id": target_id}, target_id)


async def update_resource(
    request: FhirRequest, services: Services, resource: dict[str, object], resource_id: str
) -> FhirResponse:
    root = request.body_path or str(resource["resourceType"])
    if "id" not in resource:
        raise invalid("An update must carry the resource's id", f"{root}.id")
    if resource["id"] != resource_id:
        raise invalid(f"The resource id {resource['id']!r} does not match the URL's id {resource_id!r}",
                      f"{root}.id")
    if not isinstance(resource_id, str) or not _ID.match(resource_id):
        raise invalid(f"{resource_id!r} is not a valid FHIR id", f"{root}.id")
    services.check_resource(resource, request.body_path)
    if_match = request.header("if-match")
    async with write_unit(request, services) as unit:
        previous = await unit.read(str(resource["resourceType"]), resource_id)
        if if_match is not None:
            expected = parse_version_etag(if_match, "If-Match")
            if previous is None or previous.version_id != expected:
                current = "none" if previous is None else previous.etag
                raise FhirError.single(
                    "conflict", f"If-Match {if_match} does not match the current version ({current})", status=412
                )
        stored = unit.stage_put(resource, resource_id, previous)
    created = previous is None or previous.deleted
    return written_response(request, stored, status=201 if created else 200)
