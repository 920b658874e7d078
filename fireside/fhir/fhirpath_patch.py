"""FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource whose
`operation` parameters (add, insert, delete, replace, move) name their targets with FHIRPath,
applied to a resource's JSON.

Paths are evaluated by fhirpathpy against the R4 model. It answers with nodes, not places, so
each result is found again in the JSON tree: an object (a complex element) by identity, since
it is the very dict inside the resource, and a primitive by the element path fhirpathpy records
for it (`Patient.name[1].given[0]`), checked against the value found there. The definitions
then say whether an element repeats, which types it takes, and which key a choice element's
value goes under (`value` + `Quantity`).

A malformed Parameters document or path is 400 (`invalid`); a well-formed operation that
cannot apply to this resource (nothing at the path, a wrong type) is 422 (`processing`).
Messages name the operation by its place: `Parameters.parameter[2]`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream, Token
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from fireside.fhir.definitions import ElementDefinition, FhirDefinitions, StructureDefinition
from fireside.fhir.errors import FhirError, invalid
from fireside.fhir.fhirpath import fhirpath_options

Step = str | int
Location = tuple[Step, ...]

OPERATION_TYPES = ("add", "insert", "delete", "replace", "move")
_REQUIRED_PARTS = {
    "add": ("path", "name", "value"),
    "insert": ("path", "value", "index"),
    "delete": ("path",),
    "replace": ("path", "value"),
    "move": ("path", "source", "destination"),
}
_R4_MODEL: dict[str, Any] = models["r4"]
_ELEMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_ELEMENT_STEP = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?:\[(\d+)\])?$")
_MEMBER_AT_END = re.compile(r"^(.+)\.([A-Za-z][A-Za-z0-9]*)$")
# Primitive types whose JSON is a string, or a number: one may stand in for another of its kind
# (a valueString for a code), leaving the value's format to validation.
_STRING_TYPES = frozenset({
    "string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary",
    "date", "dateTime", "instant", "time", "xhtml",
})
_NUMBER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt", "decimal"})


@dataclass(frozen=True)
class PatchOperation:
    """One `operation` parameter, read and checked for the parts its type needs."""

    position: int
    type: str
    path: str
    name: str | None = None
    value: dict[str, Any] | None = None  # the `value` part itself: value[x], resource or parts
    index: int | None = None
    source: int | None = None
    destination: int | None = None

    @property
    def where(self) -> str:
        return f"Parameters.parameter[{self.position}]"


def apply_fhirpath_patch(
    resource: dict[str, Any], parameters: Any, definitions: FhirDefinitions
) -> dict[str, Any]:
    """The patched copy of `resource` (`resource` itself is left alone)."""
    operations = read_operations(parameters)
    patched = copy.deepcopy(resource)
    for operation in operations:
        _Patcher(patched, operation, definitions).apply()
    return patched


def read_operations(parameters: Any) -> list[PatchOperation]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise invalid("A FHIRPath Patch is a Parameters resource")
    raw_parameters = parameters.get("parameter", [])
    if not isinstance(raw_parameters, list):
        raise invalid("Parameters.parameter must be an array", "Parameters.parameter")
    return [_read_operation(position, raw) for position, raw in enumerate(raw_parameters)]


def _read_operation(position: int, raw: Any) -> PatchOperation:
    where = f"Parameters.parameter[{position}]"
    if not isinstance(raw, dict) or raw.get("name") != "operation":
        raise invalid("Every parameter of a FHIRPath Patch must be named 'operation'", f"{where}.name")
    parts = raw.get("part")
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise invalid("An operation needs its parts (type, path, ...)", f"{where}.part")
    by_name: dict[str, dict[str, Any]] = {}
    for number, part in enumerate(parts):
        name = part.get("name")
        if not isinstance(name, str) or name in by_name:
            raise invalid("Each part of an operation needs a name of its own", f"{where}.part[{number}].name")
        by_name[name] = part
    operation_type = _primitive(by_name, "type", str, where)
    if operation_type not in _REQUIRED_PARTS:
        raise invalid(f"Operation type {operation_type!r} is not one of {', '.join(OPERATION_TYPES)}",
                      f"{where}.part[type]")
    for required in _REQUIRED_PARTS[operation_type]:
        if required not in by_name:
            raise invalid(f"A {operation_type} operation needs a {required!r} part", where)
    name = _primitive(by_name, "name", str, where) if "name" in by_name else None
    if name is not None and not _ELEMENT_NAME.match(name):
        raise invalid(f"{name!r} is not an element name", f"{where}.part[name]")
    return PatchOperation(
        position=position,
        type=operation_type,
        path=_primitive(by_name, "path", str, where),
        name=name,
        value=by_name.get("value"),
        index=_position(by_name, "index", where),
        source=_position(by_name, "source", where),
        destination=_position(by_name, "destination", where),
    )


def _primitive(parts: dict[str, dict[str, Any]], name: str, kind: type, where: str) -> Any:
    part = parts.get(name, {})
    values = [v for k, v in part.items() if k.startswith("value")]
    if len(values) != 1 or not isinstance(values[0], kind) or isinstance(values[0], bool) != (kind is bool):
        raise invalid(f"The {name!r} part needs one value of type {kind.__name__}", f"{where}.part[{name}]")
    return values[0]


def _position(parts: dict[str, dict[str, Any]], name: str, where: str) -> int | None:
    if name not in parts:
        return None
    number: int = _primitive(parts, name, int, where)
    if number < 0:
        raise invalid(f"The {name!r} part must not be negative", f"{where}.part[{name}]")
    return number


def check_fhirpath_syntax(path: str) -> str | None:
    """Why `path` is not a FHIRPath expression, or None if it is one.

    fhirpathpy's own parser recovers from syntax errors silently and evaluates what it could
    make of the text, so the grammar is run here with errors collected."""
    listener = _SyntaxErrors()
    lexer = FHIRPathLexer(InputStream(path))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser.expression()
    if not listener.errors and parser.getCurrentToken().type != Token.EOF:
        listener.errors.append(f"unexpected {parser.getCurrentToken().text!r}")
    return "; ".join(listener.errors) or None


class _SyntaxErrors:
    """An antlr4 error listener that keeps the messages."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def syntaxError(self, recognizer: Any, symbol: Any, line: int, column: int, message: str, error: Any) -> None:
        self.errors.append(f"at {column}: {message}")

    def reportAmbiguity(self, *args: Any) -> None:
        pass

    def reportAttemptingFullContext(self, *args: Any) -> None:
        pass

    def reportContextSensitivity(self, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class _Place:
    """Where an object sits in the definitions: the structure and element path that define its
    children (`HumanName`, or `Patient.contact` for a backbone element)."""

    structure: StructureDefinition
    path: str


@dataclass(frozen=True)
class _Slot:
    """What the definitions say of one key of an object."""

    element: ElementDefinition
    base: str  # the key without a choice type: "value" for valueQuantity

    @property
    def type_codes(self) -> set[str]:
        return {_system_type(t.code) for t in self.element.types}


class _Patcher:
    """Applies one operation to `root` in place."""

    def __init__(self, root: dict[str, Any], operation: PatchOperation, definitions: FhirDefinitions) -> None:
        self.root = root
        self.operation = operation
        self.definitions = definitions

    def apply(self) -> None:
        {
            "add": self._add,
            "insert": self._insert,
            "delete": self._delete,
            "replace": self._replace,
            "move": self._move,
        }[self.operation.type]()

    # The five operations.

    def _add(self) -> None:
        assert self.operation.name is not None
        location = self._single(self._evaluate(self.operation.path))
        target = _get(self.root, location)
        if not isinstance(target, dict):
            raise self._cannot(f"add puts a child element into an element with children; {self.operation.path} "
                               "is a primitive value")
        place = self._place_of(location)
        slot = self._slot(place, self.operation.name)
        value, type_code = self._value(_child_place(self.definitions, place, slot, None))
        key = self._key(self.operation.name, slot, type_code)
        existing = target.get(key)
        if isinstance(existing, list) or (slot is not None and slot.element.is_array):
            items = existing if isinstance(existing, list) else [] if existing is None else [existing]
            target[key] = [*items, value]
            return
        taken = [k for k in target if k == key or (place is not None and slot is not None and _slot(place, k) == slot)]
        if taken:
            raise self._cannot(f"{self.operation.path} already has a {taken[0]}; use replace to change it")
        target[key] = value

    def _insert(self) -> None:
        assert self.operation.index is not None
        list_location, items = self._collection()
        if self.operation.index > len(items):
            raise self._cannot(f"index {self.operation.index} is beyond the end of {self.operation.path} "
                               f"({len(items)} elements)")
        place = self._place_of(list_location[:-1])
        slot = self._slot(place, str(list_location[-1]))
        value, type_code = self._value(_child_place(self.definitions, place, slot, None))
        self._key(str(list_location[-1]), slot, type_code)
        items.insert(self.operation.index, value)
        _set(self.root, list_location, items)
        extensions = _primitive_extensions(self.root, list_location)
        if extensions is not None:
            extensions.insert(self.operation.index, None)

    def _delete(self) -> None:
        results = self._evaluate(self.operation.path)
        if not results:
            return  # the spec: delete the element "if found"
        location = self._single(results)
        if not location:
            raise self._cannot("delete cannot remove the resource itself")
        _remove(self.root, location)

    def _replace(self) -> None:
        location = self._single(self._evaluate(self.operation.path))
        if not location:
            raise self._cannot("replace cannot swap the whole resource; use update")
        key_location = location[:-1] if isinstance(location[-1], int) else location
        owner = key_location[:-1]
        key = str(key_location[-1])
        place = self._place_of(owner)
        slot = self._slot(place, key)
        value, type_code = self._value(_child_place(self.definitions, place, slot, None))
        new_key = self._key(key, slot, type_code)
        if isinstance(location[-1], int):
            _get(self.root, key_location)[location[-1]] = value
            extensions = _primitive_extensions(self.root, key_location)
            if extensions is not None:
                extensions[location[-1]] = None
                _drop_empty_extensions(self.root, key_location)
            return
        # The whole element is replaced, so its primitive extensions (`_birthDate`) go with it.
        # A choice may change its key (valueQuantity to valueString); the key keeps its place.
        container: dict[str, Any] = _get(self.root, owner)
        replaced = {(new_key if k == key else k): (value if k == key else v)
                    for k, v in container.items() if k != f"_{key}"}
        container.clear()
        container.update(replaced)

    def _move(self) -> None:
        assert self.operation.source is not None and self.operation.destination is not None
        list_location, items = self._collection()
        for name, number in (("source", self.operation.source), ("destination", self.operation.destination)):
            if number >= len(items):
                raise self._cannot(f"{name} {number} is beyond the end of {self.operation.path} "
                                   f"({len(items)} elements)")
        items.insert(self.operation.destination, items.pop(self.operation.source))
        extensions = _primitive_extensions(self.root, list_location)
        if extensions is not None and len(extensions) == len(items):
            extensions.insert(self.operation.destination, extensions.pop(self.operation.source))

    # Finding the elements a path names.

    def _evaluate(self, path: str) -> list[Location]:
        if "resolve(" in path.replace(" ", ""):
            raise invalid(f"{self.operation.where}: a patch path may not use resolve(): it changes only "
                          "the resource it is sent to", f"{self.operation.where}.part[path]")
        problem = check_fhirpath_syntax(path)
        if problem:
            raise invalid(f"{self.operation.where}: {path!r} is not a FHIRPath expression: {problem}",
                          f"{self.operation.where}.part[path]")
        variables = {"resource": self.root, "rootResource": self.root}
        try:
            results = fhirpathpy.evaluate(self.root, path, variables, _R4_MODEL, fhirpath_options(returnRawData=True))
        # fhirpathpy signals evaluation errors (an unknown function, a type clash) as bare Exceptions.
        except Exception as error:
            raise self._cannot(f"{path!r} could not be evaluated: {error}") from None
        locations = []
        for node in results:
            # fhirpathpy also yields the extensions of primitives (`_given`, with None where a
            # value has none) as nodes of their own; they are part of their value, not elements.
            if isinstance(node, ResourceNode) and node.data is None:
                continue
            location = self._locate(node, path)
            if not any(isinstance(step, str) and step.startswith("_") for step in location):
                locations.append(location)
        return locations

    def _locate(self, node: Any, path: str) -> Location:
        if not isinstance(node, ResourceNode):
            raise self._cannot(f"{path!r} computes a value ({node!r}); it must name elements of the resource")
        data = node.data
        if isinstance(data, dict | list):
            found = _find_object(self.root, data)
            if found is not None:
                return found
        for location in (_location_of_element_path(self.root, node.propName), self._member_of_owner(node, path)):
            if location is not None and _same(_get(self.root, location), data):
                return location
        raise self._cannot(f"cannot tell which element of the resource {path!r} names; name it by its "
                           "element path (Patient.name[0].given[1])")

    def _member_of_owner(self, node: Any, path: str) -> Location | None:
        """A primitive whose element path fhirpathpy lost (under `extension('url')`), looked up in
        its owner: the one object the path names without its last step."""
        match = _MEMBER_AT_END.match(path.strip())
        if match is None:
            return None
        owners = self._evaluate(match.group(1))
        owner = _get(self.root, owners[0]) if len(owners) == 1 else None
        key = _json_key(owner, match.group(2)) if isinstance(owner, dict) else None
        if owner is None or key is None:
            return None
        if not isinstance(owner[key], list):
            return (*owners[0], key)
        index = node.index
        return (*owners[0], key, index) if isinstance(index, int) and index < len(owner[key]) else None

    def _single(self, locations: list[Location]) -> Location:
        if len(locations) != 1:
            found = "no element" if not locations else f"{len(locations)} elements"
            raise self._cannot(f"{self.operation.path} must name exactly one element; it names {found}")
        return locations[0]

    def _collection(self) -> tuple[Location, list[Any]]:
        """The list `path` names (all of it), created empty if the element is absent."""
        path = self.operation.path
        locations = self._evaluate(path)
        if locations:
            if any(not location or not isinstance(location[-1], int) for location in locations):
                raise self._cannot(f"{path} is not a repeating element")
            lists = {location[:-1] for location in locations}
            if len(lists) != 1:
                raise self._cannot(f"{path} names elements of more than one list")
            list_location = lists.pop()
            items: list[Any] = _get(self.root, list_location)
            if len(locations) != len(items):
                raise self._cannot(f"{path} names only some elements of its list; name the whole list")
            return list_location, items
        # Nothing there: the list is absent. Its owner is the path without its last step.
        match = _MEMBER_AT_END.match(path.strip())
        if match is None:
            raise self._cannot(f"{path} names no element")
        owner = self._single_owner(match.group(1))
        key = _json_key(_get(self.root, owner), match.group(2)) or match.group(2)
        slot = self._slot(self._place_of(owner), key)
        if slot is not None and not slot.element.is_array:
            raise self._cannot(f"{path} is not a repeating element")
        return (*owner, key), []

    def _single_owner(self, path: str) -> Location:
        locations = self._evaluate(path)
        if len(locations) != 1 or not isinstance(_get(self.root, locations[0]), dict):
            raise self._cannot(f"{self.operation.path} names no element, and {path} is not one element "
                               "that could hold it")
        return locations[0]

    # What the definitions say.

    def _place_of(self, location: Location) -> _Place | None:
        return _place_of_object(self.definitions, self.root, location)

    def _slot(self, place: _Place | None, key: str) -> _Slot | None:
        if place is None:
            return None
        slot = _slot(place, key)
        if slot is None:
            raise self._cannot(f"{place.path} has no element {key!r}")
        return slot

    def _value(self, place: _Place | None) -> tuple[Any, str | None]:
        assert self.operation.value is not None
        return _part_value(self.operation.value, f"{self.operation.where}.part[value]", self.definitions, place)

    def _key(self, key: str, slot: _Slot | None, type_code: str | None) -> str:
        """The JSON key a value goes under, after checking that its type fits the element."""
        if slot is None:
            return key
        codes = slot.type_codes
        if slot.element.is_choice:
            if type_code is None:
                if key == slot.base:
                    raise self._cannot(f"{key}[x] needs a typed value (value[x]) to choose its type")
                return key
            if type_code not in codes and not (codes == {"*"}):
                raise self._cannot(f"{slot.base}[x] cannot be a {type_code}; it takes {', '.join(sorted(codes))}")
            return slot.base + type_code[0].upper() + type_code[1:]
        if type_code is not None and codes and not _fits(type_code, codes, self.definitions):
            raise self._cannot(f"a {type_code} cannot go in {slot.element.path}, which takes "
                               f"{', '.join(sorted(codes))}")
        return key

    def _cannot(self, reason: str) -> FhirError:
        return FhirError.single("processing", f"{self.operation.where} ({self.operation.type} "
                                f"{self.operation.path}): {reason}", self.operation.where)


def _fits(type_code: str, codes: set[str], definitions: FhirDefinitions) -> bool:
    if type_code in codes:
        return True
    if "Resource" in codes and definitions.is_resource_type(type_code):
        return True
    if type_code in _STRING_TYPES and codes & _STRING_TYPES:
        return True
    return type_code in _NUMBER_TYPES and bool(codes & _NUMBER_TYPES)


def _system_type(code: str) -> str:
    """`http://hl7.org/fhirpath/System.String` (the type of `id`s and `url`s) as `string`."""
    if code.startswith("http://hl7.org/fhirpath/System."):
        name = code.rsplit(".", 1)[-1]
        return name[0].lower() + name[1:]
    return code


def _part_value(
    part: dict[str, Any], where: str, definitions: FhirDefinitions, place: _Place | None
) -> tuple[Any, str | None]:
    """The JSON a `value` part carries, and its FHIR type when the part names it (valueHumanName)."""
    keys = [k for k in part if k.startswith("value")]
    if len(keys) > 1:
        raise invalid(f"A value part holds one value[x]; this one has {', '.join(keys)}", where)
    if keys:
        suffix = keys[0][len("value"):]
        if not suffix:
            raise invalid("A value part names its type: valueString, valueHumanName, ...", where)
        type_code = suffix if suffix in definitions.types else suffix[:1].lower() + suffix[1:]
        return part[keys[0]], type_code
    resource = part.get("resource")
    if isinstance(resource, dict):
        resource_type = resource.get("resourceType")
        return resource, resource_type if isinstance(resource_type, str) else None
    parts = part.get("part")
    if isinstance(parts, list) and parts:
        return _object_from_parts(parts, where, definitions, place), None
    raise invalid("A value part needs a value[x], a resource or parts", where)


def _object_from_parts(
    parts: list[Any], where: str, definitions: FhirDefinitions, place: _Place | None
) -> dict[str, Any]:
    """An element without a data type of its own (Patient.contact) built from named parts."""
    result: dict[str, Any] = {}
    for number, part in enumerate(parts):
        part_where = f"{where}.part[{number}]"
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str) or not _ELEMENT_NAME.match(name):
            raise invalid("Each part of a value needs the element name it sets", f"{part_where}.name")
        slot = _slot(place, name) if place is not None else None
        if place is not None and slot is None:
            raise FhirError.single("processing", f"{place.path} has no element {name!r}", part_where)
        value, type_code = _part_value(part, part_where, definitions, _child_place(definitions, place, slot, None))
        key = name
        if slot is not None and slot.element.is_choice and type_code is not None and name == slot.base:
            key = name + type_code[0].upper() + type_code[1:]
        if (slot is not None and slot.element.is_array) or key in result:
            existing = result.get(key)
            result[key] = [*(existing if isinstance(existing, list) else [] if existing is None else [existing]),
                           value]
        else:
            result[key] = value
    return result


def _resource_place(definitions: FhirDefinitions, resource: Any) -> _Place | None:
    resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
    structure = definitions.types.get(resource_type) if isinstance(resource_type, str) else None
    return _Place(structure, structure.type) if structure is not None else None


def _slot(place: _Place, key: str) -> _Slot | None:
    for element in place.structure.children(place.path):
        name = element.name
        if not element.is_choice:
            if name == key:
                return _Slot(element, name)
            continue
        base = name[:-3]
        if key == base:
            return _Slot(element, base)
        suffix = key[len(base):]
        if key.startswith(base) and suffix and any(
            _system_type(t.code)[:1].upper() + _system_type(t.code)[1:] == suffix for t in element.types
        ):
            return _Slot(element, base)
    return None


def _child_place(definitions: FhirDefinitions, place: _Place | None, slot: _Slot | None, value: Any) -> _Place | None:
    """The place of the object found under `slot` (`value` settles a contained resource's type)."""
    if place is None or slot is None:
        return None
    resource_place = _resource_place(definitions, value)
    if resource_place is not None:
        return resource_place
    element = slot.element
    if element.content_reference:
        return _Place(place.structure, element.content_reference.rsplit("#", 1)[-1])
    if place.structure.children(element.path):
        return _Place(place.structure, element.path)
    codes = [_system_type(t.code) for t in element.types]
    structure = definitions.types.get(codes[0]) if len(codes) == 1 else None
    if structure is None or structure.is_primitive:
        return None
    return _Place(structure, structure.type)


def _place_of_object(definitions: FhirDefinitions, root: dict[str, Any], location: Location) -> _Place | None:
    place = _resource_place(definitions, root)
    value: Any = root
    slot: _Slot | None = None
    for step in location:
        value = value[step]
        if isinstance(step, str):
            if place is None:
                return None
            slot = _slot(place, step)
            if isinstance(value, list):
                continue  # the step into the list settles the item's place
        place = _child_place(definitions, place, slot, value)
    return place


def _find_object(container: Any, target: Any, location: Location = ()) -> Location | None:
    """Where the very object `target` sits inside `container` (found by identity)."""
    if container is target:
        return location
    children: Any = container.items() if isinstance(container, dict) else (
        enumerate(container) if isinstance(container, list) else ())
    for step, child in children:
        if isinstance(child, dict | list):
            found = _find_object(child, target, (*location, step))
            if found is not None:
                return found
    return None


def _location_of_element_path(root: dict[str, Any], element_path: str | None) -> Location | None:
    """`Patient.name[1].given[0]` as ("name", 1, "given", 0), if the resource has it."""
    if not element_path:
        return None
    first, *steps = element_path.split(".")
    if first != root.get("resourceType"):
        return None
    location: list[Step] = []
    current: Any = root
    for step in steps:
        match = _ELEMENT_STEP.match(step)
        if match is None or not isinstance(current, dict):
            return None
        key = _json_key(current, match.group(1))
        if key is None:
            return None
        location.append(key)
        current = current[key]
        if match.group(2) is not None:
            index = int(match.group(2))
            if not isinstance(current, list) or index >= len(current):
                return None
            location.append(index)
            current = current[index]
    return tuple(location)


def _json_key(obj: dict[str, Any], name: str) -> str | None:
    """The key `name` is stored under: itself, or a choice element's typed key (value → valueQuantity)."""
    if name in obj:
        return name
    typed = [k for k in obj if k.startswith(name) and len(k) > len(name) and k[len(name)].isupper()]
    return typed[0] if len(typed) == 1 else None


def _same(found: Any, expected: Any) -> bool:
    if isinstance(expected, dict | list):
        return found is expected
    return type(found) is type(expected) and bool(found == expected)


def _get(root: Any, location: Location) -> Any:
    value = root
    for step in location:
        value = value[step]
    return value


def _set(root: dict[str, Any], location: Location, value: Any) -> None:
    _get(root, location[:-1])[location[-1]] = value


def _primitive_extensions(root: dict[str, Any], list_location: Location) -> list[Any] | None:
    """The `_given` list that runs alongside a list of primitives (`given`), if there is one."""
    owner = _get(root, list_location[:-1])
    extensions = owner.get(f"_{list_location[-1]}") if isinstance(owner, dict) else None
    return extensions if isinstance(extensions, list) else None


def _drop_empty_extensions(root: dict[str, Any], list_location: Location) -> None:
    extensions = _primitive_extensions(root, list_location)
    if extensions is not None and all(e is None for e in extensions):
        _get(root, list_location[:-1]).pop(f"_{list_location[-1]}")


def _remove(root: dict[str, Any], location: Location) -> None:
    """Remove the element at `location`, then any object or list left empty above it (FHIR JSON
    has no empty objects or arrays)."""
    container = _get(root, location[:-1])
    step = location[-1]
    if isinstance(step, int):
        del container[step]
        extensions = _primitive_extensions(root, location[:-1])
        if extensions is not None and step < len(extensions):
            del extensions[step]
            _drop_empty_extensions(root, location[:-1])
    else:
        del container[step]
        container.pop(f"_{step}", None)
    parent = location[:-1]
    if parent and not _get(root, parent):
        _remove(root, parent)
