"""batch and transaction: POST [base] with a Bundle (https://hl7.org/fhir/R4/http.html#transaction).

Every entry goes through the same route table and handlers as a plain HTTP request. A
transaction shares one `StoreTransaction` across its entries, so it commits as one database
transaction (all or nothing, even if the process dies half-way) and writes in one flush.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fireside.api.bundles.entries import PROCESSING_ORDER, BundleEntry, read_bundle, read_entry
from fireside.api.bundles.references import is_conditional_reference, references_in, rewrite_references
from fireside.api.conditional import find_matches
from fireside.api.context import FhirRequest, FhirResponse, resource_response
from fireside.api.services import Services
from fireside.fhir.errors import FhirError, Issue, invalid
from fireside.store import StoredResource, StoreTransaction, format_instant, new_resource_id

log = logging.getLogger(__name__)


async def batch_or_transaction(request: FhirRequest, services: Services) -> FhirResponse:
    # Entries go back through the dispatcher, whose route table holds this very handler.
    from fireside.api.dispatch import dispatch

    body = request.json_body()
    if not isinstance(body, dict):
        raise invalid("POST to the base URL takes a Bundle of type batch or transaction")
    bundle_type, raw_entries = read_bundle(body)
    entries = [read_entry(index, raw, request.base_url) for index, raw in enumerate(raw_entries)]
    if bundle_type == "batch":
        responses = await _run_batch(request, services, entries, dispatch)
    else:
        responses = await _run_transaction(request, services, entries, dispatch)
    return FhirResponse(resource={
        "resourceType": "Bundle",
        "type": f"{bundle_type}-response",
        "entry": responses,
    })


@dataclass
class TransactionPlan:
    """What a transaction resolved before running: ids for new resources, the targets of
    conditional entries and references, and the resources conditional creates found."""

    references: dict[str, str] = field(default_factory=dict)  # fullUrl or criteria -> "Type/id"
    assigned_ids: dict[int, str] = field(default_factory=dict)
    existing: dict[int, StoredResource] = field(default_factory=dict)


Dispatch = Callable[[FhirRequest, str, Services], Awaitable[FhirResponse]]


async def _run_transaction(request: FhirRequest, services: Services, entries: list[BundleEntry],
                           dispatch: Dispatch) -> list[Any]:
    responses: list[Any] = [None] * len(entries)
    async with services.store.transaction(request.ctx) as unit:
        entry_request = _request_factory(request, unit)
        plan = await _plan(entry_request, services, entries)
        await _lock_targets(unit, entries)
        for entry in sorted(entries, key=lambda e: (PROCESSING_ORDER[e.method], e.index)):
            if entry.index in plan.existing:
                responses[entry.index] = _entry_response(resource_response(plan.existing[entry.index]), request)
                continue
            sub_request = entry_request(entry)
            sub_request.assigned_id = plan.assigned_ids.get(entry.index)
            try:
                response = await dispatch(sub_request, entry.path, services)
            except FhirError as error:
                raise _located(error, entry) from None
            responses[entry.index] = _entry_response(response, request)
    return responses


async def _run_batch(request: FhirRequest, services: Services, entries: list[BundleEntry],
                     dispatch: Dispatch) -> list[Any]:
    """Each entry on its own: one failing does not stop or undo the others."""
    entry_request = _request_factory(request, None)
    responses = []
    for entry in entries:
        try:
            response = await dispatch(entry_request(entry), entry.path, services)
            responses.append(_entry_response(response, request))
        except FhirError as error:
            responses.append(_error_entry(error))
        except Exception as error:
            log.error("batch entry %d failed: %s", entry.index, type(error).__name__)
            responses.append(_error_entry(FhirError.single("exception", "Internal error processing the entry")))
    return responses


def _request_factory(request: FhirRequest, unit: StoreTransaction | None) -> Any:
    prefer = request.header("prefer")

    def entry_request(entry: BundleEntry) -> FhirRequest:
        headers = dict(entry.headers)
        if prefer:
            headers["prefer"] = prefer
        return FhirRequest(
            method=entry.method,
            ctx=request.ctx,
            base_url=request.base_url,
            query=entry.query,
            headers=headers,
            unit=unit,
            body_path=entry.resource_path,
            _parsed=entry.resource,
        )

    return entry_request


async def _plan(entry_request: Any, services: Services, entries: list[BundleEntry]) -> TransactionPlan:
    plan = TransactionPlan()
    for entry in entries:
        await _plan_target(entry_request(entry), services, entry, plan)
    _check_distinct_targets(entries, plan)
    conditional = {ref for e in entries if e.resource for ref in references_in(e.resource)
                   if is_conditional_reference(ref)}
    for criteria in sorted(conditional):
        plan.references[criteria] = await _resolve_reference(entry_request(entries[0]), services, criteria)
    if plan.references:
        for entry in entries:
            if entry.resource is not None:
                entry.resource = rewrite_references(entry.resource, plan.references)
    return plan


async def _plan_target(sub_request: FhirRequest, services: Services, entry: BundleEntry,
                       plan: TransactionPlan) -> None:
    """Decide which resource `entry` writes, so references to its fullUrl can be rewritten."""
    segments = entry.segments
    if entry.method == "POST" and len(segments) == 1:
        condition = entry.headers.pop("if-none-exist", None)
        if condition:
            try:
                matches = await find_matches(sub_request, services, segments[0], condition)
            except FhirError as error:
                raise _located(error, entry) from None
            if len(matches) > 1:
                raise _located(FhirError.single("multiple-matches", f"ifNoneExist {condition!r} matched "
                                                f"{len(matches)} resources", status=412), entry)
            if matches:
                plan.existing[entry.index] = matches[0]
                _map_full_url(plan, entry, matches[0].reference)
                return
        plan.assigned_ids[entry.index] = new_resource_id()
        _map_full_url(plan, entry, f"{segments[0]}/{plan.assigned_ids[entry.index]}")
    elif entry.method == "PUT" and entry.is_conditional:
        try:
            matches = await find_matches(sub_request, services, segments[0], entry.query)
        except FhirError as error:
            raise _located(error, entry) from None
        if len(matches) > 1:
            raise _located(FhirError.single("multiple-matches", "The conditional update matched "
                                            f"{len(matches)} resources", status=412), entry)
        target_id = matches[0].id if matches else new_resource_id()
        entry.path, entry.query = f"{segments[0]}/{target_id}", []
        if entry.resource is not None:
            entry.resource = {**entry.resource, "id": target_id}
        _map_full_url(plan, entry, entry.path)
    elif entry.method == "PUT" and len(segments) == 2:
        _map_full_url(plan, entry, "/".join(segments))


def _map_full_url(plan: TransactionPlan, entry: BundleEntry, reference: str) -> None:
    if entry.full_url:
        plan.references[entry.full_url] = reference


def _check_distinct_targets(entries: list[BundleEntry], plan: TransactionPlan) -> None:
    """The spec: a transaction may not touch the same resource twice (nor repeat a fullUrl)."""
    seen: dict[str, int] = {}
    full_urls: dict[str, int] = {}
    for entry in entries:
        if entry.full_url and entry.method != "GET":
            if entry.full_url in full_urls:
                raise invalid(f"fullUrl {entry.full_url!r} is also used by entry {full_urls[entry.full_url]}",
                              f"{entry.location}.fullUrl")
            full_urls[entry.full_url] = entry.index
        if entry.method in ("GET", "HEAD") or entry.index in plan.existing:
            continue
        target = entry.path if len(entry.segments) == 2 else None
        if target is None:
            continue
        if target in seen:
            raise invalid(f"{target} is the target of entries {seen[target]} and {entry.index}; a transaction "
                          "may change a resource only once", f"{entry.location}.request.url")
        seen[target] = entry.index


async def _resolve_reference(sub_request: FhirRequest, services: Services, criteria: str) -> str:
    resource_type, _, query = criteria.partition("?")
    matches = await find_matches(sub_request, services, resource_type, query)
    if len(matches) != 1:
        found = "no resource" if not matches else "several resources"
        raise FhirError.single("processing", f"The conditional reference {criteria!r} matches {found}; it must "
                               "match exactly one", status=412)
    return matches[0].reference


async def _lock_targets(unit: StoreTransaction, entries: list[BundleEntry]) -> None:
    """Read (and lock) every existing target in one query, so entries don't each round-trip."""
    keys = [(e.segments[0], e.segments[1]) for e in entries
            if e.method in ("PUT", "DELETE", "PATCH") and len(e.segments) == 2]
    if keys:
        await unit.current(keys)


def _located(error: FhirError, entry: BundleEntry) -> FhirError:
    """The error, with issues that lack a path pointed at the failing entry."""
    issues = [
        issue if issue.expression else Issue(issue.code, f"{entry.location}: {issue.diagnostics}",
                                             entry.location, issue.severity)
        for issue in error.issues
    ]
    return FhirError(issues, status=error.http_status, headers=error.headers)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _entry_response(response: FhirResponse, request: FhirRequest) -> dict[str, Any]:
    result: dict[str, Any] = {"status": _status_line(response.status)}
    if "Location" in response.headers:
        result["location"] = response.headers["Location"]
    if "ETag" in response.headers:
        result["etag"] = response.headers["ETag"]
    if response.stored is not None:
        result["lastModified"] = format_instant(response.stored.last_updated)
    entry: dict[str, Any] = {}
    resource = response.json()
    if resource is not None:
        if response.stored is not None and not response.stored.deleted:
            entry["fullUrl"] = f"{request.base_url}/{response.stored.reference}"
        if resource.get("resourceType") == "OperationOutcome" and response.status >= 300:
            result["outcome"] = resource
        else:
            entry["resource"] = resource
    entry["response"] = result
    return entry


def _error_entry(error: FhirError) -> dict[str, Any]:
    return {"response": {"status": _status_line(error.http_status), "outcome": error.outcome()}}
