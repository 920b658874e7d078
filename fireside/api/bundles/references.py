"""References between the entries of a transaction: `urn:uuid:` placeholders and conditional
references (`Patient?identifier=...`), rewritten to the ids they resolve to
(https://hl7.org/fhir/R4/http.html#trules)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_CONDITIONAL = re.compile(r"^[A-Z][A-Za-z]+\?.+")


def references_in(value: Any) -> Iterator[str]:
    """Every Reference.reference string anywhere inside `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            elif isinstance(item, dict | list):
                yield from references_in(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                yield from references_in(item)


def is_conditional_reference(reference: str) -> bool:
    return bool(_CONDITIONAL.match(reference))


def rewrite_references(value: Any, mapping: dict[str, str]) -> Any:
    """A copy of `value` with each Reference.reference found in `mapping` replaced."""
    if isinstance(value, dict):
        rewritten = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                rewritten[key] = mapping.get(item, item)
            elif isinstance(item, dict | list):
                rewritten[key] = rewrite_references(item, mapping)
            else:
                rewritten[key] = item
        return rewritten
    if isinstance(value, list):
        return [rewrite_references(item, mapping) if isinstance(item, dict | list) else item for item in value]
    return value
