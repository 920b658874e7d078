"""search: GET [base]/[type]?params and POST [base]/[type]/_search
(https://hl7.org/fhir/R4/http.html#search), answered with a searchset Bundle."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.services import Services
from fireside.fhir import FhirDefinitions
from fireside.fhir.summary import Subset, parse_subset, subset_resource
from fireside.search import SearchResult
from fireside.store import StoredResource


async def search_type(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type
    params = list(request.query)
    if request.method == "POST" and request.body:
        params += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    strict = request.preference("handling") == "strict"
    result = await services.search.search(request.ctx, request.resource_type, params,
                                          base_url=request.base_url, strict=strict,
                                          conn=request.unit.conn if request.unit else None)
    return FhirResponse(resource=searchset(request, result, params, services.definitions))


def searchset(
    request: FhirRequest, result: SearchResult, params: list[tuple[str, str]],
    definitions: FhirDefinitions | None = None,
) -> dict[str, Any]:
    # A system search (search_system.py) has no type: its links are on the base itself.
    base = f"{request.base_url}/{request.resource_type}" if request.resource_type else request.base_url
    if request.compartment_type:  # Patient/1/Observation: the links repeat the compartment
        base = f"{base}/{request.id}/{request.compartment_type}"
    kept = [(k, v) for k, v in params if k not in ("_cursor",)]
    # search.html#paging: `first` is the search without a cursor; `next` and `previous` carry
    # keyset cursors (fireside/search/paging.py), present when there is such a page.
    links = [{"relation": "self", "url": _url(base, params)}, {"relation": "first", "url": _url(base, kept)}]
    if result.next_cursor:
        links.append({"relation": "next", "url": _url(base, [*kept, ("_cursor", result.next_cursor)])})
    if result.previous_cursor:
        links.append({"relation": "previous", "url": _url(base, [*kept, ("_cursor", result.previous_cursor)])})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    bundle["link"] = links
    entries: list[dict[str, Any]] = []
    if result.request.summary != "count":
        subset = parse_subset(result.request.summary, [v for k, v in params if k.partition(":")[0] == "_elements"])
        entries = [
            {"fullUrl": f"{request.base_url}/{stored.reference}", "resource": _content(stored, subset, definitions),
             "search": {"mode": "match"}}
            for stored in result.resources
            if stored.content is not None  # search never returns deletions; this tells mypy so
        ]
        # Included resources are whole: _summary and _elements shape the matches (search.html#summary).
        entries.extend(
            {"fullUrl": f"{request.base_url}/{stored.reference}", "resource": orjson.Fragment(stored.content),
             "search": {"mode": "include"}}
            for stored in result.included
            if stored.content is not None
        )
    issues = [
        {"severity": "warning", "code": "not-supported",
         "diagnostics": f"Search parameter {name!r} is not supported here and was ignored"}
        for name in result.ignored
    ]
    issues.extend({"severity": "warning", "code": "incomplete", "diagnostics": warning}
                  for warning in result.include_warnings)
    if issues:
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": issues},
                        "search": {"mode": "outcome"}})
    if entries:
        bundle["entry"] = entries
    return bundle


def _content(stored: StoredResource, subset: Subset, definitions: FhirDefinitions | None) -> Any:
    if subset.whole or definitions is None:
        # The stored JSON goes in as it is: parsing it only to encode it again doubled the cost.
        return orjson.Fragment(stored.content or "")
    return subset_resource(definitions, stored.resource(), subset)


def _url(base: str, params: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(params)}" if params else base
