"""Which search parameters apply to each resource type, with their compiled extractors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fireside.fhir import FhirDefinitions
from fireside.fhir.definitions import SearchParameterDefinition
from fireside.store.indexing.expressions import Extractor, compile_expression

log = logging.getLogger(__name__)

# Parameter types with an index table. composite and special (near) come with full search.
INDEXED_TYPES = frozenset({"token", "string", "reference", "date", "number", "quantity", "uri"})

# Served from the resource table itself, not from index rows.
RESOURCE_COLUMNS = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True)
class IndexedParameter:
    code: str
    type: str
    extract: Extractor
    definition: SearchParameterDefinition


class SearchParameterRegistry:
    """Built lazily per type: compiling all 1,378 R4 expressions up front would slow start-up."""

    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions
        self._by_type: dict[str, dict[str, IndexedParameter]] = {}

    def for_type(self, resource_type: str) -> dict[str, IndexedParameter]:
        if resource_type not in self._by_type:
            self._by_type[resource_type] = self._compile(resource_type)
        return self._by_type[resource_type]

    def parameter(self, resource_type: str, code: str) -> IndexedParameter | None:
        return self.for_type(resource_type).get(code)

    def _compile(self, resource_type: str) -> dict[str, IndexedParameter]:
        found: dict[str, IndexedParameter] = {}
        for definition in self.definitions.search_parameters_for(resource_type):
            if definition.code in RESOURCE_COLUMNS or not definition.expression:
                continue
            if definition.type not in INDEXED_TYPES:
                log.debug("search parameter %s (%s) is not indexed yet", definition.code, definition.type)
                continue
            extract = compile_expression(definition.expression, resource_type)
            if extract is not None:
                found[definition.code] = IndexedParameter(definition.code, definition.type, extract, definition)
        return found
