"""The spec's FHIRPath invariants (ElementDefinition.constraint, severity error).

The handful that sit on nearly every resource or data type are evaluated natively: interpreted
FHIRPath manages only tens of thousands of evaluations a second (MEASURED.md), and these alone
would be most of a write's cost. The rest go to fhirpathpy, compiled once per expression and
evaluated on typed nodes so that choice elements (`value` for `valueString`) resolve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from fireside.fhir.definitions import Constraint
from fireside.fhir.errors import Issue
from fireside.fhir.fhirpath import fhirpath_options
from fireside.fhir.validation.walk import InvariantCheck

log = logging.getLogger(__name__)

Native = Callable[[InvariantCheck], bool]
Compiled = Callable[[Any, dict[str, Any]], Any]


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            elif isinstance(item, dict | list):
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _contained(check: InvariantCheck) -> list[dict[str, Any]]:
    return [c for c in check.node.get("contained") or [] if isinstance(c, dict)]


def _extension_has_value_or_children(check: InvariantCheck) -> bool:  # ext-1
    has_children = "extension" in check.node
    has_value = any(key.startswith("value") for key in check.node)
    return has_children != has_value


def _local_reference_resolves(check: InvariantCheck) -> bool:  # ref-1
    reference = check.node.get("reference")
    if not isinstance(reference, str) or not reference.startswith("#") or reference == "#":
        return True
    contained = check.root.get("contained") or []
    return reference[1:] in {c.get("id") for c in contained if isinstance(c, dict)}


def _contained_has_no_contained(check: InvariantCheck) -> bool:  # dom-2
    return not any("contained" in c for c in _contained(check))


def _contained_is_referenced(check: InvariantCheck) -> bool:  # dom-3
    contained = _contained(check)
    if not contained:
        return True
    references = set(_references(check.node))
    if "#" in references:
        return True
    return all(f"#{c.get('id')}" in references for c in contained)


def _contained_has_no_version(check: InvariantCheck) -> bool:  # dom-4
    return not any(
        isinstance(c.get("meta"), dict) and ("versionId" in c["meta"] or "lastUpdated" in c["meta"])
        for c in _contained(check)
    )


def _contained_has_no_security(check: InvariantCheck) -> bool:  # dom-5
    return not any(isinstance(c.get("meta"), dict) and "security" in c["meta"] for c in _contained(check))


def _coded_quantity_has_system(check: InvariantCheck) -> bool:  # qty-3
    return "code" not in check.node or "system" in check.node


NATIVE: dict[str, Native] = {
    "ext-1": _extension_has_value_or_children,
    "ref-1": _local_reference_resolves,
    "dom-2": _contained_has_no_contained,
    "dom-3": _contained_is_referenced,
    "dom-4": _contained_has_no_version,
    "dom-5": _contained_has_no_security,
    "qty-3": _coded_quantity_has_system,
}


class InvariantEvaluator:
    def __init__(self) -> None:
        from fhirpathpy.models import models

        self._model = models["r4"]
        self._compiled: dict[str, Compiled | None] = {}

    def evaluate(self, checks: list[InvariantCheck]) -> list[Issue]:
        issues = []
        for check in checks:
            for constraint in check.constraints:
                if self._holds(constraint, check) is False:
                    issues.append(Issue("invariant", f"{constraint.key}: {constraint.human}", check.path))
        return issues

    def _holds(self, constraint: Constraint, check: InvariantCheck) -> bool | None:
        native = NATIVE.get(constraint.key)
        if native is not None:
            return native(check)
        compiled = self._compile(constraint.expression)
        if compiled is None:
            return None
        from fhirpathpy.engine.nodes import ResourceNode

        try:
            node = ResourceNode.create_node(check.node, check.type_path)  # type: ignore[no-untyped-call]
            result = compiled(node,
                              {"resource": check.resource, "rootResource": check.root})
        except Exception:
            # fhirpathpy lacks some functions (e.g. conformsTo); such a constraint is not enforced.
            log.debug("invariant %s could not be evaluated", constraint.key)
            return None
        return bool(result != [False])

    def _compile(self, expression: str) -> Compiled | None:
        if expression not in self._compiled:
            import fhirpathpy

            # hasValue() is missing from fhirpathpy; exists() differs only for a primitive that
            # carries extensions and no value, where it is the more lenient reading.
            source = expression.replace("hasValue()", "exists()")
            try:
                self._compiled[expression] = fhirpathpy.compile(source, self._model, fhirpath_options())
            except Exception:
                log.warning("invariant expression %r cannot be compiled; it is not enforced", expression)
                self._compiled[expression] = None
        return self._compiled[expression]
