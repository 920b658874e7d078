"""Fireside: a FHIR-native healthcare developer platform."""

__version__ = "0.1.0"
__all__ = ["__version__"]
