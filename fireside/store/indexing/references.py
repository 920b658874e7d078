"""Reading references: `Patient/1`, `Patient/1/_history/2`, `https://other/fhir/Patient/1`,
`urn:uuid:...`, and canonicals `http://x/ValueSet/y|1.0` (https://hl7.org/fhir/R4/references.html).
"""

from __future__ import annotations

import re
from typing import Any

# A resource type as it appears in a reference path segment.
_TYPE_SEGMENT = re.compile(r"[A-Z][A-Za-z]+")

# (target_type, target_id, url): target_id is the local id, or for an absolute or canonical
# reference the URL without version; url keeps the reference as written when it is not local.
ReferenceParts = tuple[str | None, str, str | None]


def split_reference(reference: str) -> ReferenceParts | None:
    """The parts of a reference string, or None for one that targets nothing searchable
    (a contained `#id`, an empty string)."""
    if not reference or reference[0] == "#":
        return None
    if ":" not in reference:
        kind, slash, rest = reference.partition("/")
        if slash and "/" not in rest and rest and _TYPE_SEGMENT.fullmatch(kind):
            return kind, rest, None
        return _relative(reference)
    return _absolute(reference)


def _relative(reference: str) -> ReferenceParts:
    segments = reference.split("/")
    if len(segments) == 4 and segments[2] == "_history" and _TYPE_SEGMENT.fullmatch(segments[0]):
        return segments[0], segments[1], None
    return None, reference, reference


def _absolute(reference: str) -> ReferenceParts:
    """A URL: keep it whole (it names a resource on another server, or a canonical)."""
    address, _, _version = reference.partition("|")
    segments = address.split("/")
    if len(segments) >= 4 and segments[-2] == "_history":
        segments = segments[:-2]
        address = "/".join(segments)
    target_type = segments[-2] if len(segments) >= 2 and _TYPE_SEGMENT.fullmatch(segments[-2]) else None
    return target_type, address, reference


def reference_type(node: Any) -> str | None:
    """The target type of a Reference, for `where(resolve() is T)`: from its reference string, or
    from Reference.type when it has only an identifier. Nothing is fetched: resolve() is never run."""
    if not isinstance(node, dict):
        return None
    reference = node.get("reference")
    if isinstance(reference, str):
        parts = split_reference(reference)
        return parts[0] if parts else None
    declared = node.get("type")
    return declared if isinstance(declared, str) else None
