"""search: GET [base]/[type]?params and POST [base]/[type]/_search
(https://hl7.org/fhir/R4/http.html#search), answered with a searchset Bundle."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.services import Services
from fireside.search import SearchResult


async def search_type(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type
    params = list(request.query)
    if request.method == "POST" and request.body:
        params += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    strict = request.preference("handling") == "strict"
    result = await services.search.search(request.ctx, request.resource_type, params,
                                          base_url=request.base_url, strict=strict,
                                          conn=request.unit.conn if request.unit else None)
    return FhirResponse(resource=searchset(request, result, params))


def searchset(request: FhirRequest, result: SearchResult, params: list[tuple[str, str]]) -> dict[str, Any]:
    base = f"{request.base_url}/{request.resource_type}"
    kept = [(k, v) for k, v in params if k not in ("_cursor",)]
    links = [{"relation": "self", "url": _url(base, params)}]
    if result.next_cursor:
        links.append({"relation": "next", "url": _url(base, [*kept, ("_cursor", result.next_cursor)])})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    bundle["link"] = links
    entries: list[dict[str, Any]] = []
    if result.request.summary != "count":
        entries = [
            # The stored JSON goes in as it is: parsing it only to encode it again doubled the cost.
            {"fullUrl": f"{request.base_url}/{stored.reference}", "resource": orjson.Fragment(stored.content),
             "search": {"mode": "match"}}
            for stored in result.resources
            if stored.content is not None  # search never returns deletions; this tells mypy so
        ]
    if result.ignored:
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "code": "not-supported",
             "diagnostics": f"Search parameter {name!r} is not supported here and was ignored"}
            for name in result.ignored
        ]}, "search": {"mode": "outcome"}})
    if entries:
        bundle["entry"] = entries
    return bundle


def _url(base: str, params: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(params)}" if params else base
