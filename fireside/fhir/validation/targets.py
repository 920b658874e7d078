"""Where the children of a complex value are defined: inline in the structure being walked (a
backbone element, or a data type a profile constrains), at a contentReference
(`Questionnaire.item.item`), in the definition of the extension its url names, in a profile on
its type (SimpleQuantity), or in the data type itself. Resolved once per element and cached."""

from __future__ import annotations

from typing import Any

from fireside.fhir.definitions import ElementDefinition, FhirDefinitions, StructureDefinition
from fireside.fhir.validation.elements import Child, ElementCatalog
from fireside.fhir.validation.profiles import ProfileRegistry

Target = tuple[StructureDefinition, str]  # a structure and the id of the element whose children apply


class TargetResolver:
    def __init__(self, catalog: ElementCatalog, definitions: FhirDefinitions, profiles: ProfileRegistry) -> None:
        self._catalog = catalog
        self._definitions = definitions
        self._profiles = profiles
        self._targets: dict[tuple[int, str | None], Target] = {}

    def extension_definition(self, child: Child, value: dict[str, Any]) -> StructureDefinition | None:
        """The definition of the extension `value` is, when it is one that is known."""
        url = value.get("url") if child.type_code == "Extension" else None
        definition = self._profiles.lookup(url) if isinstance(url, str) else None
        return definition if definition is not None and definition.type == "Extension" else None

    def resolve(self, child: Child, extension: StructureDefinition | None) -> Target:
        # Keyed by known definitions only: arbitrary extension urls must not grow the cache.
        key = (id(child), extension.url if extension is not None else None)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = self._resolve(child, key[1])
        return target

    def _resolve(self, child: Child, extension_url: str | None) -> Target:
        element, structure = child.element, child.structure
        inline = True
        if element.is_choice:
            chosen = next((s for s in self._catalog.slices(structure, element.id) if s.slice_name == child.json_name),
                          None)
            # Children listed under value[x] itself apply when it has a single type.
            inline = chosen is not None or len(element.types) == 1
            element = chosen or element
        if inline and self._catalog.has_children(structure, element.id):
            return structure, element.id
        if element.content_reference:
            return structure, element.content_reference.split("#", 1)[-1]
        for url in ([extension_url] if extension_url else []) + list(type_profiles(element, child.type_code)):
            profile = self._profiles.lookup(url)
            if profile is not None and profile.type == child.type_code and profile.derivation == "constraint":
                return profile, profile.root.id
        base = self._definitions.types.get(child.type_code)
        if base is None:  # a type no definition describes (a registered profile's own): its element only
            return structure, element.id
        return base, base.root.id


def type_profiles(element: ElementDefinition, type_code: str) -> tuple[str, ...]:
    return next((t.profile for t in element.types if t.code == type_code), ())
