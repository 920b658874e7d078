"""capabilities: GET [base]/metadata (https://hl7.org/fhir/R4/http.html#capabilities).

Generated from the route table and the loaded definitions, so it claims only what is wired.
"""

from __future__ import annotations

from typing import Any

from fireside import __version__
from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.services import Services
from fireside.config import FHIR_BASE_PATH


async def capabilities(request: FhirRequest, services: Services) -> FhirResponse:
    return FhirResponse(resource=capability_statement(services, request.base_url))


def capability_statement(services: Services, base_url: str) -> dict[str, Any]:
    statement = {**_static_statement(services), "implementation": {"description": "Fireside", "url": base_url}}
    return _with_oauth_uris(statement, base_url)


def _with_oauth_uris(statement: dict[str, Any], base_url: str) -> dict[str, Any]:
    """SMART's oauth-uris extension on rest.security (App Launch 1.0, conformance-statement):
    2.x apps read .well-known/smart-configuration, but clients such as fhirclient still look here."""
    server = base_url.removesuffix(FHIR_BASE_PATH)
    endpoints = {"authorize": "authorize", "token": "token", "revoke": "revoke", "introspect": "introspect"}
    extension = {
        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
        "extension": [{"url": name, "valueUri": f"{server}/oauth2/{path}"} for name, path in endpoints.items()],
    }
    rest = dict(statement["rest"][0])
    rest["security"] = {**rest["security"], "extension": [extension]}
    return {**statement, "rest": [rest, *statement["rest"][1:]]}


def _build_static_statement(services: Services) -> dict[str, Any]:
    from fireside.api.routes import INTERACTIONS, OPERATIONS

    # R4 has no interaction code for compartment search: rest.compartment declares it.
    compartment_search = any(i.code == "search-compartment" for i in INTERACTIONS)
    type_interactions = sorted({i.code for i in INTERACTIONS if i.level != "system" and i.code != "search-compartment"})
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
                if o.levels != ("system",) and (not o.resource_types or resource_type in o.resource_types)
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
                **({"compartment": [c["url"] for c in services.definitions.compartments]}
                   if compartment_search else {}),
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
