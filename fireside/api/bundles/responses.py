"""The entries of a batch-response or transaction-response Bundle, and errors that name the
entry they came from (https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.response)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson

from fireside.api.bundles.entries import BundleEntry
from fireside.api.context import FhirResponse
from fireside.fhir.errors import FhirError, Issue
from fireside.store import format_instant


def entry_response(response: FhirResponse, base_url: str, head: bool = False) -> dict[str, Any]:
    """A handler's response as Bundle.entry.response (and the resource, unless `head`)."""
    stored = response.stored
    result: dict[str, Any] = {"status": status_line(response.status)}
    if stored is not None and "Location" in response.headers:
        result["location"] = f"{stored.resource_type}/{stored.id}/_history/{stored.version_id}"
    if "ETag" in response.headers:
        result["etag"] = response.headers["ETag"]
    if stored is not None:
        result["lastModified"] = format_instant(stored.last_updated)
    entry: dict[str, Any] = {}
    if stored is not None and not stored.deleted:
        entry["fullUrl"] = f"{base_url}/{stored.reference}"
    if not head:
        if response.raw is not None:
            # Stored JSON goes into the Bundle as it is: no parse and re-encode per entry.
            entry["resource"] = orjson.Fragment(response.raw)
        elif response.resource is not None:
            if response.resource.get("resourceType") == "OperationOutcome":
                result["outcome"] = response.resource
            else:
                entry["resource"] = response.resource
    entry["response"] = result
    return entry


def error_entry(error: FhirError) -> dict[str, Any]:
    return {"response": {"status": status_line(error.http_status), "outcome": error.outcome()}}


def located(error: FhirError, entry: BundleEntry, expression: str | None = None) -> FhirError:
    """The error, with issues that lack a path pointed at the failing entry (or `expression`)."""
    where = expression or entry.location
    issues = [
        issue if issue.expression and _within(issue.expression, entry.location)
        else Issue(issue.code, f"{entry.location}: {issue.diagnostics}", issue.expression or where,
                   issue.severity)
        for issue in error.issues
    ]
    # The entry's own headers (an ETag of a deleted resource...) do not describe the Bundle's response.
    return FhirError(issues, status=error.http_status)


def _within(expression: str, location: str) -> bool:
    return expression == location or expression.startswith((f"{location}.", f"{location}["))


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
