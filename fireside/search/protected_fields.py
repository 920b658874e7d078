"""Hidden and read-only fields of an access policy (docs/access-control.md): element paths such
as `birthDate`, `Patient.birthDate` or `name.family`, removed from what a caller reads and kept
as stored in what it writes."""

from __future__ import annotations

from typing import Any

from fireside.fhir.errors import FhirError


def remove_field(resource: dict[str, Any], resource_type: str, path: str) -> None:
    """Remove `path` (through repeating elements too) from `resource`, in place."""
    _remove(resource, _segments(resource_type, path))


def keep_stored_field(resource: dict[str, Any], previous: dict[str, Any], resource_type: str, path: str) -> None:
    """Give `path` in `resource` the value it has in `previous` (absent there: absent here)."""
    _keep_stored(resource, previous, _segments(resource_type, path), path)


def _segments(resource_type: str, path: str) -> list[str]:
    """`Patient.birthDate` or `birthDate` as ["birthDate"]."""
    parts = path.split(".")
    return parts[1:] if parts and parts[0] == resource_type else parts


def _remove(node: Any, segments: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _remove(item, segments)
        return
    if not isinstance(node, dict) or not segments:
        return
    if len(segments) == 1:
        node.pop(segments[0], None)
        node.pop("_" + segments[0], None)  # a primitive's id and extensions
        return
    _remove(node.get(segments[0]), segments[1:])


def _keep_stored(resource: dict[str, Any], previous: dict[str, Any], segments: list[str], path: str) -> None:
    """Put the stored value at `segments` back into `resource` (a copy down the path).
    Through a repeating element the two cannot be lined up, so a change there is refused."""
    head, rest = segments[0], segments[1:]
    new, old = resource.get(head), previous.get(head)
    if not rest:
        for key in (head, "_" + head):
            if key in previous:
                resource[key] = previous[key]
            else:
                resource.pop(key, None)
        return
    if isinstance(new, list) or isinstance(old, list):
        if _values(new, rest) != _values(old, rest):
            raise FhirError.single("forbidden", f"{path} may not be changed with this access")
        return
    if not isinstance(old, dict) and not isinstance(new, dict):
        return
    copy = dict(new) if isinstance(new, dict) else {}
    _keep_stored(copy, old if isinstance(old, dict) else {}, rest, path)
    if copy:
        resource[head] = copy
    else:
        resource.pop(head, None)


def _values(node: Any, segments: list[str]) -> list[Any]:
    if isinstance(node, list):
        return [v for item in node for v in _values(item, segments)]
    if not segments:
        return [] if node is None else [node]
    return _values(node.get(segments[0]), segments[1:]) if isinstance(node, dict) else []
