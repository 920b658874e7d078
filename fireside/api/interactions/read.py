"""read: GET [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#read)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from fireside.api.context import (
    FhirRequest,
    FhirResponse,
    parse_version_etag,
    read_current,
    resource_response,
    version_headers,
)
from fireside.api.services import Services
from fireside.fhir.errors import FhirError
from fireside.fhir.summary import parse_subset, subset_resource
from fireside.store import StoredResource


async def read(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type and request.id
    stored = await current_version(request, services, request.resource_type, request.id)
    if _not_modified(request, stored):
        return FhirResponse(status=304, headers={"ETag": stored.etag})
    return subsetted_response(request, services, stored)


async def current_version(
    request: FhirRequest, services: Services, resource_type: str, resource_id: str
) -> StoredResource:
    """The live version, or 404 (never existed in this project) / 410 (deleted)."""
    stored = await read_current(request, services, resource_type, resource_id)
    if stored is None:
        raise FhirError.single("not-found", f"{resource_type}/{resource_id} is not known")
    if stored.deleted:
        raise FhirError(
            [*FhirError.single("deleted", f"{resource_type}/{resource_id} was deleted").issues],
            headers={"ETag": stored.etag},
        )
    return stored


def subsetted_response(request: FhirRequest, services: Services, stored: StoredResource) -> FhirResponse:
    """The resource, cut down by `_summary` and `_elements` when asked (read and vread take them
    too: https://hl7.org/fhir/R4/search.html#summary); else its stored JSON as it is."""
    summary = request.param("_summary")
    if summary not in (None, "", "true", "false", "text", "data"):
        why = "is only for search" if summary == "count" else "is not true, false, text or data"
        raise FhirError.single("invalid", f"Parameter _summary: {summary!r} {why}")
    subset = parse_subset(summary, [value for key, value in request.query if key == "_elements"])
    if subset.whole:
        return resource_response(stored)
    resource = subset_resource(services.definitions, stored.resource(), subset)
    return FhirResponse(resource=resource, headers=version_headers(stored), stored=stored)


def _not_modified(request: FhirRequest, stored: StoredResource) -> bool:
    """If-None-Match / If-Modified-Since: the client's copy is still current (spec: 304)."""
    if_none_match = request.header("if-none-match")
    if if_none_match:
        try:
            return parse_version_etag(if_none_match, "If-None-Match") == stored.version_id
        except FhirError:
            return False
    if_modified_since = request.header("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return stored.last_updated.replace(microsecond=0) <= since
    return False
