"""Required bindings: a coded element bound `required` must hold a code from its ValueSet
(https://hl7.org/fhir/R4/terminologies.html#required). Expansions are packaged by
`scripts/build_valuesets.py`; value sets over systems too large to list are not checked."""

from __future__ import annotations

from typing import Any

from fireside.fhir.definitions import Binding, read_packaged_json
from fireside.fhir.errors import Issue

CODED_TYPES = frozenset({"code", "Coding", "CodeableConcept"})


class RequiredBindings:
    def __init__(self) -> None:
        raw: dict[str, dict[str, list[str]] | None] = read_packaged_json("required-valuesets.json.gz")
        self._by_system = {
            url: {system: frozenset(codes) for system, codes in expansion.items()}
            for url, expansion in raw.items() if expansion is not None
        }
        self._codes = {url: frozenset().union(*systems.values()) for url, systems in self._by_system.items()}

    def check(self, value: Any, type_code: str, binding: Binding, path: str) -> Issue | None:
        if binding.strength != "required" or type_code not in CODED_TYPES:
            return None
        url = binding.value_set.split("|")[0]
        systems = self._by_system.get(url)
        if systems is None:
            return None
        if type_code == "code":
            if isinstance(value, str) and value not in self._codes[url]:
                return Issue("code-invalid", f"{value!r} is not in the required value set {url}", path)
            return None
        codings = [value] if type_code == "Coding" else (value.get("coding") or [] if isinstance(value, dict) else [])
        coded = [c for c in codings if isinstance(c, dict) and isinstance(c.get("code"), str)]
        if not coded or any(c["code"] in systems.get(c.get("system") or "", ()) for c in coded):
            return None
        shown = ", ".join(f"{c.get('system', '')}|{c['code']}" for c in coded)
        return Issue("code-invalid", f"{shown} is not in the required value set {url}", path)
