"""Search parameter expressions compiled once into fast extractors.

Interpreting FHIRPath for every parameter of every written resource caps ingest at a few
hundred resources a second (MEASURED.md: 20-32k evaluations/s). Almost all R4 expressions are
simple paths, though: `Patient.name`, `(Observation.value as Quantity)`,
`Observation.subject.where(resolve() is Patient)`, `Patient.telecom.where(system='phone')`.
Those compile to plain Python over the JSON; the rest fall back to fhirpathpy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

Extractor = Callable[[dict[str, Any]], list[Any]]
Step = Callable[[list[Any]], list[Any]]

_WHERE_RESOLVE = re.compile(r"^where\(resolve\(\) is (\w+)\)$")
_WHERE_EQUALS = re.compile(r"^where\((\w+) ?= ?'([^']*)'\)$")
_AS_FUNCTION = re.compile(r"^(?:as|ofType)\((\w+)\)$")
_AS_OPERATOR = re.compile(r"^(.+) as (\w+)$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def compile_expression(expression: str, resource_type: str) -> Extractor | None:
    """An extractor for the parts of `expression` that apply to `resource_type`, or None."""
    parts = [p.strip() for p in _split_union(expression)]
    extractors: list[Extractor] = []
    for part in parts:
        root = _root_of(part)
        if root not in (resource_type, "Resource", "DomainResource"):
            continue
        extractors.append(_compile_part(part) or _fhirpath_fallback(part))
    if not extractors:
        return None
    if len(extractors) == 1:
        return extractors[0]
    return lambda resource: [value for extract in extractors for value in extract(resource)]


def _split_union(expression: str) -> list[str]:
    """Split on top-level `|` (not inside parentheses or quotes)."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            parts.append(expression[start:index])
            start = index + 1
    parts.append(expression[start:])
    return parts


def _root_of(part: str) -> str:
    return re.split(r"[.\s)]", part.lstrip("("), maxsplit=1)[0]


def _split_steps(path: str) -> list[str]:
    steps, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(path):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ".":
            steps.append(path[start:index])
            start = index + 1
    steps.append(path[start:])
    return steps


def _unwrap(part: str) -> str:
    """`(X)` as `X` when the parentheses enclose the whole part."""
    if part.startswith("(") and part.endswith(")"):
        depth = 0
        for index, char in enumerate(part):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and index < len(part) - 1:
                return part
        return part[1:-1].strip()
    return part


def _compile_part(part: str) -> Extractor | None:
    """Compile `Type.a.b`, `(Type.a as T).b`, `.where(...)`, `.as(T)`; None if unsupported."""
    text = _unwrap(part)
    steps_text: list[str]
    if text.startswith("("):
        closing = _matching_paren(text)
        inner, rest = text[1:closing], text[closing + 1:]
        as_match = _AS_OPERATOR.match(inner)
        if not as_match or (rest and not rest.startswith(".")):
            return None
        steps_text = [*_split_steps(as_match.group(1)), f"as({as_match.group(2)})"]
        if rest:
            steps_text += _split_steps(rest[1:])
    elif as_match := _AS_OPERATOR.match(text):
        steps_text = [*_split_steps(as_match.group(1)), f"as({as_match.group(2)})"]
    else:
        steps_text = _split_steps(text)
    steps = _compile_steps(steps_text[1:])
    if steps is None:
        return None

    def extract(resource: dict[str, Any]) -> list[Any]:
        nodes: list[Any] = [resource]
        for step in steps:
            nodes = step(nodes)
            if not nodes:
                break
        return nodes

    return extract


def _matching_paren(text: str) -> int:
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return index
    return len(text) - 1


def _compile_steps(steps_text: list[str]) -> list[Step] | None:
    steps: list[Step] = []
    index = 0
    while index < len(steps_text):
        token = steps_text[index].strip()
        following = steps_text[index + 1].strip() if index + 1 < len(steps_text) else ""
        as_type = _AS_FUNCTION.match(following)
        if _NAME.match(token) and as_type:
            steps.append(_child_of_type(token, as_type.group(1)))
            index += 2
            continue
        if _NAME.match(token):
            steps.append(_child(token))
        elif (match := _WHERE_RESOLVE.match(token)):
            steps.append(_references_to(match.group(1)))
        elif (match := _WHERE_EQUALS.match(token)):
            steps.append(_where_equals(match.group(1), match.group(2)))
        else:
            return None
        index += 1
    return steps


def _flatten(values: Iterable[Any]) -> list[Any]:
    result: list[Any] = []
    for value in values:
        if isinstance(value, list):
            result.extend(value)
        elif value is not None:
            result.append(value)
    return result


def _child(name: str) -> Step:
    # A choice element (`Observation.value`) matches whichever `value[Type]` is present.
    def step(nodes: list[Any]) -> list[Any]:
        found = []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            if name in node:
                found.append(node[name])
            else:
                found.extend(v for k, v in node.items() if k.startswith(name) and k[len(name):len(name) + 1].isupper())
        return _flatten(found)

    return step


def _child_of_type(name: str, type_name: str) -> Step:
    key = name + type_name[0].upper() + type_name[1:]

    def step(nodes: list[Any]) -> list[Any]:
        return _flatten(node.get(key) for node in nodes if isinstance(node, dict))

    return step


def _references_to(target_type: str) -> Step:
    def step(nodes: list[Any]) -> list[Any]:
        return [
            node for node in nodes
            if isinstance(node, dict) and isinstance(node.get("reference"), str)
            and _reference_type(node["reference"]) == target_type
        ]

    return step


def _reference_type(reference: str) -> str | None:
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-2] if len(parts) >= 2 else None


def _where_equals(field: str, literal: str) -> Step:
    def step(nodes: list[Any]) -> list[Any]:
        return [node for node in nodes if isinstance(node, dict) and node.get(field) == literal]

    return step


def _fhirpath_fallback(part: str) -> Extractor:
    """Interpret what the compiler does not handle (a few dozen R4 expressions)."""
    import fhirpathpy
    from fhirpathpy.models import models

    try:
        compiled = fhirpathpy.compile(part, models["r4"])
    except Exception:
        log.warning("search expression %r cannot be compiled; it is not indexed", part)
        return lambda resource: []

    def extract(resource: dict[str, Any]) -> list[Any]:
        try:
            result = compiled(resource, {})
        except Exception:
            return []
        return [value for value in result if value is not None] if isinstance(result, list) else []

    return extract
