"""From a FHIR URL path and method to the handler in the route table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fireside.api.auditing import audit_interaction
from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.routes import Interaction, Level, Operation, find_interaction, find_operation
from fireside.api.services import Services
from fireside.auth import ACCESS_DEFINING_TYPES, check_administrative_write
from fireside.auth.policies import check_interaction
from fireside.fhir.errors import FhirError

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class ParsedPath:
    level: Level
    resource_type: str | None = None
    id: str | None = None
    version_id: str | None = None
    operation: str | None = None
    suffix: str | None = None
    compartment_type: str | None = None


def parse_path(path: str, services: Services) -> ParsedPath:
    """Split `Patient/1/_history/2`-style paths (relative to the FHIR base) into their parts."""
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments:
        return ParsedPath("system")
    first, rest = segments[0], segments[1:]
    if first.startswith("$") and not rest:
        return ParsedPath("system", operation=first[1:])
    if first == "metadata" and not rest:
        return ParsedPath("system", suffix="metadata")
    if first == "_history" and not rest:
        return ParsedPath("system", suffix="_history")
    _check_type(first, services)
    if not rest:
        return ParsedPath("type", first)
    second = rest[0]
    if len(rest) == 1 and second in ("_history", "_search"):
        return ParsedPath("type", first, suffix=second)
    if len(rest) == 1 and second.startswith("$"):
        return ParsedPath("type", first, operation=second[1:])
    _check_id(second)
    if len(rest) == 1:
        return ParsedPath("instance", first, second)
    third = rest[1]
    if len(rest) == 2 and third == "_history":
        return ParsedPath("instance", first, second, suffix="_history")
    if len(rest) == 3 and third == "_history":
        return ParsedPath("version", first, second, version_id=rest[2])
    if len(rest) == 2 and third.startswith("$"):
        return ParsedPath("instance", first, second, operation=third[1:])
    if len(rest) == 2:
        _check_type(third, services)
        return ParsedPath("instance", first, second, compartment_type=third)
    raise FhirError.single("not-found", f"No FHIR endpoint at {path!r}")


def _check_type(name: str, services: Services) -> None:
    if not services.definitions.is_resource_type(name):
        raise FhirError.single("not-supported", f"Unknown resource type {name!r}", status=404)


def _check_id(value: str) -> None:
    if not _ID.match(value):
        raise FhirError.single("invalid", f"{value!r} is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)")


def route(parsed: ParsedPath, method: str) -> Interaction | Operation:
    if parsed.operation is not None:
        operation = find_operation(parsed.operation, parsed.level, parsed.resource_type)
        if operation is None:
            raise FhirError.single("not-supported", f"Operation ${parsed.operation} is not supported here",
                                   status=404 if method in ("GET", "POST") else 405)
        return operation
    suffix = parsed.suffix if parsed.compartment_type is None else "compartment"
    interaction = find_interaction(method, parsed.level, suffix)
    if interaction is None:
        raise FhirError.single("not-supported", f"{method} is not supported at this URL", status=405)
    return interaction


def apply_path(request: FhirRequest, parsed: ParsedPath) -> FhirRequest:
    request.resource_type = parsed.resource_type
    request.id = parsed.id
    request.version_id = parsed.version_id
    request.operation = parsed.operation
    request.compartment_type = parsed.compartment_type
    return request


async def dispatch(request: FhirRequest, path: str, services: Services) -> FhirResponse:
    with audit_interaction(request, services) as audit:
        parsed = audit.parsed = parse_path(path, services)
        entry = audit.entry = route(parsed, request.method)
        if entry.changes_state:
            check_administrative_write(request.ctx, parsed.resource_type)
        if request.ctx is not None:  # scopes and access policies (fireside/auth/policies.py)
            check_interaction(request.ctx, entry.code, parsed.compartment_type or parsed.resource_type,
                              operation=isinstance(entry, Operation), changes_state=entry.changes_state)
        response = audit.response = await entry.handler(apply_path(request, parsed), services)
        if entry.changes_state and parsed.resource_type in ACCESS_DEFINING_TYPES and services.access is not None:
            # A changed membership, policy or client scope applies at once here; the others hear
            # of it when it commits (fireside/auth/changes.py).
            services.access.forget(request.ctx.project_id if request.ctx is not None else None)
    return response
