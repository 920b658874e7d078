"""The FHIR R4 model: definitions, errors, validation."""

from fireside.fhir.definitions import FhirDefinitions, StructureDefinition, load_definitions
from fireside.fhir.errors import FhirError, Issue, operation_outcome

__all__ = ["FhirDefinitions", "FhirError", "Issue", "StructureDefinition", "load_definitions", "operation_outcome"]
