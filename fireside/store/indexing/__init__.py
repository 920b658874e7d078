"""Search parameter values extracted on write into the index tables (migration 0002)."""

from fireside.store.indexing.composites import SLOT_OF_COLUMN, Component
from fireside.store.indexing.dates import LATEST, date_range
from fireside.store.indexing.indexer import SearchIndexer
from fireside.store.indexing.references import split_reference
from fireside.store.indexing.registry import IndexedParameter, SearchParameterRegistry, TypeParameters
from fireside.store.indexing.tables import INDEX_TABLES, INDEXED_TEXT_LIMIT, IndexTable, cut
from fireside.store.indexing.text_values import normalize_string
from fireside.store.indexing.values import IDENTIFIER_ROWS, OF_TYPE_ROWS

__all__ = [
    "IDENTIFIER_ROWS",
    "INDEXED_TEXT_LIMIT",
    "INDEX_TABLES",
    "LATEST",
    "OF_TYPE_ROWS",
    "SLOT_OF_COLUMN",
    "Component",
    "IndexTable",
    "IndexedParameter",
    "SearchIndexer",
    "SearchParameterRegistry",
    "TypeParameters",
    "cut",
    "date_range",
    "normalize_string",
    "split_reference",
]
