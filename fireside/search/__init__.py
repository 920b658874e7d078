"""FHIR search: parameters to SQL over the index tables."""
