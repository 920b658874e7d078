"""Result order and keyset paging (https://hl7.org/fhir/R4/search.html#sort, #count): the next
page continues after the last row's sort key instead of skipping an OFFSET, so page 100 costs
what page 1 costs.

The cursor is opaque to clients: base64 JSON of a row's position (its sort key values and id),
the direction to page in from it (`next` after it, `previous` before it), and the order it
belongs to, so a cursor used with another `_sort` is refused. Ties are broken by id (see
`sorting`), so the order is total and no row is skipped or repeated between pages, even when
resources are created between requests.

A page is read by one or two SQL statements ("segments"), each `LIMIT _count + 1` (the extra
row tells whether another page exists); the second runs only when the first came up short.

General order (`sorting` computes each key per candidate with a lateral aggregate):

    SELECT r..., s0.value AS sort_0, s1.value AS sort_1 FROM resource r
      CROSS JOIN LATERAL (SELECT min(i.normalized) AS value FROM search_string i WHERE
                          i.resource_id = r.id AND ... AND i.parameter = 'family') s0
      CROSS JOIN LATERAL (...) s1
    WHERE <criteria> AND NOT r.deleted
      AND (s0.value > $k0 OR s0.value IS NULL                  -- the keyset condition,
           OR (s0.value = $k0 AND (s1.value < $k1 OR ...))    -- expanded because keys mix
           OR (s0.value = $k0 AND s1.value = $k1 AND r.id > $id))  -- directions and NULLs
    ORDER BY s0.value ASC NULLS LAST, s1.value DESC NULLS LAST, r.id ASC LIMIT n + 1

It costs one index probe per key per match, on every page: right when the criteria are selective
(a patient's Observations), linear in the matches otherwise. With keys of one direction and no
NULLs (`_lastUpdated`, `_id`) the condition is a row comparison, `(r.last_updated, r.id) > ($1,
$2)`, which resource_last_updated_idx answers as a range.

One key on an indexed value (date, string, uri, number ascending) is driven from that value's
index in order, so that page 100 is one range scan that starts at the cursor:

    SELECT r..., i.high AS sort_0 FROM search_date i JOIN resource r ON r.id = i.resource_id ...
    WHERE i.parameter = 'date' AND (i.high, i.resource_id) < ($high, $id)
      AND NOT EXISTS (SELECT 1 FROM search_date j WHERE j.resource_id = i.resource_id AND ...
                      AND (j.high > i.high OR (j.high = i.high AND j.low < i.low)))
      AND <criteria> AND NOT r.deleted
    ORDER BY i.high DESC, i.resource_id DESC LIMIT n + 1

The NOT EXISTS keeps, of a resource's rows, only the one that holds its key (greatest high, then
least low: rows are unique, so exactly one), an index-only probe of search_date_resource_idx.
The criteria are semi-join probes per scanned row; PostgreSQL may instead start from a selective
criterion and sort its few matches, the same query planned the other way round. Resources
without a value follow in a second segment, `NOT EXISTS (their rows)` in id order.

A `previous` cursor runs the same statements with every direction reversed (NULLS FIRST) and
the condition turned around, then reverses the rows.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
from psycopg import sql

from fireside.fhir.errors import FhirError
from fireside.search.request import SearchRequest
from fireside.search.sorting import INSTANT, NUMBER, SortColumn, SortOrder, index_scope, sort_order
from fireside.store import StoredResource

if TYPE_CHECKING:
    from fireside.search.engine import CompiledSearch

# How many rows of the sort index a page is first looked for in, one try after the other (see
# engine._page): a page of 20 among matches 1% as dense as the index, then 0.1%; at 1M
# resources about 5 and 50 ms of probes when the page is not there.
WALK_FIRST_ROWS = (2_000, 20_000)
_COLUMNS = sql.SQL("r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content")

# (table, descending) -> (the index column that orders the scan, the column that then picks one
# row per resource). Only values whose *_value_idx (or date low/high index) continues
# (value, resource_id) after the parameter can drive a scan; number has no index on high.
_DRIVEN: dict[tuple[str, bool], tuple[str, str | None]] = {
    ("search_date", False): ("low", "high"),
    ("search_date", True): ("high", "low"),
    ("search_number", False): ("low", "high"),
    ("search_string", False): ("normalized", "value"),
    ("search_string", True): ("normalized", "value"),
    ("search_uri", False): ("value", None),
    ("search_uri", True): ("value", None),
}


@dataclass(frozen=True)
class Position:
    """Where a row is in the order: its sort key values and id."""

    values: tuple[Any, ...]
    id: str


@dataclass(frozen=True)
class Cursor:
    position: Position
    backward: bool


@dataclass(frozen=True)
class Segment:
    """One statement of a page; its last placeholder is the LIMIT, bound when it runs."""

    query: sql.Composed
    params: tuple[Any, ...]
    # The same statement over only the first WALK_FIRST_ROWS rows of the sort index, a
    # statement per length: one that fills the page has the answer (engine._page decides when
    # to try them; none unless CompiledSearch.several_conditions_on_index_rows).
    first_tries: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class Page:
    resources: list[StoredResource]
    # More rows follow this page (a forward page read one row beyond it).
    has_next: bool
    next_cursor: str | None
    previous_cursor: str | None


@dataclass(frozen=True)
class PagePlan:
    order: SortOrder
    cursor: Cursor | None
    segments: tuple[Segment, ...]

    @property
    def backward(self) -> bool:
        return self.cursor is not None and self.cursor.backward

    def page(self, rows: list[dict[str, Any]], count: int) -> Page:
        """The page from the rows the segments returned (up to `count + 1`, in query order)."""
        more = len(rows) > count
        rows = rows[:count]
        if self.backward:
            rows.reverse()
        resources = [StoredResource.from_row(row) for row in rows]
        if not rows:
            return Page(resources, False, None, None)
        first, last = self._position(rows[0]), self._position(rows[-1])
        if self.backward:
            # The page before a cursor always has the cursor's row (or its place) after it.
            return Page(resources, True, self._encode(last, False), self._encode(first, True) if more else None)
        previous = self._encode(first, True) if self.cursor is not None else None
        return Page(resources, more, self._encode(last, False) if more else None, previous)

    def _position(self, row: dict[str, Any]) -> Position:
        return Position(tuple(row[f"sort_{n}"] for n in range(len(self.order.columns))), row["id"])

    def _encode(self, position: Position, backward: bool) -> str:
        return encode_cursor(self.order, position, backward)


def plan_page(compiled: CompiledSearch, request: SearchRequest) -> PagePlan:
    order = sort_order(request)
    cursor = decode_cursor(order, request.cursor) if request.cursor is not None else None
    segments: tuple[Segment, ...]
    if not order.columns and compiled.only_matches is not None:
        segments = (_matches_by_id(compiled, order, cursor),)
    elif _drivable(order):
        segments = _driven(compiled, order, cursor)
    else:
        segments = (_general(compiled, order, cursor),)
    return PagePlan(order, cursor, segments)


def encode_cursor(order: SortOrder, position: Position, backward: bool) -> str:
    document = {
        "d": "previous" if backward else "next",
        "s": order.signature,
        "k": [_encode_value(column, value) for column, value in zip(order.columns, position.values, strict=True)],
        "id": position.id,
    }
    return base64.urlsafe_b64encode(orjson.dumps(document)).decode().rstrip("=")


def decode_cursor(order: SortOrder, cursor: str) -> Cursor:
    try:
        document = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as error:
        raise _bad_cursor() from error
    if not isinstance(document, dict) or not isinstance(document.get("id"), str) or "\x00" in document["id"]:
        raise _bad_cursor()
    values = document.get("k")
    if (document.get("s") != order.signature or document.get("d") not in ("next", "previous")
            or not isinstance(values, list) or len(values) != len(order.columns)):
        raise _bad_cursor()
    decoded = tuple(_decode_value(column, value) for column, value in zip(order.columns, values, strict=True))
    return Cursor(Position(decoded, document["id"]), document["d"] == "previous")


# --- the general statement ---------------------------------------------------------------


def _general(compiled: CompiledSearch, order: SortOrder, cursor: Cursor | None) -> Segment:
    backward = cursor is not None and cursor.backward
    keys = sql.SQL("").join(
        sql.SQL(", {} AS {}").format(c.selected, sql.Identifier(f"sort_{n}")) for n, c in enumerate(order.columns))
    after, after_params = _keyset(order, cursor) if cursor is not None else (sql.SQL(""), ())
    # Always true; stated so that the resource_last_updated_idx partial index (predicate
    # `last_updated IS NOT NULL`, migration 0002) can give the order. Not `IS NOT NULL` itself:
    # PostgreSQL 17+ drops that qual on a NOT NULL column before matching index predicates, and
    # the Observation page sorted all 3,000 rows instead of reading 51 from the index.
    bound = sql.SQL("")
    if order.columns and order.columns[0].key.parameter.resource_column == "last_updated":
        bound = sql.SQL(" AND r.last_updated >= '-infinity'")
    query = sql.SQL(
        "SELECT {columns}{keys} FROM resource r{joins} WHERE {where} AND NOT r.deleted{bound}{after}"
        " ORDER BY {order} LIMIT %s"
    ).format(columns=_COLUMNS, keys=keys, joins=order.joins, where=compiled.where, bound=bound, after=after,
             order=_order_by(order, backward))
    return Segment(query, (*order.join_params, *compiled.params, *after_params))


def _order_by(order: SortOrder, backward: bool) -> sql.Composable:
    terms = [sql.SQL("{} {}").format(c.expression, _direction(c.descending != backward, c.nullable, backward))
             for c in order.columns]
    terms.append(sql.SQL("r.id {}").format(_direction(order.id_descending != backward, False, backward)))
    return sql.SQL(", ").join(terms)


def _direction(descending: bool, nullable: bool, backward: bool) -> sql.Composable:
    # A NOT NULL column keeps the plain direction, which an index scan can give either way:
    # PostgreSQL does not use the constraint to match `DESC NULLS LAST` to a backward scan.
    text = "DESC" if descending else "ASC"
    if nullable:
        text += " NULLS FIRST" if backward else " NULLS LAST"
    return sql.SQL(text)


def _keyset(order: SortOrder, cursor: Cursor) -> tuple[sql.Composable, tuple[Any, ...]]:
    """` AND <rows after (or before) the cursor's position>`."""
    forward = not cursor.backward
    position = cursor.position
    columns = order.columns
    if all(not c.nullable and c.descending == order.id_descending for c in columns):
        comparison = ">" if order.id_descending != forward else "<"
        row = sql.SQL(", ").join([*(c.expression for c in columns), sql.SQL("r.id")])
        placeholders = sql.SQL(", ").join([*(c.placeholder for c in columns), sql.SQL("%s")])
        return (sql.SQL(" AND ({}) {} ({})").format(row, sql.SQL(comparison), placeholders),
                (*position.values, position.id))
    alternatives: list[tuple[sql.Composable, tuple[Any, ...]]] = []
    equal: list[tuple[sql.Composable, tuple[Any, ...]]] = []
    for column, value in zip(columns, position.values, strict=True):
        beyond = _beyond(column, value, forward)
        if beyond is not None:
            alternatives.append(_all_of([*equal, beyond]))
        equal.append((sql.SQL("{} IS NULL").format(column.expression), ()) if value is None
                     else (sql.SQL("{} = {}").format(column.expression, column.placeholder), (value,)))
    id_comparison = ">" if order.id_descending != forward else "<"
    alternatives.append(_all_of([*equal, (sql.SQL("r.id {} %s").format(sql.SQL(id_comparison)), (position.id,))]))
    return (sql.SQL(" AND ({})").format(sql.SQL(" OR ").join(sql.SQL("({})").format(a[0]) for a in alternatives)),
            tuple(p for a in alternatives for p in a[1]))


def _beyond(column: SortColumn, value: Any, forward: bool) -> tuple[sql.Composable, tuple[Any, ...]] | None:
    """Rows past `value` on this key, with missing values last: nothing is past a missing
    value going forward, and every present value is before it going back."""
    if value is None:
        return None if forward else (sql.SQL("{} IS NOT NULL").format(column.expression), ())
    comparison = sql.SQL(">" if column.descending != forward else "<")
    if forward and column.nullable:
        return (sql.SQL("({0} {1} {2} OR {0} IS NULL)").format(column.expression, comparison, column.placeholder),
                (value,))
    return sql.SQL("{} {} {}").format(column.expression, comparison, column.placeholder), (value,)


def _all_of(parts: list[tuple[sql.Composable, tuple[Any, ...]]]) -> tuple[sql.Composable, tuple[Any, ...]]:
    return sql.SQL(" AND ").join(p[0] for p in parts), tuple(v for p in parts for v in p[1])


# --- one key driven from its index -------------------------------------------------------


def _drivable(order: SortOrder) -> bool:
    if len(order.columns) != 1 or not order.columns[0].nullable:
        return False
    column = order.columns[0]
    parameter = column.key.parameter
    return (parameter.table is not None and (parameter.table.name, column.descending) in _DRIVEN
            and len(parameter.rows_in) == 1 and parameter.target_type is None
            and order.id_descending == column.descending)


def _driven(compiled: CompiledSearch, order: SortOrder, cursor: Cursor | None) -> tuple[Segment, ...]:
    """Resources with a value, from the index in order; then those without, by id. Going back
    from a resource without a value, the same two in reverse."""
    if cursor is None:
        return _valued(compiled, order, None, False), _missing(compiled, order, None, False)
    backward, position = cursor.backward, cursor.position
    if position.values[0] is None:
        missing = _missing(compiled, order, position.id, backward)
        return (missing, _valued(compiled, order, None, True)) if backward else (missing,)
    valued = _valued(compiled, order, position, backward)
    return (valued,) if backward else (valued, _missing(compiled, order, None, False))


def _valued(compiled: CompiledSearch, order: SortOrder, after: Position | None, backward: bool) -> Segment:
    column = order.columns[0]
    parameter = column.key.parameter
    assert parameter.table is not None
    ordered_by, then = _DRIVEN[(parameter.table.name, column.descending)]
    value = sql.Identifier("i", ordered_by)
    better = sql.SQL("{j} {op} {i}").format(
        j=sql.Identifier("j", ordered_by), i=value, op=sql.SQL(">" if column.descending else "<"))
    if then is not None:
        better = sql.SQL("{better} OR ({j} = {i} AND {j_then} < {i_then})").format(
            better=better, j=sql.Identifier("j", ordered_by), i=value,
            j_then=sql.Identifier("j", then), i_then=sql.Identifier("i", then))
    descending = column.descending != backward
    bound: sql.Composable = sql.SQL("")
    bound_params: tuple[Any, ...] = ()
    if after is not None:
        bound = sql.SQL(" AND ({}, i.resource_id) {} ({}, %s)").format(
            value, sql.SQL("<" if descending else ">"), column.placeholder)
        bound_params = (after.values[0], after.id)
    direction = sql.SQL("DESC" if descending else "ASC")
    table = sql.Identifier(parameter.table.name)
    parts = {
        "columns": _COLUMNS, "value": value, "table": table, "where": compiled.where, "bound": bound,
        # Of a resource's rows, only the one that holds its key (see the module docstring).
        "key_row": sql.SQL(
            "NOT EXISTS (SELECT 1 FROM {table} j WHERE j.resource_id = i.resource_id"
            " AND j.resource_type = i.resource_type AND j.project_id = i.project_id AND j.parameter = i.parameter"
            " AND ({better}))").format(table=table, better=better),
        "order_by": sql.SQL("ORDER BY {value} {direction}, i.resource_id {direction}").format(
            value=value, direction=direction),
    }
    query = sql.SQL(
        "SELECT {columns}, {value}::text AS sort_0 FROM {table} i JOIN resource r ON r.project_id = i.project_id"
        " AND r.resource_type = i.resource_type AND r.id = i.resource_id"
        " WHERE i.project_id = %s AND i.resource_type = %s AND i.parameter = %s"
        " AND {key_row} AND {where} AND NOT r.deleted{bound} {order_by} LIMIT %s"
    ).format(**parts)
    scope_params = (compiled.params[0], compiled.params[1], parameter.rows_in[0])
    # The same over the first `head` rows of the index only: the inner LIMIT keeps PostgreSQL to
    # reading the index in order, whatever it guesses of the criteria. Composed only where
    # engine._page may try them (otherwise 40 us of each page for nothing).
    heads = WALK_FIRST_ROWS if compiled.several_conditions_on_index_rows else ()
    first_tries = tuple(Segment(sql.SQL(
        "SELECT {columns}, {value}::text AS sort_0 FROM (SELECT * FROM {table} i"
        " WHERE i.project_id = %s AND i.resource_type = %s AND i.parameter = %s{bound} {order_by} LIMIT {head}) i"
        " JOIN resource r ON r.project_id = i.project_id AND r.resource_type = i.resource_type AND r.id = i.resource_id"
        " WHERE {key_row} AND {where} AND NOT r.deleted {order_by} LIMIT %s"
    ).format(**parts, head=sql.Literal(head)), (*scope_params, *bound_params, *compiled.params)) for head in heads)
    return Segment(query, (*scope_params, *compiled.params, *bound_params), first_tries)


def _missing(compiled: CompiledSearch, order: SortOrder, after_id: str | None, backward: bool) -> Segment:
    column = order.columns[0]
    parameter = column.key.parameter
    assert parameter.table is not None
    scope, scope_params = index_scope(column.key, "j")
    descending = order.id_descending != backward
    bound: sql.Composable = sql.SQL("")
    if after_id is not None:
        bound = sql.SQL(" AND r.id {} %s").format(sql.SQL("<" if descending else ">"))
    query = sql.SQL(
        "SELECT {columns}, NULL AS sort_0 FROM resource r WHERE {where} AND NOT r.deleted"
        " AND NOT EXISTS (SELECT 1 FROM {table} j WHERE j.resource_id = r.id AND j.resource_type = r.resource_type"
        " AND j.project_id = r.project_id AND {scope}){bound} ORDER BY r.id {direction} LIMIT %s"
    ).format(columns=_COLUMNS, where=compiled.where, table=sql.Identifier(parameter.table.name), scope=scope,
             bound=bound, direction=sql.SQL("DESC" if descending else "ASC"))
    return Segment(query, (*compiled.params, *scope_params, *(() if after_id is None else (after_id,))))


# --- id order, one criterion ---------------------------------------------------------------


def _matches_by_id(compiled: CompiledSearch, order: SortOrder, cursor: Cursor | None) -> Segment:
    """One criterion, in id order: the page's ids come from the index rows alone, and only
    those rows are read from `resource`. For `code=a,b,c` (13k Conditions) this takes 8 ms
    where joining every match to `resource` first took 43 ms."""
    assert compiled.only_matches is not None
    descending = order.id_descending != (cursor is not None and cursor.backward)
    direction = sql.SQL("DESC" if descending else "ASC")
    after: sql.Composable = sql.SQL("")
    after_params: tuple[Any, ...] = ()
    if cursor is not None:
        after = sql.SQL(" WHERE m.resource_id {} %s").format(sql.SQL("<" if descending else ">"))
        after_params = (cursor.position.id,)
    query = sql.SQL(
        "SELECT {columns} FROM resource r WHERE r.project_id = %s AND r.resource_type = %s AND NOT r.deleted"
        " AND r.id IN (SELECT m.resource_id FROM ({matches}) m{after}"
        " GROUP BY m.resource_id ORDER BY m.resource_id {direction} LIMIT %s)"
        " ORDER BY r.id {direction}"
    ).format(columns=_COLUMNS, matches=compiled.only_matches.sql, after=after, direction=direction)
    return Segment(query, (compiled.params[0], compiled.params[1], *compiled.only_matches.params, *after_params))


# --- cursor values -------------------------------------------------------------------------


def _encode_value(column: SortColumn, value: Any) -> str | None:
    # Every key is read as text (SortColumn.selected) and bound back with a cast.
    return None if value is None else str(value)


def _decode_value(column: SortColumn, value: Any) -> Any:
    """A key value from a cursor, checked and rewritten so that PostgreSQL's cast accepts it:
    a forged cursor is a 400, never a database error."""
    if value is None:
        if not column.nullable:
            raise _bad_cursor()
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise _bad_cursor()
    try:
        if column.kind == INSTANT and value not in ("infinity", "-infinity"):
            instant = datetime.fromisoformat(value)
            if instant.tzinfo is None:
                raise _bad_cursor()
            return instant.isoformat()
        if column.kind == NUMBER:
            number = Decimal(value)
            if number.is_nan() or (number.is_finite() and abs(number.adjusted()) > 1000):
                raise _bad_cursor()
            return str(number)
    except (ValueError, InvalidOperation) as error:
        raise _bad_cursor() from error
    return value


def _bad_cursor() -> FhirError:
    return FhirError.single("invalid", "Search parameter _cursor: not a cursor this server issued")
