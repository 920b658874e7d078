"""Which validator, indexer and search engine the server runs with."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from fireside.api.services import ResourceValidator
from fireside.fhir import FhirDefinitions
from fireside.fhir.validation import Validator
from fireside.search import SearchEngine
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry


def build_validator(definitions: FhirDefinitions) -> ResourceValidator:
    return Validator(definitions)


def build_search(
    pool: AsyncConnectionPool[Any], definitions: FhirDefinitions
) -> tuple[SearchIndexer, SearchEngine]:
    """The indexer and the engine share one registry, so each expression is compiled once."""
    registry = SearchParameterRegistry(definitions)
    return SearchIndexer(definitions, registry), SearchEngine(pool, definitions, registry)
