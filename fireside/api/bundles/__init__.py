"""Batch and transaction Bundles (https://hl7.org/fhir/R4/http.html#transaction)."""
