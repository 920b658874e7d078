"""The search index tables (migration 0002) as the indexer writes them and search reads them.

Every row starts with (project_id, resource_type, resource_id, parameter); `columns` are the
value columns that follow, in the order the row extractors produce them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Rows are keyed by these, in this order, before the value columns.
KEY_COLUMNS = ("project_id", "resource_type", "resource_id", "parameter")

# Indexed text is cut to this many characters: a B-tree entry must fit in a third of a page
# (2,704 bytes), and 256 characters are at most 1,024 bytes of UTF-8, so an entry with two such
# columns still fits. Search values are cut the same way, so equality still finds them.
INDEXED_TEXT_LIMIT = 256


@dataclass(frozen=True)
class IndexTable:
    name: str
    columns: tuple[str, ...]

    @property
    def all_columns(self) -> tuple[str, ...]:
        return KEY_COLUMNS + self.columns


TOKEN = IndexTable("search_token", ("system", "value", "text"))
STRING = IndexTable("search_string", ("normalized", "value"))
REFERENCE = IndexTable("search_reference", ("target_type", "target_id", "url"))
DATE = IndexTable("search_date", ("low", "high"))
NUMBER = IndexTable("search_number", ("low", "high"))
QUANTITY = IndexTable("search_quantity", ("low", "high", "system", "code", "unit"))
URI = IndexTable("search_uri", ("value",))
# Migration 0003: one row per combination of component values found in one element
# (composites.py), and Location.position for `near` (positions.py).
COMPOSITE = IndexTable("search_composite", tuple(
    f"c{k}_{slot}" for k in range(1, 4)
    for slot in ("system", "value", "extra", "low", "high", "date_low", "date_high")))
POSITION = IndexTable("search_position", ("latitude", "longitude"))

INDEX_TABLES = (TOKEN, STRING, REFERENCE, DATE, NUMBER, QUANTITY, URI, COMPOSITE, POSITION)

# Search parameter type -> the table its rows live in. `special` parameters have a table each
# by code (`near`: POSITION; see registry), or none.
TABLE_OF_TYPE: dict[str, IndexTable] = {
    "token": TOKEN,
    "string": STRING,
    "reference": REFERENCE,
    "date": DATE,
    "number": NUMBER,
    "quantity": QUANTITY,
    "uri": URI,
    "composite": COMPOSITE,
}


def cut(text: str) -> str:
    """`text` as it is indexed (see INDEXED_TEXT_LIMIT). PostgreSQL text cannot hold NUL, which
    JSON can (\\u0000): it is dropped, or the COPY, and the whole write with it, would fail."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text if len(text) <= INDEXED_TEXT_LIMIT else text[:INDEXED_TEXT_LIMIT]
