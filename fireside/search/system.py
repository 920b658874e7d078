"""System-level search, `GET [base]?_type=Patient,Observation&...` (https://hl7.org/fhir/R4/http.html#search
and search.html#_type): one search over several resource types of the project.

Each type's search is parsed and compiled as a type-level search would be, and the searches
are ORed: `(project = p AND type = 'Patient' AND ...) OR (project = p AND type = 'Observation'
AND ...)`. PostgreSQL pulls the common `project_id = p` out of the OR, and every branch keeps
it, so no branch can reach another project's rows. Without `_type`, the types are those the
project has, and only the parameters every resource has may be used (search.html#all).

Results are ordered by id (or `_lastUpdated`) across the types; sorting by another parameter
needs a single type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from fireside.fhir import FhirDefinitions
from fireside.fhir.errors import FhirError
from fireside.search.request import SearchRequest

# The parameters of Resource (and DomainResource's _text) that every type has; the special
# ones are answered for any type by filters/special.py.
RESOURCE_PARAMETERS = frozenset({
    "_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_text", "_content", "_list", "_filter",
})

# The distinct types of one project by skip scan: one primary-key descent per type, where
# `SELECT DISTINCT` would read every row of the project.
_TYPES_OF_PROJECT = sql.SQL(
    "WITH RECURSIVE t(resource_type) AS ("
    " (SELECT resource_type FROM resource WHERE project_id = %(project)s ORDER BY resource_type LIMIT 1)"
    " UNION ALL SELECT (SELECT r.resource_type FROM resource r WHERE r.project_id = %(project)s"
    " AND r.resource_type > t.resource_type ORDER BY r.resource_type LIMIT 1) FROM t"
    " WHERE t.resource_type IS NOT NULL)"
    " SELECT resource_type FROM t WHERE resource_type IS NOT NULL"
)


def split_types(
    definitions: FhirDefinitions, params: list[tuple[str, str]]
) -> tuple[list[str] | None, list[tuple[str, str]]]:
    """The types `_type` names (None without it) and the other parameters."""
    types: list[str] | None = None
    rest: list[tuple[str, str]] = []
    for name, value in params:
        if name != "_type":
            rest.append((name, value))
            continue
        for resource_type in filter(None, (t.strip() for t in value.split(","))):
            if not definitions.is_resource_type(resource_type):
                raise FhirError.single("invalid", f"Search parameter _type: {resource_type!r} is not a resource type")
            types = [*(types or []), resource_type] if resource_type not in (types or []) else types
    return types, rest


async def types_of_project(conn: psycopg.AsyncConnection[Any], project_id: UUID) -> list[str]:
    async with conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute(_TYPES_OF_PROJECT, {"project": project_id}, prepare=False)
        return [row[0] for row in await cursor.fetchall()]


def check_common(requests: Sequence[SearchRequest], typed: bool) -> None:
    """Only parameters that every searched type has may be used (search.html#_type); without
    `_type`, only those of Resource."""
    names = [{criterion.name for criterion in request.criteria} for request in requests]
    every = set.intersection(*names) if names else set()
    for request, found in zip(requests, names, strict=True):
        for name in sorted(found - every):
            raise FhirError.single(
                "invalid", f"Search parameter {name!r} is not a parameter of every type searched"
                f" (not of {_lacking(requests, names, name)})")
        if not typed:
            for criterion in request.criteria:
                if criterion.code not in RESOURCE_PARAMETERS:
                    raise FhirError.single(
                        "invalid", f"Search parameter {criterion.name!r} needs _type: without it a system search"
                        " takes only the parameters of every resource (_id, _lastUpdated, _tag, _profile,"
                        " _security, _source, _text, _content, _list, _filter)")
        for key in request.sort if len(requests) > 1 else ():
            if key.parameter.resource_column is None:
                raise FhirError.single(
                    "not-supported", f"Search parameter _sort: {key.code!r} needs a search of one type")


def _lacking(requests: Sequence[SearchRequest], names: list[set[str]], name: str) -> str:
    return ", ".join(r.resource_type for r, found in zip(requests, names, strict=True) if name not in found)
