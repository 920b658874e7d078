"""transaction: every entry or none, in one database transaction
(https://hl7.org/fhir/R4/http.html#transaction).

Entries share one `StoreTransaction`: handlers stage their writes in it, and it writes them all
in one flush at commit. If anything fails, or the process dies half-way, PostgreSQL rolls the
whole transaction back and nothing of it is ever visible.
"""

from __future__ import annotations

from typing import Any

from fireside.api.bundles.entries import PROCESSING_ORDER, BundleEntry, read_entry
from fireside.api.bundles.plan import plan_transaction
from fireside.api.bundles.responses import entry_response, located
from fireside.api.conditional import Criteria, find_matches
from fireside.api.context import FhirRequest, location, resource_response
from fireside.api.services import Services
from fireside.fhir.errors import FhirError
from fireside.store import StoredResource


async def run_transaction(request: FhirRequest, services: Services, raw_entries: list[Any]) -> list[Any]:
    # Entries go back through the dispatcher, whose route table holds the Bundle handler itself.
    from fireside.api.dispatch import dispatch

    entries = [read_entry(index, raw, request.base_url, services) for index, raw in enumerate(raw_entries)]
    responses: list[Any] = [None] * len(entries)
    async with services.store.transaction(request.ctx) as unit:

        async def find(entry: BundleEntry, resource_type: str, criteria: Criteria) -> list[StoredResource]:
            return await find_matches(entry.to_request(request, unit), services, resource_type, criteria)

        plan = await plan_transaction(entries, find)
        targets = plan.targets(entries)
        if targets:
            # One query reads and locks every resource the entries change; handlers then read the cache.
            await unit.current(targets)
        flushed = False
        for entry in sorted(entries, key=lambda e: (PROCESSING_ORDER[e.method], e.index)):
            existing = plan.existing.get(entry.index)
            if existing is not None:
                # A conditional create that found its match: 200 and the match, as over HTTP.
                response = resource_response(existing)
                response.headers["Location"] = location(request, existing)
                responses[entry.index] = entry_response(response, request.base_url)
                continue
            if not entry.changes_state and not flushed:
                # Reads and searches run last (the spec's order) and must see this transaction's writes.
                await unit.flush()
                flushed = True
            entry_request = entry.to_request(request, unit)
            entry_request.assigned_id = plan.assigned_ids.get(entry.index)
            try:
                response = await dispatch(entry_request, entry.path, services)
            except FhirError as error:
                raise located(error, entry) from None
            responses[entry.index] = entry_response(response, request.base_url, head=entry.method == "HEAD")
    return responses
