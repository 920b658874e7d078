"""Compartments (https://hl7.org/fhir/R4/compartmentdefinition.html) as search criteria.

A resource of type T is in the compartment of Patient/1 when any of the parameters the Patient
CompartmentDefinition lists for T refers to Patient/1 (an Observation: `subject` or
`performer`). The Patient resource itself is in its own compartment. Compartment search
(`GET Patient/1/Observation`, https://hl7.org/fhir/R4/http.html#vsearch) adds this to the
request's criteria; an access policy limited to a compartment can add the same.
"""

from __future__ import annotations

import logging

from fireside.fhir.errors import FhirError
from fireside.search.request import AnyOf, Criterion
from fireside.store.indexing import IndexedParameter, SearchParameterRegistry

log = logging.getLogger(__name__)

# CompartmentDefinition.resource.param for "the compartment's own resource" (Encounter, ...).
_ITSELF = "{def}"


def compartment_criteria(
    registry: SearchParameterRegistry, compartment_type: str, compartment_id: str, resource_type: str
) -> AnyOf:
    """The criteria, any of which puts a `resource_type` in the compartment of
    `compartment_type/compartment_id`. A type outside the compartment is a 400, an unknown
    compartment a 404."""
    reference = f"{compartment_type}/{compartment_id}"
    criteria = [
        Criterion(parameter.code, parameter.code, None, (reference,), parameter)
        for parameter in compartment_parameters(registry, compartment_type, resource_type)
    ]
    if resource_type == compartment_type:
        identity = registry.parameter(resource_type, "_id")
        assert identity is not None  # every resource type has _id
        criteria.append(Criterion("_id", "_id", None, (compartment_id,), identity))
    if not criteria:
        raise FhirError.single("invalid", f"{resource_type} is not in the {compartment_type} compartment")
    return AnyOf(tuple(criteria))


def compartment_parameters(
    registry: SearchParameterRegistry, compartment_type: str, resource_type: str
) -> tuple[IndexedParameter, ...]:
    """The reference parameters of `resource_type` that link it to a `compartment_type`
    compartment, as the CompartmentDefinition lists them."""
    definition = registry.definitions.compartment(compartment_type)
    if definition is None:
        raise FhirError.single("not-found", f"There is no {compartment_type} compartment", status=404)
    codes: list[str] = next((entry.get("param", []) for entry in definition.get("resource", [])
                  if entry.get("code") == resource_type), [])
    parameters: list[IndexedParameter] = []
    for code in codes:
        parameter = registry.parameter(resource_type, code) if code != _ITSELF else None
        if parameter is not None and parameter.type == "reference":
            parameters.append(parameter)
        elif code != _ITSELF:
            log.debug("%s compartment: %s %s is not a searchable reference", compartment_type, resource_type, code)
    return tuple(parameters)
