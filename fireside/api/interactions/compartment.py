"""search-compartment: GET [base]/Patient/1/Observation?params
(https://hl7.org/fhir/R4/http.html#vsearch): a type search limited to the resources in one
resource's compartment (fireside/search/compartments.py), answered with the same searchset
Bundle, its links at the compartment URL."""

from __future__ import annotations

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.interactions.search import searchset
from fireside.api.services import Services
from fireside.search.compartments import compartment_criteria


async def search_compartment(request: FhirRequest, services: Services) -> FhirResponse:
    assert request.resource_type and request.id and request.compartment_type
    params = list(request.query)
    within = compartment_criteria(services.search.registry, request.resource_type, request.id,
                                  request.compartment_type)
    result = await services.search.search(
        request.ctx, request.compartment_type, params, base_url=request.base_url,
        strict=request.preference("handling") == "strict", conn=request.unit.conn if request.unit else None,
        restrictions=[within])
    return FhirResponse(resource=searchset(request, result, params, services.definitions))
