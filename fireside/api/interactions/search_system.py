"""search-system: GET [base]?params (https://hl7.org/fhir/R4/http.html#search), across the
types `_type` lists or every type of the project (fireside/search/system.py), answered with
the same searchset Bundle as a type-level search."""

from __future__ import annotations

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.interactions.search import searchset
from fireside.api.services import Services


async def search_system(request: FhirRequest, services: Services) -> FhirResponse:
    params = list(request.query)
    strict = request.preference("handling") == "strict"
    result = await services.search.search_system(request.ctx, params, base_url=request.base_url, strict=strict)
    return FhirResponse(resource=searchset(request, result, params, services.definitions))
