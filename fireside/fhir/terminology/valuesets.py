"""The codes of a ValueSet (https://hl7.org/fhir/R4/valueset.html#expansion): from its
`expansion.contains` when it has one, else from `compose` (https://hl7.org/fhir/R4/valueset.html#compose):
explicit concepts, whole code systems, the filters `is-a`, `descendent-of` and `=`, imported
value sets, and exclusions. The packaged R4 value sets were expanded the same way at build time
(`scripts/build_valuesets.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Protocol

from fireside.fhir.definitions import read_packaged_json
from fireside.fhir.terminology.codesystems import CodeSystemView

# Codes by system. A code without a system (a bare `code` in an expansion) is under "".
CodeSet = dict[str, frozenset[str]]


class ExpansionError(Exception):
    """Why a value set cannot be listed here (an unknown code system, an unsupported filter);
    search reports it as a 400 naming its parameter."""


class TerminologySource(Protocol):
    def code_system(self, url: str) -> CodeSystemView | None: ...

    def value_set(self, url: str) -> CodeSet: ...


@cache
def _packaged_expansions() -> Mapping[str, Mapping[str, list[str]] | None]:
    expansions: Mapping[str, Mapping[str, list[str]] | None] = read_packaged_json("required-valuesets.json.gz")
    return expansions


def is_packaged_value_set(url: str) -> bool:
    return url in _packaged_expansions()


def packaged_value_set(url: str) -> CodeSet:
    """An R4 value set's codes. Raises ExpansionError for one that draws on a system not held
    here (SNOMED CT, LOINC, UCUM, ...) or is not an R4 value set."""
    if url not in _packaged_expansions():
        raise ExpansionError(f"{url} is not a known ValueSet")
    expansion = _packaged_expansions()[url]
    if expansion is None:
        raise ExpansionError(f"ValueSet {url} draws on a code system this server cannot list")
    return {system: frozenset(codes) for system, codes in expansion.items()}


def code_count(codes: CodeSet) -> int:
    return sum(len(found) for found in codes.values())


def expand_value_set(resource: Mapping[str, Any], source: TerminologySource) -> CodeSet:
    """The codes of a ValueSet resource; `source` finds the code systems and value sets it draws on."""
    expansion = resource.get("expansion")
    if isinstance(expansion, dict) and isinstance(expansion.get("contains"), list):
        return _from_contains(expansion["contains"])
    compose = resource.get("compose")
    if not isinstance(compose, dict) or not compose.get("include"):
        raise ExpansionError(f"ValueSet {resource.get('url') or resource.get('id')} has no expansion and no compose")
    codes: dict[str, set[str]] = {}
    for include in compose["include"]:
        for system, found in _include(include, source).items():
            codes.setdefault(system, set()).update(found)
    for exclude in compose.get("exclude") or ():
        for system, found in _include(exclude, source).items():
            codes.get(system, set()).difference_update(found)
    return {system: frozenset(found) for system, found in codes.items() if found}


def _from_contains(contains: list[Any]) -> CodeSet:
    codes: dict[str, set[str]] = {}
    pending = list(contains)
    while pending:
        item = pending.pop()
        if not isinstance(item, dict):
            continue
        # Abstract entries group others and cannot be chosen (ValueSet.expansion.contains.abstract).
        if isinstance(item.get("code"), str) and not item.get("abstract"):
            codes.setdefault(str(item.get("system") or ""), set()).add(item["code"])
        pending.extend(item.get("contains") or ())
    return {system: frozenset(found) for system, found in codes.items()}


def _include(include: Any, source: TerminologySource) -> dict[str, frozenset[str]]:
    if not isinstance(include, dict):
        raise ExpansionError("ValueSet compose.include is not an object")
    system = include.get("system")
    codes: dict[str, frozenset[str]] = {}
    if isinstance(system, str) and system:
        codes[system] = _from_system(system, include, source)
    for imported in include.get("valueSet") or ():
        part = source.value_set(str(imported).split("|", 1)[0])
        if system:  # a system and value sets together: the codes in both (ValueSet.compose.include)
            codes[system] = codes[system] & part.get(system, frozenset())
        else:
            for imported_system, found in part.items():
                codes[imported_system] = codes.get(imported_system, frozenset()) | found
    return codes


def _from_system(system: str, include: Mapping[str, Any], source: TerminologySource) -> frozenset[str]:
    concepts = include.get("concept")
    if isinstance(concepts, list) and concepts:
        selected = frozenset(c["code"] for c in concepts if isinstance(c, dict) and isinstance(c.get("code"), str))
        return _filtered(selected, system, include.get("filter"), source) if include.get("filter") else selected
    view = source.code_system(system)
    if view is None:
        raise ExpansionError(f"code system {system} is not known to this server")
    if not include.get("filter") and view.content != "complete":
        raise ExpansionError(f"code system {system} is not complete here ({view.content})")
    return _filtered(view.codes, system, include.get("filter"), source)


def _filtered(selected: frozenset[str], system: str, rules: Any, source: TerminologySource) -> frozenset[str]:
    for rule in rules or ():
        if not isinstance(rule, dict):
            raise ExpansionError("ValueSet compose.include.filter is not an object")
        view = source.code_system(system)
        if view is None:
            raise ExpansionError(f"code system {system} is not known to this server")
        selected = selected & _apply(view, rule)
    return selected


def _apply(view: CodeSystemView, rule: Mapping[str, Any]) -> frozenset[str]:
    op, name, value = rule.get("op"), rule.get("property"), rule.get("value")
    if not isinstance(value, str):
        raise ExpansionError("ValueSet compose.include.filter has no value")
    if op == "is-a" and name == "concept":
        return view.below(value)
    if op == "descendent-of" and name == "concept":
        return view.descendants(value)
    if op == "=" and name in ("concept", "code"):
        return frozenset({value}) & view.codes
    if op == "=" and isinstance(name, str):
        return view.with_property(name, value)
    raise ExpansionError(f"ValueSet filter {name} {op} is not supported (only is-a, descendent-of and =)")
