"""References between the entries of a transaction: `urn:uuid:` placeholders, other entries'
fullUrls and conditional references (`Patient?identifier=...`), rewritten in place to the
`Type/id` they resolve to (https://hl7.org/fhir/R4/http.html#trules).

The walk is one pass over each resource that keeps only the references it may have to change;
paths for error messages are worked out afterwards, for the one reference that failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_CONDITIONAL = re.compile(r"^[A-Z][A-Za-z]+\?.+")
_PLACEHOLDERS = ("urn:uuid:", "urn:oid:")


@dataclass(frozen=True)
class FoundReference:
    """A Reference element (`holder`) whose `reference` string is `value`."""

    entry_index: int
    holder: dict[str, Any]
    value: str


def is_conditional_reference(reference: str) -> bool:
    return bool(_CONDITIONAL.match(reference))


def is_placeholder(reference: str) -> bool:
    """A reference that only means something inside this Bundle (https://hl7.org/fhir/R4/bundle.html#references)."""
    return reference.startswith(_PLACEHOLDERS)


def collect_references(entry_index: int, resource: dict[str, Any], full_urls: set[str]) -> list[FoundReference]:
    """The references in `resource` that name another entry or are conditional."""
    found: list[FoundReference] = []

    def keep(node: dict[str, Any]) -> None:
        reference = node.get("reference")
        if reference.__class__ is str and (
            reference in full_urls or reference.startswith(_PLACEHOLDERS)
            or ("?" in reference and is_conditional_reference(reference))
        ):
            found.append(FoundReference(entry_index, node, reference))

    # Recursion over dicts and lists of dicts only: FHIR JSON never nests arrays in arrays. This
    # walk runs over every element of every entry, so it avoids generic per-node work (~3 µs a resource).
    def walk(node: dict[str, Any]) -> None:
        for value in node.values():
            kind = value.__class__
            if kind is dict:
                keep(value)
                walk(value)
            elif kind is list:
                for item in value:
                    if item.__class__ is dict:
                        keep(item)
                        walk(item)

    walk(resource)
    return found


def path_to(root: Any, target: dict[str, Any], path: str) -> str | None:
    """The FHIRPath-like location of `target` (found by identity) inside `root`."""
    if root is target:
        return path
    if isinstance(root, dict):
        for key, value in root.items():
            if isinstance(value, dict | list):
                found = path_to(value, target, f"{path}.{key}")
                if found:
                    return found
    elif isinstance(root, list):
        for index, value in enumerate(root):
            found = path_to(value, target, f"{path}[{index}]")
            if found:
                return found
    return None
