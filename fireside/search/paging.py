"""Result order and keyset paging: the next page continues after the last row's sort key
instead of skipping an OFFSET, so page 500 costs what page 1 costs.

The cursor is opaque to clients (base64 JSON of the last row's key). Ties on the sort column are
broken by id, so the order is total and no row is skipped or repeated between pages.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg import sql

from fireside.fhir.errors import FhirError
from fireside.search.request import SearchRequest
from fireside.store import StoredResource

_COLUMNS = {"_id": "id", "_lastUpdated": "last_updated"}


@dataclass(frozen=True)
class Ordering:
    order_by: sql.Composable
    after_cursor: sql.Composable  # empty, or " AND ..." (the keyset condition)
    params: tuple[Any, ...]
    column: str
    descending: bool = False
    cursor_id: str | None = None


def ordering(request: SearchRequest) -> Ordering:
    column, descending = _sort_key(request)
    direction = sql.SQL("DESC" if descending else "ASC")
    comparison = sql.SQL("<" if descending else ">")
    if column == "id":
        order_by = sql.SQL("r.id {}").format(direction)
        bound = sql.SQL("")
    else:
        order_by = sql.SQL("r.{column} {direction}, r.id {direction}").format(
            column=sql.Identifier(column), direction=direction)
        # Always true; stated so that the resource_last_updated_idx partial index (whose
        # predicate it is) can give the order (see migration 0002).
        bound = sql.SQL(" AND r.last_updated IS NOT NULL")
    if request.cursor is None:
        return Ordering(order_by, bound, (), column, descending)
    position = _decode(request.cursor)
    if column == "id":
        return Ordering(order_by, sql.SQL(" AND r.id {} %s").format(comparison), (position["id"],), column,
                        descending, position["id"])
    return Ordering(
        order_by,
        sql.SQL("{} AND (r.{}, r.id) {} (%s, %s)").format(bound, sql.Identifier(column), comparison),
        (_instant(position.get("at")), position["id"]),
        column,
        descending,
        position["id"],
    )


def cursor_after(last: StoredResource) -> str:
    position = {"id": last.id, "at": last.last_updated.isoformat()}
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def _sort_key(request: SearchRequest) -> tuple[str, bool]:
    if request.sort:
        code, descending = request.sort[0]
        return _COLUMNS[code], descending
    return "id", False


def _decode(cursor: str) -> dict[str, Any]:
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as error:
        raise _bad_cursor() from error
    if not isinstance(decoded, dict) or not isinstance(decoded.get("id"), str):
        raise _bad_cursor()
    return decoded


def _instant(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError) as error:
        raise _bad_cursor() from error


def _bad_cursor() -> FhirError:
    return FhirError.single("invalid", "Search parameter _cursor: not a cursor this server issued")
