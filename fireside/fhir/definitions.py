"""The in-memory model of the FHIR R4 definitions, loaded once from the packaged data.

Everything type-aware in Fireside (validation, search parameters, the CapabilityStatement,
compartments) reads from the one `FhirDefinitions` returned by `load_definitions()`.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

DATA_PACKAGE = "fireside.fhir.data"


def read_packaged_json(name: str) -> Any:
    payload = resources.files(DATA_PACKAGE).joinpath(name).read_bytes()
    return orjson.loads(gzip.decompress(payload))


@dataclass(frozen=True)
class TypeRef:
    """One allowed type of an element (ElementDefinition.type)."""

    code: str
    regex: str | None = None
    profile: tuple[str, ...] = ()
    target_profile: tuple[str, ...] = ()

    @property
    def target_types(self) -> tuple[str, ...]:
        return tuple(url.rsplit("/", 1)[-1] for url in self.target_profile)


@dataclass(frozen=True)
class Constraint:
    key: str
    severity: str
    human: str
    expression: str
    source: str | None = None


@dataclass(frozen=True)
class Binding:
    strength: str
    value_set: str


@dataclass(frozen=True)
class ElementDefinition:
    id: str
    path: str
    min: int
    max: str
    types: tuple[TypeRef, ...]
    content_reference: str | None
    binding: Binding | None
    constraints: tuple[Constraint, ...]
    summary: bool
    modifier: bool
    slice_name: str | None
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def is_choice(self) -> bool:
        return self.path.endswith("[x]")

    @property
    def is_array(self) -> bool:
        return self.max != "1" and self.max != "0"


def _element_from_json(raw: dict[str, Any]) -> ElementDefinition:
    binding = raw.get("binding")
    return ElementDefinition(
        id=raw["id"],
        path=raw["path"],
        min=raw.get("min", 0),
        max=raw.get("max", "*"),
        types=tuple(
            TypeRef(
                code=t["code"],
                regex=t.get("regex"),
                profile=tuple(t.get("profile", ())),
                target_profile=tuple(t.get("targetProfile", ())),
            )
            for t in raw.get("type", ())
        ),
        content_reference=raw.get("contentReference"),
        binding=Binding(binding["strength"], binding["valueSet"]) if binding else None,
        constraints=tuple(
            Constraint(c["key"], c["severity"], c.get("human", ""), c["expression"], c.get("source"))
            for c in raw.get("constraint", ())
        ),
        summary=raw.get("summary", False),
        modifier=raw.get("modifier", False),
        slice_name=raw.get("sliceName"),
        raw=raw,
    )


@dataclass
class StructureDefinition:
    """A type or profile: its snapshot elements, indexed by path for child lookups."""

    url: str
    name: str
    type: str
    kind: str
    abstract: bool
    derivation: str | None
    base_definition: str | None
    elements: list[ElementDefinition]
    _children: dict[str, list[ElementDefinition]] = field(default_factory=dict, repr=False)
    _by_path: dict[str, ElementDefinition] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for element in self.elements:
            # Slices and their descendants (ids with ':') constrain particular repetitions;
            # the unsliced elements describe what every repetition may hold.
            if element.slice_name is not None or ":" in element.id:
                continue
            self._by_path.setdefault(element.path, element)
            parent = element.path.rpartition(".")[0]
            if parent:
                self._children.setdefault(parent, []).append(element)

    @property
    def root(self) -> ElementDefinition:
        return self.elements[0]

    def element(self, path: str) -> ElementDefinition | None:
        return self._by_path.get(path)

    def children(self, path: str) -> list[ElementDefinition]:
        """The direct child elements of `path` (unsliced), in definition order."""
        return self._children.get(path, [])

    @property
    def is_resource(self) -> bool:
        return self.kind == "resource"

    @property
    def is_primitive(self) -> bool:
        return self.kind == "primitive-type"


def _structure_from_json(raw: dict[str, Any]) -> StructureDefinition:
    return StructureDefinition(
        url=raw["url"],
        name=raw["name"],
        type=raw["type"],
        kind=raw["kind"],
        abstract=raw.get("abstract", False),
        derivation=raw.get("derivation"),
        base_definition=raw.get("baseDefinition"),
        elements=[_element_from_json(e) for e in raw["elements"]],
    )


@dataclass(frozen=True)
class SearchParameterDefinition:
    url: str
    code: str
    base: tuple[str, ...]
    type: str
    expression: str | None
    target: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)


@dataclass
class FhirDefinitions:
    """Every core type, profile, search parameter, operation and compartment of FHIR R4."""

    types: dict[str, StructureDefinition]
    profiles: dict[str, StructureDefinition]
    search_parameters: list[SearchParameterDefinition]
    operations: list[dict[str, Any]]
    compartments: list[dict[str, Any]]

    @property
    def resource_types(self) -> list[str]:
        """Concrete resource types a client can store, in alphabetical order."""
        return sorted(
            name for name, sd in self.types.items()
            if sd.is_resource and not sd.abstract and sd.derivation == "specialization"
        )

    def is_resource_type(self, name: str) -> bool:
        sd = self.types.get(name)
        return sd is not None and sd.is_resource and not sd.abstract

    def type(self, name: str) -> StructureDefinition:
        return self.types[name]

    def profile(self, url: str) -> StructureDefinition | None:
        base_url = url.split("|", 1)[0]
        return self.profiles.get(base_url) or next(
            (sd for sd in self.types.values() if sd.url == base_url), None
        )

    def search_parameters_for(self, resource_type: str) -> list[SearchParameterDefinition]:
        return [
            p for p in self.search_parameters
            if resource_type in p.base or "Resource" in p.base or "DomainResource" in p.base
        ]

    def operation(self, code: str) -> list[dict[str, Any]]:
        return [op for op in self.operations if op.get("code") == code]

    def compartment(self, code: str) -> dict[str, Any] | None:
        return next((c for c in self.compartments if c.get("code") == code), None)


@cache
def load_definitions() -> FhirDefinitions:
    """Load the packaged definitions once per process (about 0.2 s), then share them."""
    structures = [_structure_from_json(raw) for raw in read_packaged_json("structure-definitions.json.gz")]
    types = {sd.type: sd for sd in structures if sd.derivation != "constraint"}
    profiles = {sd.url: sd for sd in structures if sd.derivation == "constraint"}
    for raw in read_packaged_json("profiles.json.gz"):
        sd = _structure_from_json(raw)
        profiles[sd.url] = sd
    search_parameters = [
        SearchParameterDefinition(
            url=p["url"],
            code=p["code"],
            base=tuple(p["base"]),
            type=p["type"],
            expression=p.get("expression"),
            target=tuple(p.get("target", ())),
            raw=p,
        )
        for p in read_packaged_json("search-parameters.json.gz")
    ]
    return FhirDefinitions(
        types=types,
        profiles=profiles,
        search_parameters=search_parameters,
        operations=read_packaged_json("operation-definitions.json.gz"),
        compartments=read_packaged_json("compartment-definitions.json.gz"),
    )
