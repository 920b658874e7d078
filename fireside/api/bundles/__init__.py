"""Batch and transaction Bundles (https://hl7.org/fhir/R4/http.html#transaction)."""

from fireside.api.bundles.processing import batch_or_transaction

__all__ = ["batch_or_transaction"]
