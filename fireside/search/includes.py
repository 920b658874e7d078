"""`_include` and `_revinclude` (https://hl7.org/fhir/R4/search.html#include): the resources a
page of matches refers to, or that refer to it, added to the searchset as `search.mode = include`.

Each include level is one SQL query over `search_reference`, joined to `resource`:

    SELECT ... FROM resource r JOIN (
        SELECT sr.target_type, sr.target_id FROM search_reference sr        -- _include
         WHERE sr.resource_id = ANY($page_ids) AND sr.resource_type = $source
           AND sr.project_id = $p AND sr.parameter = ANY($rows) [AND sr.target_type = $t]
        UNION
        SELECT sr.resource_type, sr.resource_id FROM search_reference sr    -- _revinclude
         WHERE sr.project_id = $p AND sr.resource_type = $source AND sr.parameter = ANY($rows)
           AND sr.target_id = ANY($page_ids) AND sr.target_type = $page_type
        EXCEPT SELECT * FROM unnest($seen_types, $seen_ids)                  -- already in the Bundle
    ) t(resource_type, id) ON r.project_id = $p AND r.resource_type = t.resource_type AND r.id = t.id
    WHERE NOT r.deleted ORDER BY r.resource_type, r.id LIMIT $room + 1

The forward branch reads the `search_reference_resource_idx` (resource_id first), the reverse
branch the `search_reference_value_idx` (target_id after the parameter) index-only. Index rows
exist only for live resources, so the `NOT r.deleted` check matters only for forward targets.
`:iterate` repeats the iterating includes on what the previous level added, up to
`MAX_LEVELS` levels; at most `MAX_INCLUDED` resources are added per page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from fireside.fhir.errors import FhirError
from fireside.store import StoredResource
from fireside.store.indexing import SearchParameterRegistry

# Levels of `:iterate` followed (the first level is the page's own includes). A Bundle graph
# deeper than this is rare, and each level is one more query.
MAX_LEVELS = 4
# Included resources per page: `Patient?_revinclude=Observation:subject` could otherwise add
# every Observation of every Patient on the page.
MAX_INCLUDED = 1000

_REFERENCE_TABLE = "search_reference"
_COLUMNS = sql.SQL("r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content")


@dataclass(frozen=True)
class Include:
    """One `_include` (forward) or `_revinclude` (reverse) value: `source_type:parameter[:target_type]`.

    `rows_in` are the `parameter` values of the reference index rows to follow: the parameter's
    own, those it is derived from (`patient` reads `subject` rows), or for `*` every reference
    parameter the source type stores. `target_type` restricts the targets (the `:Type` part, or
    the derived parameter's type)."""

    source_type: str
    parameter: str
    rows_in: tuple[str, ...]
    target_type: str | None
    reverse: bool
    iterate: bool


@dataclass
class IncludedResources:
    resources: list[StoredResource] = field(default_factory=list)
    # Said to the client in the Bundle's OperationOutcome (search.html#errors).
    warnings: list[str] = field(default_factory=list)


def parse_include(
    registry: SearchParameterRegistry, name: str, value: str, strict: bool
) -> Include | None:
    """`name` is `_include` or `_revinclude`, with `:iterate` (or R4's older `:recurse`).

    A malformed value is a 400; an unknown parameter is None (ignored and reported), or a 400
    under `strict`."""
    code, _, modifier = name.partition(":")
    if modifier not in ("", "iterate", "recurse"):
        raise FhirError.single("invalid", f"Search parameter {name}: the modifier {modifier!r} is not "
                               "iterate or recurse")
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise FhirError.single("invalid", f"Search parameter {name}: {value!r} is not "
                               "SourceType:parameter[:targetType]")
    source_type, parameter_code, target_type = parts[0], parts[1], parts[2] if len(parts) == 3 else None
    definitions = registry.definitions
    for type_name in (source_type, target_type):
        if type_name is not None and not definitions.is_resource_type(type_name):
            raise FhirError.single("invalid", f"Search parameter {name}: {type_name!r} is not a resource type")
    reverse, iterate = code == "_revinclude", modifier != ""
    if parameter_code == "*":
        return Include(source_type, "*", _reference_rows(registry, source_type), target_type, reverse, iterate)
    parameter = registry.parameter(source_type, parameter_code)
    if parameter is None:
        if strict:
            raise FhirError.single("not-supported", f"Search parameter {name}: {parameter_code!r} is not a "
                                   f"search parameter of {source_type} that this server supports")
        return None
    if parameter.type != "reference":
        raise FhirError.single("invalid", f"Search parameter {name}: {source_type}:{parameter_code} is a "
                               f"{parameter.type} parameter, not a reference")
    targets = parameter.definition.target
    if target_type is not None and targets and target_type not in targets:
        raise FhirError.single("invalid", f"Search parameter {name}: {target_type} is not a target type of "
                               f"{source_type}:{parameter_code}")
    if target_type and parameter.target_type and target_type != parameter.target_type:
        raise FhirError.single("invalid", f"Search parameter {name}: {source_type}:{parameter_code} refers "
                               f"to {parameter.target_type} only")
    return Include(source_type, parameter_code, parameter.rows_in, target_type or parameter.target_type,
                   reverse, iterate)


def _reference_rows(registry: SearchParameterRegistry, source_type: str) -> tuple[str, ...]:
    """Every reference parameter `source_type` stores rows for: `Type:*` follows them all. Named,
    not left open, so that the reverse lookup stays a scan of the value index by parameter."""
    # `code:suffix` rows are other views of a parameter's values (`subject:identifier` tokens).
    return tuple(sorted(code for code, table, _ in registry.of_type(source_type).stored
                        if table.name == _REFERENCE_TABLE and ":" not in code))


async def resolve_includes(
    conn: psycopg.AsyncConnection[Any], project_id: UUID, includes: Sequence[Include],
    page: Sequence[StoredResource],
) -> IncludedResources:
    """The resources `includes` reach from `page`, current, undeleted, in the same project and
    not already on the page; one query per level."""
    result = IncludedResources()
    if not includes or not page:
        return result
    seen = {stored.key for stored in page}
    level: Sequence[StoredResource] = page
    for depth in range(MAX_LEVELS):
        active = [i for i in includes if depth == 0 or i.iterate]
        room = MAX_INCLUDED - len(result.resources)
        found = await _include_level(conn, project_id, active, level, seen, room + 1) if active else []
        if len(found) > room:
            found = found[:room]
            result.warnings.append(f"Only the first {MAX_INCLUDED} included resources are returned for a "
                                   "page: ask for smaller pages to get all of them")
            result.resources.extend(found)
            break
        result.resources.extend(found)
        seen.update(stored.key for stored in found)
        level = found
        if not found:
            break
        iterating = [i for i in includes if i.iterate]
        # At the last level, one probe for a single further resource tells whether the cap cut anything.
        if depth == MAX_LEVELS - 1 and iterating and await _include_level(conn, project_id, iterating, found, seen, 1):
            result.warnings.append(f"_include:iterate and _revinclude:iterate are followed {MAX_LEVELS} levels "
                                   "deep: resources further away are not included")
    return result


async def _include_level(
    conn: psycopg.AsyncConnection[Any], project_id: UUID, includes: Sequence[Include],
    level: Sequence[StoredResource], seen: Iterable[tuple[str, str]], limit: int,
) -> list[StoredResource]:
    query = include_query(project_id, includes, level, seen, limit)
    if query is None:
        return []
    async with conn.cursor(row_factory=dict_row) as cursor:
        # Not prepared, like every search (see fireside.search.engine): the plan depends on the ids.
        await cursor.execute(query[0], query[1], prepare=False)
        return [StoredResource.from_row(row) for row in await cursor.fetchall()]


def include_query(
    project_id: UUID, includes: Sequence[Include], level: Sequence[StoredResource],
    seen: Iterable[tuple[str, str]], limit: int,
) -> tuple[sql.Composed, list[Any]] | None:
    """The one query of an include level (see the module docstring), or None when no include
    applies to the level's resources."""
    ids_by_type: dict[str, list[str]] = defaultdict(list)
    for stored in level:
        ids_by_type[stored.resource_type].append(stored.id)
    branches: list[sql.Composable] = []
    params: list[Any] = []
    for include in includes:
        for branch, branch_params in _branches(project_id, include, ids_by_type):
            branches.append(branch)
            params.extend(branch_params)
    if not branches:
        return None
    seen_types = [key[0] for key in seen]
    seen_ids = [key[1] for key in seen]
    query = sql.SQL(
        "SELECT {columns} FROM resource r JOIN ({branches} EXCEPT SELECT * FROM unnest(%s::text[], %s::text[]))"
        " t(resource_type, id) ON r.project_id = %s AND r.resource_type = t.resource_type AND r.id = t.id"
        " WHERE NOT r.deleted ORDER BY r.resource_type, r.id LIMIT %s"
    ).format(columns=_COLUMNS, branches=sql.SQL(" UNION ").join(branches))
    params.extend((seen_types, seen_ids, project_id, limit))
    return query, params


def _branches(
    project_id: UUID, include: Include, ids_by_type: dict[str, list[str]]
) -> list[tuple[sql.Composable, tuple[Any, ...]]]:
    """The SELECTs of (type, id) that one include adds for the level's resources."""
    target = sql.SQL(" AND sr.target_type = %s") if include.target_type else sql.SQL("")
    target_params: tuple[Any, ...] = (include.target_type,) if include.target_type else ()
    if not include.reverse:
        ids = ids_by_type.get(include.source_type)
        if not ids or not include.rows_in:
            return []
        branch = sql.SQL(
            "SELECT sr.target_type, sr.target_id FROM search_reference sr WHERE sr.resource_id = ANY(%s)"
            " AND sr.resource_type = %s AND sr.project_id = %s AND sr.parameter = ANY(%s){target}"
        ).format(target=target)
        return [(branch, (ids, include.source_type, project_id, list(include.rows_in), *target_params))]
    branches: list[tuple[sql.Composable, tuple[Any, ...]]] = []
    for page_type, ids in ids_by_type.items():
        if not include.rows_in or (include.target_type and include.target_type != page_type):
            continue
        reverse = sql.SQL(
            "SELECT sr.resource_type, sr.resource_id FROM search_reference sr WHERE sr.project_id = %s"
            " AND sr.resource_type = %s AND sr.parameter = ANY(%s) AND sr.target_id = ANY(%s)"
            " AND sr.target_type = %s")
        branches.append((reverse, (project_id, include.source_type, list(include.rows_in), ids, page_type)))
    return branches
