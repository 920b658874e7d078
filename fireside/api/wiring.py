"""Which validator, indexer and search engine the server runs with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg_pool import AsyncConnectionPool

from fireside.api.services import ResourceValidator
from fireside.fhir import FhirDefinitions, Issue
from fireside.search import SearchEngine
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry


class _ResourceTypeValidator:
    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not self.definitions.is_resource_type(resource_type):
            return [Issue("invalid", f"Unknown resourceType {resource_type!r}", "resourceType")]
        return []


def build_validator(definitions: FhirDefinitions) -> ResourceValidator:
    return _ResourceTypeValidator(definitions)


def build_search(
    pool: AsyncConnectionPool[Any], definitions: FhirDefinitions
) -> tuple[SearchIndexer, SearchEngine]:
    """The indexer and the engine share one registry, so each expression is compiled once."""
    registry = SearchParameterRegistry(definitions)
    return SearchIndexer(definitions, registry), SearchEngine(pool, definitions, registry)
