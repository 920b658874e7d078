"""capabilities: GET [base]/metadata (https://hl7.org/fhir/R4/http.html#capabilities).

Generated from the route table and the loaded definitions, so it claims only what is wired.
"""

from __future__ import annotations

from typing import Any

from fireside import __version__
from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.services import Services


async def capabilities(request: FhirRequest, services: Services) -> FhirResponse:
    return FhirResponse(resource=capability_statement(services, request.base_url))


def capability_statement(services: Services, base_url: str) -> dict[str, Any]:
    return {**_static_statement(services), "implementation": {"description": "Fireside", "url": base_url}}


def _build_static_statement(services: Services) -> dict[str, Any]:
    from fireside.api.routes import INTERACTIONS, OPERATIONS

    type_interactions = sorted({i.code for i in INTERACTIONS if i.level != "system"})
    system_interactions = sorted({i.code for i in INTERACTIONS if i.level == "system"})
    conditional = {i.code for i in INTERACTIONS if i.conditional}
    search_parameters = {
        resource_type: [
            # Only what search can answer: composite and special parameters are left out.
            {"name": p.code, "definition": p.definition.url, "type": p.type}
            for p in sorted(services.search.registry.for_type(resource_type).values(), key=lambda p: p.code)
        ]
        for resource_type in services.definitions.resource_types
    }
    resources = [
        {
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": [{"code": code} for code in type_interactions],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": "update" in conditional,
            "conditionalDelete": "multiple" if "delete" in conditional else "not-supported",
            "referencePolicy": ["literal", "logical", "local"],
            "searchParam": search_parameters.get(resource_type, []) if "search-type" in type_interactions else [],
            "operation": [
                {"name": o.code, "definition": o.definition_url}
                for o in OPERATIONS
                if not o.resource_types or resource_type in o.resource_types
            ],
        }
        for resource_type in services.definitions.resource_types
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "publisher": "Fireside",
        "kind": "instance",
        "software": {"name": "Fireside", "version": __version__},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": True,
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                             "code": "SMART-on-FHIR"}]}],
                },
                "resource": resources,
                "interaction": [{"code": code} for code in system_interactions],
                "operation": [
                    {"name": o.code, "definition": o.definition_url} for o in OPERATIONS if "system" in o.levels
                ],
            }
        ],
    }


# Built once per set of definitions: the statement only changes with the code and definitions.
_STATEMENTS: dict[int, dict[str, Any]] = {}


def _static_statement(services: Services) -> dict[str, Any]:
    key = id(services.definitions)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _build_static_statement(services)
    return _STATEMENTS[key]
