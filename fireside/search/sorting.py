"""The order of a search's results (https://hl7.org/fhir/R4/search.html#sort) as SQL over `r`.

A resource may hold several values of the sort parameter, so each key is one value per
resource, read from the parameter's index rows:

    date, number, quantity  ascending: the least `low`; descending: the greatest `high`
                            (`2020` covers all of 2020, so ascending it comes before
                            `2020-05-01`, descending after it)
    string                  the least / greatest normalized (case-folded, unaccented) value
    token                   the least / greatest code, then its system
    reference               the least / greatest target (`Patient/123`, or the URL)
    uri                     the least / greatest value
    _lastUpdated, _id       the resource's own columns

A resource without a value sorts last in both directions (NULLS LAST); ties are broken by id,
in the direction of the first key (or as `_id`/`-_id` says), so the order is total and keyset
paging exact. A key after `_id` cannot matter and is dropped.

Each index-row key is a `CROSS JOIN LATERAL (SELECT min(...) ...)`: an aggregate subquery is
never pulled up, so PostgreSQL computes it once per candidate row (one descent of the table's
`*_resource_idx`), and the same `s0.value` serves the SELECT list, the keyset condition and
ORDER BY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from fireside.search.request import SearchRequest, SortKey

# How a key's values travel in a cursor: JSON cannot hold a timestamp or an exact decimal.
INSTANT, NUMBER, TEXT = "instant", "number", "text"

# table -> (value ascending, value descending, kind). Text values are "C" collated, like
# the value columns, so a concatenation says so explicitly.
_VALUES: dict[str, tuple[str, str, str]] = {
    "search_date": ("min(i.low)", "max(i.high)", INSTANT),
    "search_number": ("min(i.low)", "max(i.high)", NUMBER),
    "search_quantity": ("min(i.low)", "max(i.high)", NUMBER),
    "search_string": ("min(i.normalized)", "max(i.normalized)", TEXT),
    "search_uri": ("min(i.value)", "max(i.value)", TEXT),
}
# A token sorts by code then system; chr(1) sorts below any character of a code, so the
# concatenation orders as the pair would.
_TOKEN = "(coalesce(i.value, '') || chr(1) || coalesce(i.system, '')) COLLATE \"C\""
_REFERENCE = "(coalesce(i.target_type || '/', '') || i.target_id) COLLATE \"C\""
_VALUES["search_token"] = (f"min({_TOKEN})", f"max({_TOKEN})", TEXT)
_VALUES["search_reference"] = (f"min({_REFERENCE})", f"max({_REFERENCE})", TEXT)
_PLACEHOLDERS = {INSTANT: "%s::timestamptz", NUMBER: "%s::numeric", TEXT: "%s"}


@dataclass(frozen=True)
class SortColumn:
    """One key: its value for the row (`expression`, over `r` and its own lateral join)."""

    key: SortKey
    expression: sql.Composable
    join: sql.Composable
    join_params: tuple[Any, ...]
    kind: str
    nullable: bool

    @property
    def descending(self) -> bool:
        return self.key.descending

    @property
    def selected(self) -> sql.Composable:
        """The value as the page reads it for its cursor: as text, because psycopg cannot load
        the infinite bounds of an open Period (`infinity`) into a Python datetime."""
        return sql.SQL("{}::text").format(self.expression) if self.kind != TEXT else self.expression

    @property
    def placeholder(self) -> sql.Composable:
        return sql.SQL(_PLACEHOLDERS[self.kind])


@dataclass(frozen=True)
class SortOrder:
    columns: tuple[SortColumn, ...]
    id_descending: bool

    @property
    def signature(self) -> str:
        """Written into cursors, so that a cursor is refused for another order."""
        keys = [("-" if c.descending else "") + c.key.code for c in self.columns]
        return ",".join([*keys, "-_id" if self.id_descending else "_id"])

    @property
    def joins(self) -> sql.Composable:
        return sql.SQL("").join(c.join for c in self.columns)

    @property
    def join_params(self) -> tuple[Any, ...]:
        return tuple(p for c in self.columns for p in c.join_params)


def sort_order(request: SearchRequest) -> SortOrder:
    columns: list[SortColumn] = []
    id_descending = request.sort[0].descending if request.sort else False
    for key in request.sort:
        if key.parameter.resource_column == "id":
            id_descending = key.descending
            break
        columns.append(_column(key, len(columns)))
    return SortOrder(tuple(columns), id_descending)


def index_scope(key: SortKey, alias: str) -> tuple[sql.Composable, tuple[Any, ...]]:
    """Which rows of the parameter's table hold its values (its own, or those it is read
    from, as for Observation `combo-code` or `patient`)."""
    parameter = key.parameter
    column = sql.Identifier(alias, "parameter")
    if len(parameter.rows_in) == 1:
        scope: sql.Composable = sql.SQL("{} = %s").format(column)
        params: tuple[Any, ...] = (parameter.rows_in[0],)
    else:
        scope = sql.SQL("{} = ANY(%s)").format(column)
        params = (list(parameter.rows_in),)
    if parameter.target_type:
        scope = sql.SQL("{} AND {} = %s").format(scope, sql.Identifier(alias, "target_type"))
        params = (*params, parameter.target_type)
    return scope, params


def _column(key: SortKey, position: int) -> SortColumn:
    parameter = key.parameter
    if parameter.resource_column == "last_updated":
        return SortColumn(key, sql.SQL("r.last_updated"), sql.SQL(""), (), INSTANT, nullable=False)
    assert parameter.table is not None
    ascending_value, descending_value, kind = _VALUES[parameter.table.name]
    alias = sql.Identifier(f"s{position}")
    scope, params = index_scope(key, "i")
    join = sql.SQL(
        " CROSS JOIN LATERAL (SELECT {value} AS value FROM {table} i WHERE i.resource_id = r.id"
        " AND i.resource_type = r.resource_type AND i.project_id = r.project_id AND {scope}) {alias}"
    ).format(value=sql.SQL(descending_value if key.descending else ascending_value),
             table=sql.Identifier(parameter.table.name), scope=scope, alias=alias)
    return SortColumn(key, sql.SQL("{}.value").format(alias), join, params, kind, nullable=True)
