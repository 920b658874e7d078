"""The audit hook every FHIR interaction passes through (the dispatcher wraps each request and each
Bundle entry in `audit_interaction`): what was asked, by whom, from where, and how it ended.

AuditEvents themselves are not audited when written, or every audit write would beget another;
reading or searching them is audited like any other read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.services import Services
from fireside.auth.audit import AuditRecord
from fireside.fhir.errors import FhirError

if TYPE_CHECKING:
    from fireside.api.dispatch import ParsedPath
    from fireside.api.routes import Interaction, Operation

_UNAUDITED = frozenset({"capabilities"})


@dataclass
class InteractionAudit:
    """Filled in by the dispatcher as it learns the route, then recorded once."""

    request: FhirRequest
    parsed: ParsedPath | None = None
    entry: Interaction | Operation | None = None
    response: FhirResponse | None = None


@contextmanager
def audit_interaction(request: FhirRequest, services: Services) -> Iterator[InteractionAudit]:
    audit = InteractionAudit(request)
    try:
        yield audit
    except FhirError as error:
        _record(audit, services, error.http_status)
        raise
    except Exception:
        _record(audit, services, 500)
        raise
    _record(audit, services, audit.response.status if audit.response else 200)


def _record(audit: InteractionAudit, services: Services, status: int) -> None:
    request, parsed, entry = audit.request, audit.parsed, audit.entry
    if request.ctx is None or parsed is None or entry is None or entry.code in _UNAUDITED:
        return
    if entry.changes_state and parsed.resource_type == "AuditEvent":
        return
    operation = getattr(entry, "definition_url", None) is not None
    services.audit.record(AuditRecord(
        project_id=request.ctx.project_id,
        action="operation" if operation else _interaction_code(entry.code, request),
        status=status,
        agent=request.ctx.author,
        client_id=request.ctx.client_id or None,
        source_address=request.source_address,
        entity=_entity(parsed, audit.response),
        entity_type=parsed.compartment_type or parsed.resource_type,
        query=_query(request, parsed),
        operation=f"${entry.code}" if operation else None,
    ))


def _interaction_code(code: str, request: FhirRequest) -> str:
    # One route line serves both Bundle types (routes.py); Bundle.type says which this was.
    if code == "transaction":
        try:
            body = request.json_body()
        except FhirError:
            return code
        if isinstance(body, dict) and body.get("type") == "batch":
            return "batch"
    return code


def _entity(parsed: ParsedPath, response: FhirResponse | None) -> str | None:
    if parsed.resource_type and parsed.id:
        reference = f"{parsed.resource_type}/{parsed.id}"
        return f"{reference}/_history/{parsed.version_id}" if parsed.version_id else reference
    if response is not None and response.stored is not None:
        # A create or a conditional write: the resource it touched.
        return f"{response.stored.resource_type}/{response.stored.id}"
    return None


def _query(request: FhirRequest, parsed: ParsedPath) -> str | None:
    query = urlencode(request.query)
    if parsed.suffix == "_search" and request.body:
        # POST [type]/_search carries its parameters as a form body.
        form = request.body.decode("utf-8", "replace")
        query = f"{query}&{form}" if query else form
    return query or None
