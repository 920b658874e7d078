"""vread: GET [base]/[type]/[id]/_history/[vid] (https://hl7.org/fhir/R4/http.html#vread)."""

from __future__ import annotations

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.interactions.read import subsetted_response
from fireside.api.services import Services
from fireside.fhir.errors import FhirError


async def vread(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type and request.id and request.version_id is not None
    name = f"{request.resource_type}/{request.id}/_history/{request.version_id}"
    if not (request.version_id.isascii() and request.version_id.isdigit()) or len(request.version_id) > 18:
        raise FhirError.single("not-found", f"{name} is not known: versions are positive integers")
    stored = await services.store.vread(request.ctx, request.resource_type, request.id, int(request.version_id))
    if stored is None:
        raise FhirError.single("not-found", f"{name} is not known")
    if stored.deleted:
        raise FhirError([*FhirError.single("deleted", f"{name} is a deletion").issues],
                        headers={"ETag": stored.etag})
    return subsetted_response(request, services, stored)
