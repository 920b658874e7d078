"""Reference.reference formats and targets (https://hl7.org/fhir/R4/references.html#Reference).

A reference is relative (`Patient/1`, `Patient/1/_history/2`), conditional inside a transaction
(`Patient?identifier=...`), local (`#contained-id`), or an
absolute URI (`https://example.org/fhir/Patient/1`, `urn:uuid:...`, `urn:oid:...`). Where the
element lists target profiles, a reference whose type can be read from it must name one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fireside.fhir.definitions import ElementDefinition, FhirDefinitions, StructureDefinition

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?")
# A conditional reference, which a transaction resolves before storing
# (https://hl7.org/fhir/R4/http.html#trules).
_CONDITIONAL = re.compile(r"([A-Z][A-Za-z]+)\?.+")
_URL_TAIL = re.compile(r".*/([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?")
_ANY_RESOURCE = frozenset({"Resource", "DomainResource"})

ProfileLookup = Callable[[str], StructureDefinition | None]


class ReferenceChecker:
    def __init__(self, definitions: FhirDefinitions, profile: ProfileLookup) -> None:
        self._definitions = definitions
        self._profile = profile
        self._targets: dict[int, frozenset[str] | None] = {}

    def problem(self, value: dict[str, Any], element: ElementDefinition) -> str | None:
        """Why `value` (a Reference) is badly formed or points at a type not allowed here."""
        reference = value.get("reference")
        if not isinstance(reference, str) or reference.startswith("#"):
            return None
        relative = _RELATIVE.fullmatch(reference) or _CONDITIONAL.fullmatch(reference)
        if relative is None and _SCHEME.match(reference) is None:
            return (f"{reference!r} is not a valid reference (Type/id, Type/id/_history/version, an absolute "
                    "URL, #local or urn:uuid:)")
        if relative is None:
            if not reference.startswith(("http://", "https://")):
                return None
            relative = _URL_TAIL.fullmatch(reference)
            if relative is None:
                return None
        target = relative.group(1)
        if not self._definitions.is_resource_type(target):
            return f"{target!r} in {reference!r} is not a resource type"
        allowed = self.target_types(element)
        if allowed is not None and target not in allowed:
            return f"A reference to a {target} is not allowed here (allowed: {', '.join(sorted(allowed))})"
        return None

    def target_types(self, element: ElementDefinition) -> frozenset[str] | None:
        """The resource types the element may reference, or None for any."""
        key = id(element)
        if key not in self._targets:
            self._targets[key] = self._resolve_targets(element)
        return self._targets[key]

    def _resolve_targets(self, element: ElementDefinition) -> frozenset[str] | None:
        urls = [url for type_ref in element.types if type_ref.code == "Reference" for url in type_ref.target_profile]
        if not urls:
            return None
        types = set()
        for url in urls:
            structure = self._profile(url)
            if structure is None:
                return None  # an unknown profile: its type cannot be told, so nothing is refused
            types.add(structure.type)
        return None if types & _ANY_RESOURCE else frozenset(types)
