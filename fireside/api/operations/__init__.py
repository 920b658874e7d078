"""One module per FHIR operation ($validate, $everything, ...)."""
