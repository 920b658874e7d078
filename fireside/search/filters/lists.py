"""`_list=List/id` (https://hl7.org/fhir/R4/search.html#list): the resources of the searched
type that are `List.entry.item` of that List, in the same project.

Read from the List's stored content, not from its `item` index rows: an entry flagged
`deleted: true` is no longer in the list, which index rows cannot tell. An item counts when its
reference is `Type/id` of the searched type, optionally versioned (`/_history/n`) or absolute
on this server's base URL. Items that were deleted drop out with the search's `NOT deleted`.
The List is one row read by primary key; the items then probe `resource` by key as well.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from psycopg import sql

from fireside.fhir.errors import FhirError
from fireside.search.escaping import split_unescaped, unescape
from fireside.search.filters.condition import Condition
from fireside.search.request import SpecialCriterion

if TYPE_CHECKING:
    from fireside.search.filters.special import SpecialScope

_LIST_ID = re.compile(r"^(?:List/)?([A-Za-z0-9\-.]{1,64})$")

_ITEMS = sql.SQL(
    "r.id IN (SELECT substring(e.entry -> 'item' ->> 'reference' FROM %s)"
    # A lax path: an `entry` that is not an array (invalid content) yields nothing, not an error.
    " FROM resource l CROSS JOIN LATERAL jsonb_path_query(fireside_content_jsonb(l.content), '$.entry[*]') AS e(entry)"
    " WHERE l.project_id = %s AND l.resource_type = 'List' AND l.id = ANY(%s) AND NOT l.deleted"
    " AND (e.entry ->> 'deleted') IS DISTINCT FROM 'true')"
)


def compile_list(special: SpecialCriterion, scope: SpecialScope) -> Condition:
    if special.modifier is not None:
        raise FhirError.single("invalid", f"Search parameter _list: :{special.modifier} is not a modifier of _list")
    ids = [_list_id(unescape(value)) for value in split_unescaped(special.value, ",")]
    return Condition(_ITEMS, (_item_pattern(scope.resource_type, scope.context.base_url), scope.project_id, ids))


def _list_id(value: str) -> str:
    if value.startswith("$"):
        # Functional lists ($current-allergies, ...) need a patient context that search lacks.
        raise FhirError.single("not-supported", f"Search parameter _list: {value!r} is not supported")
    found = _LIST_ID.match(value)
    if found is None:
        raise FhirError.single("invalid", f"Search parameter _list: {value!r} is not a List id (List/id or id)")
    return found.group(1)


def _item_pattern(resource_type: str, base_url: str) -> str:
    """A PostgreSQL regular expression whose first group is the id of a reference to
    `resource_type`: `Patient/1`, `Patient/1/_history/2`, `<base>/Patient/1`."""
    base = f"(?:{_literal(base_url)}/)?" if base_url else ""
    return f"^{base}{resource_type}/([A-Za-z0-9.-]{{1,64}})(?:/_history/[^/]+)?$"


def _literal(text: str) -> str:
    # In a PostgreSQL advanced regular expression, a backslash before a character that is not
    # a letter or digit stands for that character.
    return "".join(char if char.isalnum() else "\\" + char for char in text)
