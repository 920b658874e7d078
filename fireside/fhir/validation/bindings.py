"""Required bindings: a coded element bound `required` must hold a code from its ValueSet
(https://hl7.org/fhir/R4/terminologies.html#required). Expansions are packaged by
`scripts/build_valuesets.py`; value sets over systems too large to list (UCUM, BCP-47, mime
types) are recorded as not checkable and not checked, nor are value sets the server does not hold.
"""

from __future__ import annotations

from typing import Any

from fireside.fhir.definitions import Binding, read_packaged_json

# A Quantity bound to a value set is bound by its unit: `system` and `code`, as a Coding.
QUANTITY_TYPES = frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"})
CODED_TYPES = frozenset({"code", "Coding", "CodeableConcept"}) | QUANTITY_TYPES


class RequiredBindings:
    def __init__(self) -> None:
        self._expansions: dict[str, dict[str, list[str]] | None] = read_packaged_json("required-valuesets.json.gz")
        # Built on first use: most of the 1,200 value sets are never bound by what is stored.
        self._pairs: dict[str, frozenset[tuple[str, str]] | None] = {}
        self._codes: dict[str, frozenset[str] | None] = {}

    def _codes_of(self, url: str) -> frozenset[str] | None:
        if url not in self._codes:
            expansion = self._expansions.get(url)
            self._codes[url] = None if expansion is None else frozenset(
                code for codes in expansion.values() for code in codes)
        return self._codes[url]

    def _pairs_of(self, url: str) -> frozenset[tuple[str, str]] | None:
        if url not in self._pairs:
            expansion = self._expansions.get(url)
            self._pairs[url] = None if expansion is None else frozenset(
                (system, code) for system, codes in expansion.items() for code in codes)
        return self._pairs[url]

    def problem(self, value: Any, type_code: str, binding: Binding) -> str | None:
        """Why `value` breaks the required binding, or None (also when it cannot be checked)."""
        if binding.strength != "required" or type_code not in CODED_TYPES:
            return None
        url = binding.value_set.split("|", 1)[0]
        if type_code == "code":
            codes = self._codes_of(url)
            if codes is None or not isinstance(value, str) or value in codes:
                return None
            return f"{value!r} is not in the required value set {url}"
        pairs = self._pairs_of(url)
        if pairs is None or not isinstance(value, dict):
            return None
        codings = value.get("coding") if type_code == "CodeableConcept" else [value]
        # Malformed codings are reported by the structural walk; only well-formed ones are looked up.
        coded = [c for c in codings if isinstance(c, dict) and isinstance(c.get("code"), str)
                 and isinstance(c.get("system", ""), str)] if isinstance(codings, list) else []
        if not coded or any((c.get("system") or "", c["code"]) in pairs for c in coded):
            return None
        shown = ", ".join(f"{c.get('system', '')}|{c['code']}" for c in coded)
        if type_code != "CodeableConcept":
            return f"{shown} is not in the required value set {url}"
        return f"None of the codings ({shown}) is in the required value set {url}"
