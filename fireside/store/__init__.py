"""Versioned FHIR resource storage on PostgreSQL."""

from fireside.store.context import AccessContext
from fireside.store.database import ensure_database, open_pool, resolve_database_url, with_database
from fireside.store.history import HistoryCursor, Period, count_history, read_history
from fireside.store.identifiers import new_resource_id
from fireside.store.migrations import migrate
from fireside.store.resources import (
    IndexWriter,
    ResourceStore,
    StoredResource,
    StoreTransaction,
    format_instant,
)

__all__ = [
    "AccessContext",
    "HistoryCursor",
    "IndexWriter",
    "Period",
    "ResourceStore",
    "StoreTransaction",
    "StoredResource",
    "count_history",
    "ensure_database",
    "format_instant",
    "migrate",
    "new_resource_id",
    "open_pool",
    "read_history",
    "resolve_database_url",
    "with_database",
]
