"""FHIR search: parameters parsed into a `SearchRequest`, compiled to one SQL query over the
resource table and the index tables that `fireside.store.indexing` writes."""

from fireside.search.engine import CompiledSearch, SearchEngine, SearchResult
from fireside.search.policy import CompiledPolicy, PolicyGuard, Rule
from fireside.search.request import Criterion, SearchRequest, parse_conditional_url, parse_search

__all__ = [
    "CompiledPolicy",
    "CompiledSearch",
    "Criterion",
    "PolicyGuard",
    "Rule",
    "SearchEngine",
    "SearchRequest",
    "SearchResult",
    "parse_conditional_url",
    "parse_search",
]
