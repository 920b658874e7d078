"""patch: PATCH [base]/[type]/[id] (https://hl7.org/fhir/R4/http.html#patch), and conditional
patch by search criteria, PATCH [base]/[type]?criteria.

Two patch formats: JSON Patch (RFC 6902) sent as `application/json-patch+json`, and FHIRPath
Patch (https://hl7.org/fhir/R4/fhirpatch.html), a Parameters resource sent as
`application/fhir+json`. Inside a batch or transaction Bundle, where an entry carries a resource
and no Content-Type, a JSON Patch travels as a Binary of that content type (the spec's
convention) and a FHIRPath Patch as the Parameters itself.

The current version is read and locked, patched, and saved through `update_resource`, so a
patch is checked and versioned exactly like an update (If-Match included) and no concurrent
write is lost between the read and the save.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from fireside.api.conditional import find_matches
from fireside.api.context import FhirRequest, FhirResponse, parse_version_etag, write_unit
from fireside.api.interactions.update import update_resource
from fireside.api.services import Services
from fireside.fhir.errors import FhirError, invalid
from fireside.fhir.fhirpath_patch import apply_fhirpath_patch, read_operations
from fireside.fhir.json_patch import apply_json_patch
from fireside.store import StoredResource

JSON_PATCH = "application/json-patch+json"

Patcher = Callable[[dict[str, Any]], Any]


async def patch(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type and request.id
    return await patch_resource(request, services, request.resource_type, request.id)


async def conditional_patch(request: FhirRequest, services: Services) -> FhirResponse:
    """PATCH [base]/[type]?criteria: patch the one match; 404 when none, 412 when several."""
    assert request.resource_type
    patcher = read_patch(request, services)
    matches = await find_matches(request, services, request.resource_type, request.query)
    if not matches:
        raise FhirError.single("not-found", f"The criteria matched no {request.resource_type}")
    if len(matches) > 1:
        raise FhirError.single("multiple-matches", f"The criteria matched {len(matches)} resources; a "
                               "conditional patch needs exactly one", status=412)
    return await patch_resource(request, services, request.resource_type, matches[0].id, patcher)


async def patch_resource(
    request: FhirRequest, services: Services, resource_type: str, resource_id: str, patcher: Patcher | None = None
) -> FhirResponse:
    # The patch document is read before the resource is locked: a malformed one fails at once.
    patcher = patcher or read_patch(request, services)
    if_match = request.header("if-match")
    async with write_unit(request, services) as unit:
        current = await unit.read(resource_type, resource_id)
        if current is None:
            raise FhirError.single("not-found", f"{resource_type}/{resource_id} is not known")
        if current.deleted:
            raise FhirError([*FhirError.single("deleted", f"{resource_type}/{resource_id} was deleted").issues],
                            headers={"ETag": current.etag})
        if if_match is not None and parse_version_etag(if_match, "If-Match") != current.version_id:
            raise FhirError.single(
                "conflict", f"If-Match {if_match} does not match the current version ({current.etag})", status=412
            )
        patched = patcher(current.resource())
        _check_still_the_same_resource(patched, current)
        return await update_resource(replace(request, unit=unit), services, patched, resource_id)


def read_patch(request: FhirRequest, services: Services) -> Patcher:
    """The patch the request carries, checked for form, as a function from resource to result."""
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    body = request.json_body()
    if content_type == JSON_PATCH or isinstance(body, list):
        return _json_patcher(body)
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        read_operations(body)
        return lambda resource: apply_fhirpath_patch(resource, body, services.definitions)
    if isinstance(body, dict) and body.get("resourceType") == "Binary" and body.get("contentType") == JSON_PATCH:
        return _json_patcher(_binary_json(body))
    raise invalid(f"PATCH takes a JSON Patch ({JSON_PATCH}: an array of operations) or a FHIRPath Patch "
                  "(application/fhir+json: a Parameters resource)")


def _json_patcher(document: Any) -> Patcher:
    if not isinstance(document, list):
        raise invalid(f"A {JSON_PATCH} body must be a JSON Patch: an array of operations")
    return lambda resource: apply_json_patch(resource, document)


def _binary_json(binary: dict[str, Any]) -> Any:
    try:
        return orjson.loads(base64.b64decode(str(binary.get("data", "")), validate=True))
    except (binascii.Error, orjson.JSONDecodeError) as error:
        raise invalid(f"Binary.data must be a base64-encoded JSON Patch: {error}", "Binary.data") from None


def _check_still_the_same_resource(patched: Any, current: StoredResource) -> None:
    """The spec's patch changes a resource's content, never which resource it is."""
    if not isinstance(patched, dict):
        raise FhirError.single("processing", "The patch must leave a resource (a JSON object), not "
                               f"{type(patched).__name__}")
    if patched.get("resourceType") != current.resource_type:
        raise invalid(f"A patch may not change resourceType (from {current.resource_type!r})",
                      f"{current.resource_type}.resourceType")
    if patched.get("id") != current.id:
        raise invalid(f"A patch may not change or remove the id ({current.id!r})", f"{current.resource_type}.id")
