"""Which search parameters each resource type has, and how each one's values are found.

Built from the R4 SearchParameter definitions: a parameter applies to a type when its base names
the type (or Resource / DomainResource), and only the union parts of its expression rooted at
that type are compiled. Each expression is compiled once, per type.

Some parameters hold exactly the values of others and are not stored twice (fewer rows to
write on every ingest): Observation `combo-code` is the union of `code` and `component-code`,
and `patient` is `subject` restricted to Patient targets. Search reads the rows of the
parameters they derive from (`rows_in`, `target_type`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fireside.fhir import FhirDefinitions
from fireside.fhir.definitions import SearchParameterDefinition
from fireside.store.indexing.composites import Component, compile_composite
from fireside.store.indexing.expressions import (
    Path,
    Root,
    UnsupportedExpression,
    WhereResolveIs,
    parse_expression,
    split_union,
)
from fireside.store.indexing.fallback import interpret
from fireside.store.indexing.navigation import UNKNOWN_TYPE, compile_path
from fireside.store.indexing.positions import compile_position
from fireside.store.indexing.tables import COMPOSITE, POSITION, TABLE_OF_TYPE, IndexTable
from fireside.store.indexing.values import (
    IDENTIFIER_ROWS,
    IDENTIFIER_TYPE,
    OF_TYPE_ROWS,
    REFERENCE_IDENTIFIER,
    Row,
    RowsOf,
    rows_of,
    sniff_rows_of,
)

if TYPE_CHECKING:
    from fireside.store.indexing.custom import ProjectParameters, Source

log = logging.getLogger(__name__)

Extractor = Callable[[dict[str, Any]], list[Row]]

# Served by columns of the resource table, not by index rows.
RESOURCE_COLUMNS = {"_id": "id", "_lastUpdated": "last_updated"}
_NONE: list[Row] = []


@dataclass(frozen=True)
class IndexedParameter:
    """A search parameter of one resource type that search can answer."""

    code: str
    type: str
    definition: SearchParameterDefinition
    # The index table, or None for a parameter served by the resource table (`resource_column`).
    table: IndexTable | None
    # The `parameter` values of the index rows that hold this parameter's values.
    rows_in: tuple[str, ...] = ()
    # Reference rows count only when they point at this type (`patient` read from `subject` rows).
    target_type: str | None = None
    # How to find the values in a resource; None when they are read from other parameters' rows.
    extract: Extractor | None = None
    resource_column: str | None = None
    # A composite's components, in the order of its search value's `$`-separated parts.
    components: tuple[Component, ...] = ()


@dataclass
class TypeParameters:
    """Everything about one resource type's search parameters, compiled."""

    searchable: dict[str, IndexedParameter] = field(default_factory=dict)
    # Known parameters that search cannot answer yet (no expression, a special one other than
    # `near`, a composite whose components cannot be indexed).
    unsupported: dict[str, SearchParameterDefinition] = field(default_factory=dict)
    # What the indexer extracts: (parameter code, table, extractor).
    stored: tuple[tuple[str, IndexTable, Extractor], ...] = ()


class SearchParameterRegistry:
    """Every resource type's parameters, compiled at construction (about 1 s for all of R4,
    once per process: registries on the same definitions share the compiled types, which only
    the definitions determine), so that what is not supported is reported once, at start-up."""

    def __init__(self, definitions: FhirDefinitions, compile_now: bool = True) -> None:
        self.definitions = definitions
        self._by_type = _compiled_types(definitions)
        if compile_now:
            self.compile_all()

    def of_type(self, resource_type: str) -> TypeParameters:
        compiled = self._by_type.get(resource_type)
        if compiled is None:
            compiled = self._by_type[resource_type] = _compile_type(self.definitions, resource_type)
        return compiled

    def for_type(self, resource_type: str) -> dict[str, IndexedParameter]:
        return self.of_type(resource_type).searchable

    async def for_project(self, source: Source, project_id: UUID) -> SearchParameterRegistry:
        """This registry with the SearchParameters `project_id` stored (custom.py): itself when
        it has none. Cached per process; a dict lookup unless the project's parameters changed."""
        return await self.projects.registry_for(source, project_id)

    @cached_property
    def projects(self) -> ProjectParameters:
        from fireside.store.indexing.custom import ProjectParameters  # custom.py builds on this module

        return ProjectParameters(self)

    def parameter(self, resource_type: str, code: str) -> IndexedParameter | None:
        return self.of_type(resource_type).searchable.get(code)

    def compile_all(self) -> None:
        """Compile every resource type now (at start-up) and warn once about what is skipped."""
        if len(self._by_type) >= len(self.definitions.resource_types):
            return  # compiled, and reported, by an earlier registry in this process
        skipped: set[str] = set()
        for resource_type in self.definitions.resource_types:
            skipped.update(f"{code} ({d.type})" for code, d in self.of_type(resource_type).unsupported.items()
                           if code not in ANSWERED_WITHOUT_ROWS)
        if skipped:
            log.warning("search parameters not supported yet: %s", ", ".join(sorted(skipped)))


# Parameters with no index rows that search answers all the same: full text over the stored
# narrative and content (fireside/search/filters/full_text.py).
ANSWERED_WITHOUT_ROWS = frozenset({"_text", "_content"})

# id(definitions) -> (definitions, compiled types); the definitions are kept so that the id is not reused.
_COMPILED: dict[int, tuple[FhirDefinitions, dict[str, TypeParameters]]] = {}


def _compiled_types(definitions: FhirDefinitions) -> dict[str, TypeParameters]:
    """The compiled types shared by every registry on `definitions`. Safe to share: nothing
    changes a compiled type after compiling (project overlays copy them, see custom.py)."""
    entry = _COMPILED.get(id(definitions))
    if entry is None:
        entry = _COMPILED[id(definitions)] = (definitions, {})
    return entry[1]


def _compile_type(definitions: FhirDefinitions, resource_type: str) -> TypeParameters:
    compiled = TypeParameters()
    candidates: list[tuple[SearchParameterDefinition, list[Path] | None]] = []
    own_tables: list[IndexedParameter] = []
    for definition in definitions.search_parameters_for(resource_type):
        if definition.code in RESOURCE_COLUMNS:
            compiled.searchable[definition.code] = IndexedParameter(
                definition.code, definition.type, definition, None,
                resource_column=RESOURCE_COLUMNS[definition.code])
        elif definition.type in ("composite", "special") and definition.expression:
            own = _own_table_parameter(definitions, definition, resource_type)
            if own is None:
                compiled.unsupported[definition.code] = definition
            else:
                compiled.searchable[definition.code] = own
                own_tables.append(own)
        elif definition.type not in TABLE_OF_TYPE or not definition.expression:
            compiled.unsupported[definition.code] = definition
        else:
            candidates.append((definition, _paths_for(definition.expression, resource_type)))
    stored_keys: dict[tuple[str, frozenset[Path]], str] = {}
    stored: list[tuple[str, IndexTable, Extractor]] = []
    for definition, paths in sorted(candidates, key=_derivation_order):
        table = TABLE_OF_TYPE[definition.type]
        derived = _derived(definition, paths, stored_keys) if paths is not None else None
        if derived is not None:
            compiled.searchable[definition.code] = derived
            continue
        extract = _extractor(definitions, definition, resource_type)
        if extract is None:
            continue
        if paths is not None:
            stored_keys[(definition.type, _key(paths))] = definition.code
        compiled.searchable[definition.code] = IndexedParameter(
            definition.code, definition.type, definition, table, (definition.code,), extract=extract)
        stored.append((definition.code, table, extract))
        if definition.type == "token":
            typed = _extractor(definitions, definition, resource_type, IDENTIFIER_TYPE)
            if typed is not None:
                stored.append((definition.code + OF_TYPE_ROWS, table, typed))
        if definition.type == "reference":
            identified = _extractor(definitions, definition, resource_type, REFERENCE_IDENTIFIER)
            if identified is not None:
                stored.append((definition.code + IDENTIFIER_ROWS, TABLE_OF_TYPE["token"], identified))
    own_tables = _with_derived_composites(own_tables, resource_type, compiled.searchable)
    stored.extend((p.code, p.table, p.extract) for p in own_tables if p.table and p.extract)
    compiled.stored = tuple(stored)
    return compiled


def _with_derived_composites(
    parameters: list[IndexedParameter], resource_type: str, searchable: dict[str, IndexedParameter]
) -> list[IndexedParameter]:
    """Composites whose elements are those of others with the same components read those
    others' rows: `combo-code-value-quantity` (`Observation | Observation.component`) is
    `code-value-quantity` and `component-code-value-quantity` together. On the sample bundles
    this leaves a third fewer composite rows to write. Returns the composites still stored."""
    keys = {p.code: _composite_key(p, resource_type) for p in parameters}
    singles = [(key, code) for code, key in keys.items() if key is not None and len(key[1]) == 1]
    kept: list[IndexedParameter] = []
    for parameter in parameters:
        key = keys[parameter.code]
        parts = [(paths, code) for (signature, paths), code in singles
                 if key is not None and len(key[1]) > 1 and signature == key[0] and paths <= key[1]]
        if key is not None and parts and frozenset().union(*(paths for paths, _ in parts)) == key[1]:
            searchable[parameter.code] = replace(
                parameter, rows_in=tuple(sorted(code for _, code in parts)), extract=None)
        else:
            kept.append(parameter)
    return kept


def _composite_key(
    parameter: IndexedParameter, resource_type: str
) -> tuple[tuple[tuple[str, str], ...], frozenset[Path]] | None:
    """What a composite's rows depend on: its components' types and expressions, and the paths
    of its elements."""
    if parameter.type != "composite" or parameter.definition.expression is None:
        return None
    paths = _paths_for(parameter.definition.expression, resource_type)
    if paths is None:
        return None
    return tuple((c.type, c.expression) for c in parameter.components), _key(paths)


def _own_table_parameter(
    definitions: FhirDefinitions, definition: SearchParameterDefinition, resource_type: str
) -> IndexedParameter | None:
    """A composite (rows per element, composites.py) or `near` (positions.py): never derived
    from another parameter's rows; None if it cannot be indexed."""
    assert definition.expression is not None
    parts = _parts_for(definition.expression, resource_type)
    if definition.type == "composite":
        composite = compile_composite(definitions, definition, resource_type, parts)
        if composite is None:
            return None
        return IndexedParameter(definition.code, definition.type, definition, COMPOSITE, (definition.code,),
                                extract=composite.extract, components=composite.components)
    extract = compile_position(definitions, definition, resource_type, parts)
    if extract is None:
        return None
    return IndexedParameter(definition.code, definition.type, definition, POSITION, (definition.code,),
                            extract=extract)


def _paths_for(expression: str, resource_type: str) -> list[Path] | None:
    """The parsed paths of `expression` that apply to `resource_type`; None if any does not parse."""
    paths: list[Path] = []
    for part in _parts_for(expression, resource_type):
        try:
            paths.extend(parse_expression(part))
        except UnsupportedExpression:
            return None
    return paths


def _parts_for(expression: str, resource_type: str) -> list[str]:
    """The union parts of `expression` rooted at `resource_type`. A part that starts with an
    element name instead of a type (InsurancePlan-name is `name | alias`) is read as rooted at
    the parameter's own type."""
    parts: list[str] = []
    for part in split_union(expression):
        root = part.lstrip("( ").split(".", 1)[0].split(" ", 1)[0]
        if root[:1].islower():
            parts.append(f"{resource_type}.{part}")
        elif root in (resource_type, "Resource", "DomainResource"):
            parts.append(part)
    return parts


def _key(paths: list[Path]) -> frozenset[Path]:
    """Paths compared without their root's spelling (`Resource.meta` is `Patient.meta` here)."""
    return frozenset((Root("*"), *path[1:]) for path in paths)


def _derivation_order(candidate: tuple[SearchParameterDefinition, list[Path] | None]) -> tuple[int, int, str]:
    """Fewer paths first, and plain paths before `where(resolve() is T)` ones, so that what a
    parameter can be derived from is stored before it."""
    definition, paths = candidate
    if paths is None:
        return (2, 0, definition.code)
    if len(paths) == 1:
        return (1 if isinstance(paths[0][-1], WhereResolveIs) else 0, 1, definition.code)
    return (2, len(paths), definition.code)


def _derived(
    definition: SearchParameterDefinition, paths: list[Path], stored_keys: dict[tuple[str, frozenset[Path]], str]
) -> IndexedParameter | None:
    table = TABLE_OF_TYPE[definition.type]
    same = stored_keys.get((definition.type, _key(paths)))
    if same is not None:
        return IndexedParameter(definition.code, definition.type, definition, table, (same,))
    if len(paths) == 1 and isinstance(paths[0][-1], WhereResolveIs) and definition.type == "reference":
        base = stored_keys.get((definition.type, _key([paths[0][:-1]])))
        if base is not None:
            return IndexedParameter(definition.code, definition.type, definition, table, (base,),
                                    target_type=paths[0][-1].type_name)
    if len(paths) > 1:
        # A union of stored parameters: the stored ones whose paths are all in this one's, if
        # together they have every path of it.
        wanted = _key(paths)
        covering = [(key, code) for (kind, key), code in stored_keys.items()
                    if kind == definition.type and key <= wanted]
        if covering and frozenset().union(*(key for key, _ in covering)) == wanted:
            codes = tuple(sorted({code for _, code in covering}))
            return IndexedParameter(definition.code, definition.type, definition, table, codes)
    return None


def _extractor(
    definitions: FhirDefinitions, definition: SearchParameterDefinition, resource_type: str, kind: str | None = None
) -> Extractor | None:
    """Rows of the parameter's type or, with `kind`, of that kind of extra rows (IDENTIFIER_TYPE:
    only from values typed Identifier)."""
    assert definition.expression is not None
    pairs: list[tuple[Callable[[dict[str, Any]], list[Any]], RowsOf]] = []
    for part in _parts_for(definition.expression, resource_type):
        pairs.extend(_compiled_part(definitions, definition, resource_type, part, kind))
    if not pairs:
        return None
    return _combine(pairs)


def _compiled_part(
    definitions: FhirDefinitions, definition: SearchParameterDefinition, resource_type: str, part: str,
    kind: str | None = None,
) -> list[tuple[Callable[[dict[str, Any]], list[Any]], RowsOf]]:
    try:
        branches = [b for path in parse_expression(part) for b in compile_path(definitions, resource_type, path)]
    except UnsupportedExpression as reason:
        if kind is not None:
            return []
        log.debug("%s %s: %r is interpreted (%s)", resource_type, definition.code, part, reason)
        interpreter = interpret(part)
        return [(interpreter, sniff_rows_of(definition.type))] if interpreter else []
    pairs: list[tuple[Callable[[dict[str, Any]], list[Any]], RowsOf]] = []
    for branch in branches:
        if kind is not None:
            rows = rows_of(kind, branch.type_code)
            if rows is not None:
                pairs.append((branch.navigate, rows))
            continue
        rows = rows_of(definition.type, branch.type_code)
        if rows is None and branch.type_code == UNKNOWN_TYPE:
            rows = sniff_rows_of(definition.type)
        if rows is None:
            log.debug("%s %s: %s values are not indexed as %s", resource_type, definition.code,
                      branch.type_code, definition.type)
            continue
        pairs.append((branch.navigate, rows))
    return pairs


def _combine(pairs: list[tuple[Callable[[dict[str, Any]], list[Any]], RowsOf]]) -> Extractor:
    if len(pairs) == 1:
        navigate, rows_of_value = pairs[0]

        def extract_one(resource: dict[str, Any]) -> list[Row]:
            nodes = navigate(resource)
            if not nodes:
                return _NONE
            if len(nodes) == 1:
                return rows_of_value(nodes[0])
            return [row for node in nodes for row in rows_of_value(node)]

        return extract_one

    def extract(resource: dict[str, Any]) -> list[Row]:
        rows: list[Row] = []
        for navigate, rows_of_value in pairs:
            for node in navigate(resource):
                rows.extend(rows_of_value(node))
        return rows

    return extract
