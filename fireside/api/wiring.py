"""Which validator, indexer and search engine the server runs with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from fireside.api.services import ResourceFinder, ResourceValidator
from fireside.fhir import FhirDefinitions, FhirError, Issue
from fireside.store import AccessContext, IndexWriter, StoredResource
from fireside.store.resources import NoIndex


class _ResourceTypeValidator:
    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not self.definitions.is_resource_type(resource_type):
            return [Issue("invalid", f"Unknown resourceType {resource_type!r}", "resourceType")]
        return []


class _NoSearch:
    async def find(
        self,
        conn: psycopg.AsyncConnection[Any] | None,
        ctx: AccessContext,
        resource_type: str,
        params: list[tuple[str, str]],
        limit: int,
    ) -> list[StoredResource]:
        raise FhirError.single("not-supported", "Search is not available yet")


def build_validator(definitions: FhirDefinitions) -> ResourceValidator:
    return _ResourceTypeValidator(definitions)


def build_index_writer(definitions: FhirDefinitions) -> IndexWriter:
    return NoIndex()


def build_finder(definitions: FhirDefinitions) -> ResourceFinder:
    return _NoSearch()
