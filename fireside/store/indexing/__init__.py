"""Search parameter values extracted on write into the index tables."""

from fireside.store.indexing.dates import date_range
from fireside.store.indexing.indexer import SearchIndexer
from fireside.store.indexing.registry import IndexedParameter, SearchParameterRegistry
from fireside.store.indexing.values import normalize_string, split_reference

__all__ = [
    "IndexedParameter",
    "SearchIndexer",
    "SearchParameterRegistry",
    "date_range",
    "normalize_string",
    "split_reference",
]
