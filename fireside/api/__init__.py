"""The HTTP API: FHIR REST, OAuth 2.0 and discovery endpoints."""

from fireside.api.app import create_app

__all__ = ["create_app"]
