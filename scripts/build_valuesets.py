"""Expand the R4 ValueSets into code lists, for checking required bindings.

    python scripts/build_valuesets.py [--source ../shared/fhir-r4]

Writes `fireside/fhir/data/required-valuesets.json.gz`: for each ValueSet url, its codes by code
system, or null where it cannot be listed: it draws on a system too large or not held here
(UCUM, BCP-47 languages, BCP-13 mime types, ISO 4217 currencies, SNOMED CT, LOINC) or uses a
filter other than is-a / descendent-of. Null value sets are not checked.

Every core ValueSet is expanded, not only those the core definitions bind as required: profiles
and extension definitions (the spec's own and those registered at run time, such as US Core)
bind core value sets too. All of them cost about 120 KB compressed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from build_definitions import REPO, load_bundle, write_gzip_json

Expansion = dict[str, set[str]] | None
HIERARCHY_FILTERS = ("is-a", "descendent-of")


def all_concepts(concepts: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for concept in concepts:
        yield concept
        yield from all_concepts(concept.get("concept", []))


def descendants(concepts: list[dict[str, Any]], code: str, include_self: bool) -> set[str]:
    for concept in all_concepts(concepts):
        if concept["code"] == code:
            found = {c["code"] for c in all_concepts(concept.get("concept", []))}
            return found | ({code} if include_self else set())
    return set()


class Expander:
    def __init__(self, value_sets: dict[str, Any], code_systems: dict[str, Any]) -> None:
        self.value_sets = value_sets
        self.code_systems = code_systems

    def expand(self, url: str, seen: frozenset[str] = frozenset()) -> Expansion:
        value_set = self.value_sets.get(url)
        if value_set is None or url in seen:
            return None
        compose = value_set.get("compose", {})
        codes: dict[str, set[str]] = {}
        for include in compose.get("include", []):
            part = self._include(include, seen | {url})
            if part is None:
                return None
            for system, found in part.items():
                codes.setdefault(system, set()).update(found)
        for exclude in compose.get("exclude", []):
            # An exclusion we cannot list would leave codes in that should be out: not checkable.
            part = self._include(exclude, seen | {url})
            if part is None:
                return None
            for system, found in part.items():
                codes.get(system, set()).difference_update(found)
        return codes

    def _include(self, include: dict[str, Any], seen: frozenset[str]) -> Expansion:
        codes: dict[str, set[str]] = {}
        system = include.get("system")
        if system:
            selected = self._from_system(system, include)
            if selected is None:
                return None
            codes[system] = selected
        for imported in include.get("valueSet", []):
            part = self.expand(imported.split("|")[0], seen)
            if part is None:
                return None
            for imported_system, found in part.items():
                if system:  # include.system with include.valueSet: the intersection
                    codes[system] &= found if imported_system == system else set()
                else:
                    codes.setdefault(imported_system, set()).update(found)
        return codes

    def _from_system(self, system: str, include: dict[str, Any]) -> set[str] | None:
        if "concept" in include:
            return {c["code"] for c in include["concept"]}
        code_system = self.code_systems.get(system)
        if code_system is None or code_system.get("content") not in (None, "complete"):
            return None
        concepts = code_system.get("concept", [])
        selected = {c["code"] for c in all_concepts(concepts)}
        for rule in include.get("filter", []):
            if rule.get("op") not in HIERARCHY_FILTERS or rule.get("property") != "concept":
                return None
            selected &= descendants(concepts, rule["value"], rule["op"] == "is-a")
        return selected


def build(source: Path) -> None:
    value_sets: dict[str, Any] = {}
    code_systems: dict[str, Any] = {}
    for name in ("valuesets.json", "v3-codesystems.json", "v2-tables.json"):
        for resource in load_bundle(source / name):
            if resource["resourceType"] == "ValueSet":
                value_sets[resource["url"]] = resource
            elif resource["resourceType"] == "CodeSystem":
                code_systems[resource["url"]] = resource
    expander = Expander(value_sets, code_systems)
    expansions: dict[str, dict[str, list[str]] | None] = {}
    for url in sorted(value_sets):
        expansion = expander.expand(url)
        # An empty list (codes defined elsewhere, e.g. by MessageDefinitions) would refuse every code.
        if expansion is None or not any(expansion.values()):
            expansions[url] = None
        else:
            expansions[url] = {s: sorted(c) for s, c in sorted(expansion.items()) if c}
    checkable = sum(1 for e in expansions.values() if e is not None)
    print(f"{len(expansions)} value sets, {checkable} expanded")
    write_gzip_json("required-valuesets.json.gz", expansions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "fhir-r4")
    build(parser.parse_args().source)


if __name__ == "__main__":
    main()
