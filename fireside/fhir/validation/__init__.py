"""Validation of resources against the FHIR R4 definitions and profiles: structure, cardinality,
primitive formats, choice types, slices, fixed and pattern values, required bindings, references
and the definitions' FHIRPath invariants. `Validator.validate` returns every issue found."""

from fireside.fhir.validation.validator import Validator

__all__ = ["Validator"]
