"""The codes of a code system and its subsumption hierarchy
(https://hl7.org/fhir/R4/codesystem.html#hierarchy), from a CodeSystem resource or from the
packaged R4 code systems.

A hierarchy is read from concept nesting and from the `parent` / `subsumedBy` (child to parent)
and `child` (parent to child) concept properties (https://hl7.org/fhir/R4/codesystem-concept-properties.html).
Subtrees are computed once per `CodeSystemView` and kept: views are cached per code system
version by their owners, so `code:below=` costs one lookup after the first search.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

_PARENT_PROPERTIES = frozenset({"parent", "subsumedBy"})
_CHILD_PROPERTIES = frozenset({"child"})
# Hierarchies that are not subsumption (part-of, grouped-by, classified-with) are not used for :below.
_SUBSUMPTION_MEANINGS = (None, "is-a")
PACKAGED_CODE_SYSTEMS = "code-systems.json.gz"
_MEMO_SIZE = 4096


@dataclass
class CodeSystemView:
    """What terminology needs of one version of a code system: its codes, their parent links,
    and the concept properties used by ValueSet filters (`=`). `content` is CodeSystem.content:
    only a `complete` system can stand for "all codes" in a ValueSet."""

    url: str
    version: str | None
    content: str
    codes: frozenset[str]
    children: Mapping[str, tuple[str, ...]]
    properties: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    _parents: dict[str, tuple[str, ...]] | None = field(default=None, repr=False)
    _below: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _above: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @property
    def has_hierarchy(self) -> bool:
        return bool(self.children)

    def below(self, code: str) -> frozenset[str]:
        """`code` and every code it subsumes (transitively). A code outside any known hierarchy
        subsumes only itself."""
        found = self._below.get(code)
        if found is None:
            found = _remember(self._below, code, frozenset(_closure([code], self.children)))
        return found

    def above(self, code: str) -> frozenset[str]:
        """`code` and every code that subsumes it."""
        found = self._above.get(code)
        if found is None:
            found = _remember(self._above, code, frozenset(_closure([code], self._parent_links())))
        return found

    def descendants(self, code: str) -> frozenset[str]:
        """The codes `code` subsumes, without itself (ValueSet filter `descendent-of`)."""
        # Not memoized per child: that would keep a subtree for every code under `code`.
        return frozenset(_closure(self.children.get(code, ()), self.children))

    def with_property(self, name: str, value: str) -> frozenset[str]:
        """Codes whose property `name` has `value` (ValueSet filter `=`)."""
        return frozenset(code for code, props in self.properties.items() if value in props.get(name, ()))

    def _parent_links(self) -> Mapping[str, tuple[str, ...]]:
        if self._parents is None:
            parents: dict[str, list[str]] = {}
            for parent, children in self.children.items():
                for child in children:
                    parents.setdefault(child, []).append(parent)
            self._parents = {child: tuple(found) for child, found in parents.items()}
        return self._parents


def _remember(memo: dict[str, frozenset[str]], code: str, found: frozenset[str]) -> frozenset[str]:
    # Subtrees asked for are few in practice (the codes used in searches); a bound keeps a
    # client that walks every code from growing the process without limit.
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[code] = found
    return found


def _closure(starts: Iterable[str], links: Mapping[str, tuple[str, ...]]) -> set[str]:
    found = set(starts)
    pending = list(found)
    while pending:
        for following in links.get(pending.pop(), ()):
            if following not in found:
                found.add(following)
                pending.append(following)
    return found


def all_concepts(concepts: Any) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every concept of a (nested) CodeSystem.concept list, with the code of the one it nests in."""
    pending: list[tuple[Any, str | None]] = [(concepts, None)]
    while pending:
        items, parent = pending.pop()
        if not isinstance(items, list):
            continue
        for concept in items:
            if isinstance(concept, dict) and isinstance(concept.get("code"), str):
                yield concept, parent
                pending.append((concept.get("concept"), concept["code"]))


def view_of_code_system(resource: Mapping[str, Any]) -> CodeSystemView:
    """The view of a CodeSystem resource. Malformed concepts are skipped, not an error: the
    resource was accepted on write and search must still answer."""
    codes: set[str] = set()
    links: dict[str, list[str]] = {}
    properties: dict[str, dict[str, set[str]]] = {}
    subsumption = resource.get("hierarchyMeaning") in _SUBSUMPTION_MEANINGS
    for concept, parent in all_concepts(resource.get("concept")):
        code = concept["code"]
        codes.add(code)
        if parent is not None and subsumption:
            links.setdefault(parent, []).append(code)
        for item in concept.get("property") or ():
            if not isinstance(item, dict) or not isinstance(item.get("code"), str):
                continue
            value = _property_value(item)
            if value is None:
                continue
            properties.setdefault(code, {}).setdefault(item["code"], set()).add(value)
            if item["code"] in _PARENT_PROPERTIES:
                links.setdefault(value, []).append(code)
            elif item["code"] in _CHILD_PROPERTIES:
                links.setdefault(code, []).append(value)
    return CodeSystemView(
        url=str(resource.get("url") or ""),
        version=resource.get("version") if isinstance(resource.get("version"), str) else None,
        content=str(resource.get("content") or "complete"),
        codes=frozenset(codes),
        children={parent: tuple(dict.fromkeys(found)) for parent, found in links.items()},
        properties={code: {name: frozenset(v) for name, v in props.items()} for code, props in properties.items()},
    )


def _property_value(item: Mapping[str, Any]) -> str | None:
    for key, value in item.items():
        if key.startswith("value"):
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, str | int | float):
                return str(value)
            if isinstance(value, dict) and isinstance(value.get("code"), str):  # valueCoding
                return str(value["code"])
    return None


class PackagedCodeSystems:
    """The R4 code systems packaged by `scripts/build_terminology.py`: codes and hierarchy, no
    properties (ValueSet filters other than is-a / descendent-of / `concept =` need a stored
    CodeSystem)."""

    def __init__(self, packaged: Mapping[str, Mapping[str, Any]]) -> None:
        self._packaged = packaged
        self._views: dict[str, CodeSystemView] = {}

    def get(self, url: str) -> CodeSystemView | None:
        view = self._views.get(url)
        if view is None:
            entry = self._packaged.get(url)
            if entry is None:
                return None
            view = self._views[url] = CodeSystemView(
                url=url, version=entry.get("version"), content=entry["content"],
                codes=frozenset(entry["codes"]),
                children={parent: tuple(found) for parent, found in entry["children"].items()},
            )
        return view


@cache
def packaged_code_systems() -> PackagedCodeSystems:
    """Loaded on first use (about 20,000 codes of 1,060 systems, 0.05 s) and kept for the process."""
    payload = resources.files(__package__).joinpath(PACKAGED_CODE_SYSTEMS).read_bytes()
    return PackagedCodeSystems(orjson.loads(gzip.decompress(payload)))
