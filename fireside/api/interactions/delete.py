"""delete: DELETE [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#delete), and conditional
delete by search criteria (https://hl7.org/fhir/R4/http.html#cdelete).

History is kept: a delete adds a version with no content, and a later read answers 410.
"""

from __future__ import annotations

from fireside.api.conditional import find_matches
from fireside.api.context import FhirRequest, FhirResponse, parse_version_etag, write_unit
from fireside.api.services import Services
from fireside.fhir.errors import FhirError

# The spec lets a server refuse a conditional delete that matches many; beyond this we do.
MAX_CONDITIONAL_DELETE = 100


async def delete(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type and request.id
    if_match = request.header("if-match")
    async with write_unit(request, services) as unit:
        previous = await unit.read(request.resource_type, request.id)
        if if_match is not None and (previous is None or previous.version_id != parse_version_etag(
                if_match, "If-Match")):
            raise FhirError.single("conflict", f"If-Match {if_match} does not match the current version",
                                   status=412)
        if previous is None or previous.deleted:
            # Deleting what is absent succeeds (the spec: delete is idempotent).
            return FhirResponse(status=204)
        stored = unit.stage_delete(previous)
    return FhirResponse(status=204, headers={"ETag": stored.etag})


async def conditional_delete(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type
    matches = await find_matches(request, services, request.resource_type, request.query,
                                 limit=MAX_CONDITIONAL_DELETE + 1)
    if len(matches) > MAX_CONDITIONAL_DELETE:
        raise FhirError.single("too-costly", f"The criteria matched over {MAX_CONDITIONAL_DELETE} resources",
                               status=412)
    async with write_unit(request, services) as unit:
        current = await unit.current([m.key for m in matches])
        for stored in current.values():
            if not stored.deleted:
                unit.stage_delete(stored)
    return FhirResponse(status=204)
