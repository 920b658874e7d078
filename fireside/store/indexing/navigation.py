"""Parsed paths compiled, with the StructureDefinitions, into Python over the resource's JSON.

Compiling against the definitions does two things an interpreter cannot do once per resource:
a choice element (`Observation.effective`) becomes the few JSON keys it can be
(`effectiveDateTime`, `effectivePeriod`, ...), and every branch knows the FHIR type of the
values it yields, so the code that turns values into index rows is picked here, once, and not
by inspecting each value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fireside.fhir import FhirDefinitions
from fireside.fhir.definitions import StructureDefinition
from fireside.store.indexing.expressions import (
    Child,
    ExtensionUrl,
    Index,
    OfType,
    Path,
    Root,
    Step,
    UnsupportedExpression,
    WhereEquals,
    WhereResolveIs,
)
from fireside.store.indexing.references import reference_type

Nodes = list[Any]
Operation = Callable[[Nodes], Nodes]
Navigator = Callable[[dict[str, Any]], Nodes]

# The type of values whose type the definitions do not tell (contained resources, ...).
UNKNOWN_TYPE = "*"
_EMPTY: Nodes = []
_ELEMENT_TYPES = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True)
class Branch:
    """One way through a path: the JSON keys and filters to apply, and the type it yields."""

    navigate: Navigator
    type_code: str


@dataclass(frozen=True)
class _Position:
    """Where compilation stands: the type of the current values and where to find their children."""

    type_code: str
    structure: StructureDefinition | None
    element_path: str
    operations: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Element:
    """The values a path leads to, and where they stand in their type's definition, so that
    paths relative to them can be compiled (a composite parameter's components)."""

    navigate: Navigator
    type_code: str
    position: _Position


def compile_path(definitions: FhirDefinitions, resource_type: str, path: Path) -> list[Branch]:
    """The branches of `path` for `resource_type`; none if the path is rooted at another type."""
    return [Branch(_navigator(p.operations), p.type_code)
            for p in _positions(definitions, resource_type, path) if p.operations]


def compile_elements(definitions: FhirDefinitions, resource_type: str, path: Path) -> list[Element]:
    """Like `compile_path`, and a path that is its root alone (`Observation`) leads to the
    resource itself."""
    return [Element(_navigator(p.operations) if p.operations else _itself, p.type_code, p)
            for p in _positions(definitions, resource_type, path)]


def compile_relative(definitions: FhirDefinitions, element: Element, steps: Path) -> list[Branch]:
    """The branches of `steps` (a path without its root) applied to the values of `element`."""
    start = element.position
    positions = [_Position(start.type_code, start.structure, start.element_path, ())]
    for step in steps:
        positions = _advance(definitions, positions, step)
    return [Branch(_navigator(p.operations), p.type_code) for p in positions if p.operations]


def _positions(definitions: FhirDefinitions, resource_type: str, path: Path) -> list[_Position]:
    root = path[0]
    if not isinstance(root, Root) or root.type_name not in (resource_type, "Resource", "DomainResource"):
        return []
    structure = definitions.types.get(root.type_name)
    if structure is None:
        raise UnsupportedExpression(f"unknown type {root.type_name}")
    positions = [_Position(root.type_name, structure, root.type_name, ())]
    for step in path[1:]:
        positions = _advance(definitions, positions, step)
    return positions


def _itself(value: dict[str, Any]) -> Nodes:
    return [value]


def _advance(definitions: FhirDefinitions, positions: list[_Position], step: Step) -> list[_Position]:
    if isinstance(step, Child):
        return [after for position in positions for after in _children(definitions, position, step.name)]
    if isinstance(step, OfType):
        return [p for p in positions if _is_a(definitions, p.type_code, step.type_name)]
    if isinstance(step, WhereResolveIs):
        return [_then(p, ("resolves_to", step.type_name)) for p in positions]
    if isinstance(step, WhereEquals):
        return [_then(p, ("where_equals", (step.field, step.literal))) for p in positions]
    if isinstance(step, ExtensionUrl):
        extension = definitions.types["Extension"]
        return [
            _Position("Extension", extension, "Extension", (*p.operations, ("extension", step.url)))
            for p in positions
        ]
    if isinstance(step, Index):
        # An index counts over all branches together, which separate branches cannot do.
        if len(positions) != 1:
            raise UnsupportedExpression("an indexer after a choice element")
        return [_then(positions[0], ("index", step.position))]
    raise UnsupportedExpression(f"{step!r} is not compiled")


def _then(position: _Position, operation: tuple[str, Any]) -> _Position:
    return _Position(position.type_code, position.structure, position.element_path,
                     (*position.operations, operation))


def _children(definitions: FhirDefinitions, position: _Position, name: str) -> list[_Position]:
    structure = position.structure
    if structure is None:
        raise UnsupportedExpression(f"child {name} of a value of unknown type")
    element = structure.element(f"{position.element_path}.{name}")
    if element is None:
        choice = structure.element(f"{position.element_path}.{name}[x]")
        if choice is None:
            raise UnsupportedExpression(f"{position.element_path} has no element {name}")
        return [
            _typed_position(definitions, structure, choice.path, kind.code, position.operations,
                            name + kind.code[0].upper() + kind.code[1:])
            for kind in choice.types
        ]
    if element.content_reference:
        target = element.content_reference.rpartition("#")[2]
        return [_Position("BackboneElement", structure, target, (*position.operations, ("child", name)))]
    return [
        _typed_position(definitions, structure, element.path, kind.code, position.operations, name)
        for kind in element.types
    ]


def _typed_position(
    definitions: FhirDefinitions, structure: StructureDefinition, element_path: str, type_code: str,
    operations: tuple[tuple[str, Any], ...], key: str,
) -> _Position:
    steps = (*operations, ("child", key))
    if type_code in _ELEMENT_TYPES:
        return _Position("BackboneElement", structure, element_path, steps)
    data_type = definitions.types.get(type_code)
    if data_type is None or data_type.is_resource:
        return _Position(UNKNOWN_TYPE, None, "", steps)
    return _Position(type_code, data_type, type_code, steps)


def _is_a(definitions: FhirDefinitions, type_code: str, wanted: str) -> bool:
    """FHIRPath `as`: the type or a specialization of it (an Age is a Quantity).

    Composite definitions write `DateTime` for `dateTime`, so the first letter's case is ignored."""
    wanted = wanted[:1].lower() + wanted[1:]
    seen = 0
    current: str | None = type_code
    while current is not None and seen < 10:
        if current[:1].lower() + current[1:] == wanted:
            return True
        structure = definitions.types.get(current)
        base = structure.base_definition if structure else None
        current = base.rpartition("/")[2] if base else None
        seen += 1
    return False


def _navigator(operations: tuple[tuple[str, Any], ...]) -> Navigator:
    """One closure per branch. The first operation is always a key of the resource itself."""
    kind, first_key = operations[0]
    assert kind == "child"
    rest = [_OPERATIONS[name](argument) for name, argument in operations[1:]]
    if not rest:
        def navigate_one(resource: dict[str, Any]) -> Nodes:
            value = resource.get(first_key)
            if value is None:
                return _EMPTY
            return value if value.__class__ is list else [value]

        return navigate_one

    def navigate(resource: dict[str, Any]) -> Nodes:
        value = resource.get(first_key)
        if value is None:
            return _EMPTY
        nodes = value if value.__class__ is list else [value]
        for operation in rest:
            nodes = operation(nodes)
            if not nodes:
                break
        return nodes

    return navigate


def _child(key: str) -> Operation:
    def child(nodes: Nodes) -> Nodes:
        found: Nodes = []
        for node in nodes:
            value = node.get(key)
            if value is None:
                continue
            if value.__class__ is list:
                found.extend(value)
            else:
                found.append(value)
        return found

    return child


def _resolves_to(type_name: str) -> Operation:
    def resolves_to(nodes: Nodes) -> Nodes:
        return [node for node in nodes if reference_type(node) == type_name]

    return resolves_to


def _where_equals(criterion: tuple[str, str]) -> Operation:
    field, literal = criterion

    def where_equals(nodes: Nodes) -> Nodes:
        return [node for node in nodes if node.get(field) == literal]

    return where_equals


def _extension(url: str) -> Operation:
    def extension(nodes: Nodes) -> Nodes:
        return [
            item for node in nodes for item in node.get("extension") or _EMPTY
            if item.get("url") == url
        ]

    return extension


def _index(position: int) -> Operation:
    def index(nodes: Nodes) -> Nodes:
        return nodes[position:position + 1]

    return index


_OPERATIONS: dict[str, Callable[[Any], Operation]] = {
    "child": _child,
    "resolves_to": _resolves_to,
    "where_equals": _where_equals,
    "extension": _extension,
    "index": _index,
}
