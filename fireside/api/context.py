"""The request and response shapes every interaction handler works with.

Handlers see a `FhirRequest` (already authenticated, path parsed) and return a `FhirResponse`.
The same handlers serve HTTP requests and the entries of batch and transaction Bundles.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import orjson

from fireside.fhir.errors import FhirError, invalid
from fireside.store import AccessContext, StoredResource, StoreTransaction

if TYPE_CHECKING:
    from fireside.api.services import Services


@dataclass
class FhirRequest:
    method: str
    ctx: AccessContext
    base_url: str  # the FHIR base, e.g. http://localhost:8103/fhir/R4
    resource_type: str | None = None
    id: str | None = None
    version_id: str | None = None
    operation: str | None = None  # without the '$'
    compartment_type: str | None = None  # Patient/123/Observation: "Observation"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    # Set inside a transaction Bundle: every entry writes through this one unit of work.
    unit: StoreTransaction | None = None
    # Where this request sits, for error paths: "Bundle.entry[3].resource" inside a Bundle.
    body_path: str | None = None
    # The id a transaction already gave this create, so other entries could refer to it.
    assigned_id: str | None = None
    # The client's IP address, for the AuditEvent (Bundle entries inherit the Bundle's).
    source_address: str | None = None
    _parsed: Any = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def preference(self, name: str) -> str | None:
        """One preference of the Prefer header (RFC 7240: `return=minimal, handling=strict`)."""
        for part in re.split(r"[,;]", self.header("prefer") or ""):
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == name:
                return value.strip().strip('"')
        return None

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)

    def json_body(self) -> Any:
        if self._parsed is None:
            if not self.body.strip():
                raise invalid("The request body is empty; a JSON resource is required")
            try:
                self._parsed = orjson.loads(self.body)
            except orjson.JSONDecodeError as error:
                raise invalid(f"The request body is not valid JSON: {error}") from error
        return self._parsed

    def resource_body(self, expected_type: str | None = None) -> dict[str, Any]:
        """The body as a resource, checked to be an object of the expected resourceType."""
        body = self.json_body()
        root = self.body_path or (expected_type or "Resource")
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object (a FHIR resource)", root)
        resource_type = body.get("resourceType")
        if not isinstance(resource_type, str):
            raise invalid("The resource has no resourceType", f"{root}.resourceType" if self.body_path else None)
        if expected_type and resource_type != expected_type:
            raise invalid(
                f"The resourceType {resource_type!r} does not match the URL's type {expected_type!r}",
                f"{self.body_path}.resourceType" if self.body_path else f"{resource_type}.resourceType",
            )
        return body


@dataclass
class FhirResponse:
    status: int = 200
    resource: dict[str, Any] | None = None
    # Already-serialized JSON (a stored resource's content), served without re-encoding.
    raw: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stored: StoredResource | None = None

    def body_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode()
        if self.resource is not None:
            return orjson.dumps(self.resource)
        return b""

    def json(self) -> dict[str, Any] | None:
        if self.resource is not None:
            return self.resource
        if self.raw is not None:
            parsed: dict[str, Any] = orjson.loads(self.raw)
            return parsed
        return None


Handler = Callable[[FhirRequest, "Services"], Awaitable[FhirResponse]]


def version_headers(stored: StoredResource) -> dict[str, str]:
    return {
        "ETag": stored.etag,
        "Last-Modified": format_datetime(stored.last_updated.astimezone(UTC), usegmt=True),
    }


def location(request: FhirRequest, stored: StoredResource) -> str:
    return f"{request.base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version_id}"


def resource_response(stored: StoredResource, status: int = 200) -> FhirResponse:
    return FhirResponse(status=status, raw=stored.content, headers=version_headers(stored), stored=stored)


def written_response(request: FhirRequest, stored: StoredResource, status: int) -> FhirResponse:
    """The answer to a create or update, shaped by `Prefer: return=...` (default representation)."""
    headers = version_headers(stored) | {"Location": location(request, stored)}
    prefer = request.preference("return") or "representation"
    if prefer == "minimal":
        return FhirResponse(status=status, headers=headers, stored=stored)
    if prefer == "OperationOutcome":
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "informational",
                       "diagnostics": f"{stored.resource_type}/{stored.id} saved as version {stored.version_id}"}],
        }
        return FhirResponse(status=status, resource=outcome, headers=headers, stored=stored)
    content = stored.content
    if request.ctx.policy is not None and content is not None:
        # What the caller wrote comes back without the fields its access policy hides.
        content = request.ctx.policy.redact(stored.resource_type, content)
    return FhirResponse(status=status, raw=content, headers=headers, stored=stored)


async def read_current(
    request: FhirRequest, services: Services, resource_type: str, resource_id: str
) -> StoredResource | None:
    """The current version (deletion markers included): through the Bundle's unit of work when
    inside a transaction, so entries see each other's staged writes, else from the store."""
    if request.unit is not None:
        return await request.unit.read_visible(resource_type, resource_id)
    return await services.store.read(request.ctx, resource_type, resource_id)


@asynccontextmanager
async def write_unit(request: FhirRequest, services: Services) -> AsyncIterator[StoreTransaction]:
    """The transaction to write in: the Bundle's, or a new one committed on exit."""
    if request.unit is not None:
        yield request.unit
        return
    async with services.store.transaction(request.ctx) as unit:
        yield unit


def parse_version_etag(value: str, header: str) -> int:
    """`W/"3"` (or `"3"`, or `3`) as the integer version it names."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise FhirError.single("invalid", f"{header} must name a version, like W/\"3\"; got {value!r}")
    return int(text)
