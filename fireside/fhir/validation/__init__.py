"""Validation of resources against the FHIR R4 definitions."""

from fireside.fhir.validation.validator import Validator

__all__ = ["Validator"]
