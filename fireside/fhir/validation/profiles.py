"""The profiles a resource can be validated against: the core types and the spec's own profiles
and extension definitions (packaged), plus StructureDefinitions registered at run time (an
implementation guide such as US Core). Registered ones arrive as FHIR JSON and are read into the
same model as the packaged ones, which `scripts/build_definitions.py` compacts at build time.
"""

from __future__ import annotations

from typing import Any

from fireside.fhir.definitions import (
    Binding,
    Constraint,
    ElementDefinition,
    FhirDefinitions,
    StructureDefinition,
    TypeRef,
)
from fireside.fhir.errors import FhirError
from fireside.fhir.validation.snapshots import generate_snapshot

FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
FHIRPATH_SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."


class ProfileRegistry:
    def __init__(self, definitions: FhirDefinitions) -> None:
        self._definitions = definitions
        self._core = {structure.url: structure for structure in definitions.types.values()}
        self._registered: dict[str, StructureDefinition] = {}

    def lookup(self, url: str) -> StructureDefinition | None:
        """The structure with this canonical url (a `|version` suffix is ignored), or None."""
        base = url.split("|", 1)[0]
        return self._registered.get(base) or self._definitions.profiles.get(base) or self._core.get(base)

    def register(self, resource: dict[str, Any]) -> StructureDefinition:
        """Read a StructureDefinition (a constraint: a profile or an extension definition) and
        make it available by url, in place of any registered before with that url."""
        if resource.get("resourceType") != "StructureDefinition" or not isinstance(resource.get("url"), str):
            raise FhirError.single("invalid", "Only a StructureDefinition with a url can be registered as a profile")
        if resource.get("derivation") != "constraint":
            raise FhirError.single("not-supported", f"{resource['url']} is not a profile (derivation constraint)")
        elements = (resource.get("snapshot") or {}).get("element")
        if not elements:
            elements = generate_snapshot(resource, self.lookup)
        structure = StructureDefinition(
            url=resource["url"],
            name=resource.get("name") or resource["url"].rsplit("/", 1)[-1],
            type=resource.get("type", ""),
            kind=resource.get("kind", "resource"),
            abstract=bool(resource.get("abstract", False)),
            derivation="constraint",
            base_definition=resource.get("baseDefinition"),
            elements=[element_from_json(e) for e in elements],
        )
        self._registered[structure.url] = structure
        return structure


def element_from_json(raw: dict[str, Any]) -> ElementDefinition:
    """An ElementDefinition from a snapshot element as FHIR JSON (or as packaged, compacted)."""
    binding = raw.get("binding") or {}
    return ElementDefinition(
        id=raw.get("id") or (f"{raw['path']}:{raw['sliceName']}" if raw.get("sliceName") else raw["path"]),
        path=raw["path"],
        min=int(raw.get("min", 0)),
        max=str(raw.get("max", "*")),
        types=tuple(_type_from_json(t) for t in raw.get("type", ())),
        content_reference=raw.get("contentReference"),
        binding=Binding(binding["strength"], binding["valueSet"]) if binding.get("valueSet") else None,
        constraints=tuple(
            Constraint(c["key"], c.get("severity", "error"), c.get("human", ""), c["expression"], c.get("source"))
            for c in raw.get("constraint", ()) if c.get("expression") and c.get("key")
        ),
        summary=bool(raw.get("isSummary", raw.get("summary", False))),
        modifier=bool(raw.get("isModifier", raw.get("modifier", False))),
        slice_name=raw.get("sliceName"),
        raw=raw,
    )


def _type_from_json(raw: dict[str, Any]) -> TypeRef:
    code = raw["code"]
    regex = raw.get("regex")  # the packaged (compacted) form keeps it here
    for extension in raw.get("extension", ()):
        if extension.get("url") == FHIR_TYPE_EXTENSION:
            code = extension.get("valueUrl") or extension.get("valueUri") or code
        elif extension.get("url") == REGEX_EXTENSION:
            regex = extension.get("valueString")
    if code.startswith(FHIRPATH_SYSTEM_PREFIX):
        code = "System." + code[len(FHIRPATH_SYSTEM_PREFIX):]
    return TypeRef(
        code=code,
        regex=regex,
        profile=tuple(raw.get("profile", ())),
        target_profile=tuple(raw.get("targetProfile", ())),
    )
