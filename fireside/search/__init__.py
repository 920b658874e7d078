"""FHIR search: parameters compiled to SQL over the index tables."""

from fireside.search.engine import SearchEngine, SearchResult
from fireside.search.parameters import SearchRequest, parse_search

__all__ = ["SearchEngine", "SearchRequest", "SearchResult", "parse_search"]
