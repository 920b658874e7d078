"""Each criterion of a search compiled to one SQL condition on the resource row `r`.

A criterion on an index table becomes

    r.id IN (SELECT i.resource_id FROM search_<type> i
             WHERE i.project_id = $p AND i.resource_type = $t AND i.parameter = $code AND <value>
             UNION ALL SELECT ... <second value> ...)

one index-only scan of the table's value index per alternative (comma-separated values); a
UNION ALL keeps each alternative a plain range scan where an OR would not be. PostgreSQL turns
`IN` into a semi-join and picks which criterion drives the search and which are probes.
:missing=true and :not are `NOT EXISTS` (an anti-join), which also matches resources without
any value, as the spec asks.

Two kinds of criterion must gather every match before a page can be cut: `_has` (the targets
of all matching sources, deduplicated) and a terminology criterion of several codes (rows of
several index ranges, deduplicated). When one matches many rows (`walk_probe`, counted up to
WALKED_FROM_ROWS by the engine), it is compiled as a per-row `EXISTS` instead, checked on the
resource rows in page order: at 1M resources, `Patient?_has:Observation:patient:code=X` over
18k Observations took 0.45 s gathered, and a page of the walk a few milliseconds.

The compiler of each parameter type is picked from `VALUE_FILTERS`: a composite's from its
components' (composites.py), `near` is the one special parameter indexed (near.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, LiteralString
from uuid import UUID

from psycopg import sql

from fireside.search.filters import chains
from fireside.search.filters.composites import composite_filter
from fireside.search.filters.condition import Condition, FilterContext, bad_modifier, bad_value
from fireside.search.filters.dates import compile_date_filter, compile_last_updated_filter
from fireside.search.filters.near import compile_near_filter
from fireside.search.filters.quantities import compile_number_filter, compile_quantity_filter
from fireside.search.filters.references import compile_reference_filter, identifier_filter
from fireside.search.filters.strings import compile_string_filter
from fireside.search.filters.tokens import compile_token_filter
from fireside.search.filters.uris import compile_uri_filter
from fireside.search.request import AnyOf, Criterion
from fireside.store.indexing import IDENTIFIER_ROWS, OF_TYPE_ROWS

ValueFilter = Callable[[Criterion, str, FilterContext], Condition]

VALUE_FILTERS: dict[str, ValueFilter] = {
    "token": compile_token_filter,
    "string": compile_string_filter,
    "reference": compile_reference_filter,
    "date": compile_date_filter,
    "number": compile_number_filter,
    "quantity": compile_quantity_filter,
    "uri": compile_uri_filter,
    # `near`, the one special parameter the registry indexes (see near.py).
    "special": compile_near_filter,
}
# Each component is read by the filter of its own type (see composites.py).
VALUE_FILTERS["composite"] = composite_filter(VALUE_FILTERS)
# :not is defined for tokens in R4.
_NEGATABLE = frozenset({"token"})
# A `_has` or multi-code criterion with at least this many index rows is walked (see above).
WALKED_FROM_ROWS = 2_000
_GATHERING_MODIFIERS = frozenset({"in", "below", "above"})

__all__ = [
    "VALUE_FILTERS",
    "WALKED_FROM_ROWS",
    "CompiledCriterion",
    "Condition",
    "FilterContext",
    "compile_any_of",
    "compile_criterion",
    "compile_value_condition",
    "walk_probe",
]


@dataclass(frozen=True)
class CompiledCriterion:
    """The condition on `r`; and for a criterion that keeps only resources with matching index
    rows, the `SELECT resource_id ...` of those rows (`matches`), which can be counted without
    reading `resource` at all: index rows exist only for current, undeleted resources."""

    condition: Condition
    matches: Condition | None = None


def compile_criterion(
    criterion: Criterion, project_id: UUID, resource_type: str, context: FilterContext
) -> CompiledCriterion:
    parameter = criterion.parameter
    if criterion.chain:
        return _compile_chain(criterion, project_id, resource_type, context)
    if parameter.type == "reference" and criterion.modifier == "identifier":
        return _compile_reference_identifier(criterion, project_id, resource_type)
    if parameter.resource_column == "id":
        return CompiledCriterion(_id_condition(criterion))
    if parameter.resource_column == "last_updated":
        return CompiledCriterion(_any_of([compile_last_updated_filter(criterion, v) for v in criterion.values]))
    assert parameter.table is not None
    table = sql.Identifier(parameter.table.name)
    scope = _scope(criterion)
    if criterion.modifier == "missing":
        return _missing(criterion, project_id, resource_type, table, scope)
    # :not-in is "no coding in the set": like :not, resources without any matching row.
    negated = criterion.modifier in ("not", "not-in")
    if negated and parameter.type not in _NEGATABLE:
        raise bad_modifier(criterion)
    value_filter = VALUE_FILTERS[parameter.type]
    alternatives = [value_filter(criterion, value, context) for value in criterion.values]
    if negated:
        return CompiledCriterion(_without(table, scope, _any_of(alternatives)))
    if id(criterion) in context.walked:
        return CompiledCriterion(_with(table, scope, _any_of(alternatives)))
    matches = _matches(project_id, resource_type, table, scope, alternatives)
    return CompiledCriterion(Condition(sql.SQL("r.id IN ({})").format(matches.sql), matches.params), matches)


def walk_probe(criterion: Criterion, project_id: UUID, resource_type: str, context: FilterContext) -> Condition | None:
    """For a criterion that gathers its matches in full (see the module docstring), the
    `SELECT` of the index rows it gathers, which the engine counts to decide whether to walk
    it instead; None for any other criterion."""
    if criterion.chain and criterion.reverse:
        (link,) = criterion.chain
        end = compile_criterion(link.criterion, project_id, link.resource_type, context)
        return chains.ids_of(project_id, link.resource_type, end.condition, end.matches)
    if (criterion.modifier in _GATHERING_MODIFIERS and criterion.parameter.type == "token"
            and not criterion.chain and _code_count(criterion, context) > 1):
        return compile_criterion(criterion, project_id, resource_type, context).matches
    return None


def _code_count(criterion: Criterion, context: FilterContext) -> int:
    resolved = [context.terminology.get((criterion.modifier or "", value)) for value in criterion.values]
    return sum(len(codes) for found in resolved if found for codes in found.values())


def compile_value_condition(
    criterion: Criterion, project_id: UUID, resource_type: str, value: Condition | None, negated: bool = False
) -> CompiledCriterion:
    """The criterion's index rows that satisfy `value` (a condition on `i` built by the
    caller; None: any row), or with `negated` the resources without such rows. For the
    `_filter` operators that no search prefix or modifier spells (string eq and ew, date po)."""
    assert criterion.parameter.table is not None
    table = sql.Identifier(criterion.parameter.table.name)
    scope = _scope(criterion)
    if negated:
        return CompiledCriterion(_without(table, scope, value))
    matches = _matches(project_id, resource_type, table, scope, [value])
    return CompiledCriterion(Condition(sql.SQL("r.id IN ({})").format(matches.sql), matches.params), matches)


def compile_any_of(criteria: AnyOf, project_id: UUID, resource_type: str, context: FilterContext) -> CompiledCriterion:
    """At least one of the criteria holds. When each keeps only resources with index rows, so
    does their union, which is then one `r.id IN (... UNION ALL ...)` the engine can page and
    count from the index (a compartment search with no other criteria)."""
    compiled = [compile_criterion(c, project_id, resource_type, context) for c in criteria.criteria]
    if not compiled:
        return CompiledCriterion(Condition(sql.SQL("false")))
    if all(c.matches is not None for c in compiled):
        matches = Condition(sql.SQL(" UNION ALL ").join(c.matches.sql for c in compiled if c.matches),
                            tuple(p for c in compiled if c.matches for p in c.matches.params))
        return CompiledCriterion(Condition(sql.SQL("r.id IN ({})").format(matches.sql), matches.params), matches)
    return CompiledCriterion(_any_of([c.condition for c in compiled]))


def _compile_chain(
    criterion: Criterion, project_id: UUID, resource_type: str, context: FilterContext
) -> CompiledCriterion:
    """A chain or `_has` (see chains.py): the criterion at the other end compiled like any other."""
    ends: list[tuple[str, Condition]] = []
    for link in criterion.chain:
        end = compile_criterion(link.criterion, project_id, link.resource_type, context)
        ends.append((link.resource_type, chains.ids_of(project_id, link.resource_type, end.condition, end.matches)))
    if criterion.reverse:
        (source_type, ids), = ends
        if id(criterion) in context.walked:
            walk = chains.referred_by(project_id, resource_type, source_type, criterion.parameter, ids)
            return CompiledCriterion(walk)
        targets = chains.referred(project_id, resource_type, source_type, criterion.parameter, ids)
        return CompiledCriterion(Condition(sql.SQL("r.id IN ({})").format(targets.sql), targets.params))
    matches = chains.referring(project_id, resource_type, criterion.parameter, ends)
    return CompiledCriterion(Condition(sql.SQL("r.id IN ({})").format(matches.sql), matches.params), matches)


def _compile_reference_identifier(criterion: Criterion, project_id: UUID, resource_type: str) -> CompiledCriterion:
    """`subject:identifier=system|value`: the token rows the indexer writes for Reference.identifier
    under `<parameter>:identifier` (see fireside/store/indexing/registry.py)."""
    parameter = criterion.parameter
    rows = [code + IDENTIFIER_ROWS for code in parameter.rows_in]
    scope = Condition(sql.SQL("i.parameter = ANY(%s)"), (rows,))
    if parameter.target_type:
        # Reference.type, when the reference gives one, must agree (`patient` is `subject` to a Patient).
        scope = Condition(sql.SQL("i.parameter = ANY(%s) AND (i.text IS NULL OR i.text = %s)"),
                          (rows, parameter.target_type))
    alternatives = [identifier_filter(value) for value in criterion.values]
    matches = _matches(project_id, resource_type, sql.Identifier("search_token"), scope, alternatives)
    return CompiledCriterion(Condition(sql.SQL("r.id IN ({})").format(matches.sql), matches.params), matches)


def _scope(criterion: Criterion) -> Condition:
    """Which index rows hold this parameter's values (its own, or those it is derived from)."""
    parameter = criterion.parameter
    # :of-type reads the Identifier.type rows stored beside the identifier rows (indexing/values.py).
    rows_in = [code + OF_TYPE_ROWS for code in parameter.rows_in] if criterion.modifier == "of-type" \
        else parameter.rows_in
    if len(rows_in) == 1:
        scope = Condition(sql.SQL("i.parameter = %s"), (rows_in[0],))
    else:
        scope = Condition(sql.SQL("i.parameter = ANY(%s)"), (list(rows_in),))
    if parameter.target_type:
        scope = Condition(sql.SQL("{} AND i.target_type = %s").format(scope.sql),
                          (*scope.params, parameter.target_type))
    return scope


def _matches(
    project_id: UUID, resource_type: str, table: sql.Identifier, scope: Condition,
    alternatives: Sequence[Condition | None],
) -> Condition:
    selects = [
        sql.SQL(
            "SELECT i.resource_id FROM {table} i"
            " WHERE i.project_id = %s AND i.resource_type = %s AND {scope}{value}"
        ).format(table=table, scope=scope.sql, value=sql.SQL(" AND {}").format(a.sql) if a else sql.SQL(""))
        for a in alternatives
    ]
    params: list[Any] = []
    for alternative in alternatives:
        params.extend((project_id, resource_type, *scope.params, *(alternative.params if alternative else ())))
    return Condition(sql.SQL(" UNION ALL ").join(selects), tuple(params))


def _with(table: sql.Identifier, scope: Condition, values: Condition | None) -> Condition:
    """The walked form of a criterion (see the module docstring): `OFFSET 0` keeps PostgreSQL
    from turning the EXISTS back into a semi-join that gathers every match."""
    return _exists_on_r("EXISTS", table, scope, values, " OFFSET 0")


def _without(table: sql.Identifier, scope: Condition, values: Condition | None) -> Condition:
    return _exists_on_r("NOT EXISTS", table, scope, values)


def _exists_on_r(
    test: LiteralString, table: sql.Identifier, scope: Condition, values: Condition | None, tail: LiteralString = "",
) -> Condition:
    """`test` (EXISTS or NOT EXISTS) of the outer resource row `r`'s index rows in `scope` that hold `values`."""
    value_sql = sql.SQL(" AND {}").format(values.sql) if values else sql.SQL("")
    return Condition(
        sql.SQL(
            test + " (SELECT 1 FROM {table} i WHERE i.project_id = r.project_id"
            " AND i.resource_type = r.resource_type AND i.resource_id = r.id AND {scope}{value}" + tail + ")"
        ).format(table=table, scope=scope.sql, value=value_sql),
        (*scope.params, *(values.params if values else ())),
    )


def _missing(
    criterion: Criterion, project_id: UUID, resource_type: str, table: sql.Identifier, scope: Condition
) -> CompiledCriterion:
    if criterion.values not in (("true",), ("false",)):
        raise bad_value(criterion, ",".join(criterion.values), "is not true or false")
    if criterion.values == ("true",):
        return CompiledCriterion(_without(table, scope, None))
    matches = _matches(project_id, resource_type, table, scope, [None])
    return CompiledCriterion(Condition(sql.SQL("r.id IN ({})").format(matches.sql), matches.params), matches)


def _id_condition(criterion: Criterion) -> Condition:
    if criterion.modifier is not None:
        raise bad_modifier(criterion)
    ids = [value for value in criterion.values if value]
    if len(ids) == 1:
        return Condition(sql.SQL("r.id = %s"), (ids[0],))
    # A join, not `r.id = ANY(...)`: on an unanalyzed table the planner filtered every row of
    # the type for ANY, where it probes the primary key once per id for the join.
    return Condition(sql.SQL("r.id IN (SELECT unnest(%s::text[]))"), (ids,))


def _any_of(conditions: list[Condition]) -> Condition:
    if len(conditions) == 1:
        return conditions[0]
    return Condition(
        sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("({})").format(c.sql) for c in conditions)),
        tuple(p for c in conditions for p in c.params),
    )

