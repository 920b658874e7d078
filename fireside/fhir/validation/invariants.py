"""The definitions' FHIRPath invariants (ElementDefinition.constraint with severity error),
evaluated on each element instance where it is present, with %resource, %rootResource and
%context set as the spec says (https://hl7.org/fhir/R4/conformance-rules.html#constraints).

The few that sit on nearly every resource are evaluated natively (`core_invariants`); the rest
by fhirpathpy, each expression compiled once. An expression that uses a function fhirpathpy
lacks is not enforced (logged once at debug), nor are the ones listed in `NOT_ENFORCED`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import fhirpathpy
from fhirpathpy.engine.invocations import invocation_registry as fhirpath_functions
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from fireside.fhir.definitions import Constraint
from fireside.fhir.errors import Issue
from fireside.fhir.fhirpath import fhirpath_options
from fireside.fhir.validation.core_invariants import NATIVE
from fireside.fhir.validation.shortcuts import Shortcut, shortcut
from fireside.fhir.validation.walk import InvariantCheck

log = logging.getLogger(__name__)

Compiled = Callable[[Any, dict[str, Any]], list[Any]]

# R4 invariants that fhirpathpy evaluates but that would refuse valid content, each with why. The
# survey (the sample bundles, the US Core 6.1 and 7.0 examples, the HL7 validator test inputs)
# found two, ext-1 and dom-3, and both are evaluated natively instead (`core_invariants`); the
# entry stays for the next one found.
NOT_ENFORCED: dict[str, str] = {}

# A function call: a name directly followed by "(" (`status in ('a' | 'b')` is an operator).
_FUNCTION_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")
_OPERATORS = frozenset({"and", "or", "xor", "implies", "in", "contains", "div", "mod"})


def _has_value(inputs: list[Any]) -> bool:
    """FHIRPath hasValue(), which fhirpathpy lacks: a single primitive that has a value."""
    return len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)


_USER_FUNCTIONS = {"hasValue": {"fn": _has_value, "arity": {0: []}}}
_OPTIONS = fhirpath_options(returnRawData=True, userInvocationTable=_USER_FUNCTIONS)
_KNOWN_FUNCTIONS = frozenset(fhirpath_functions) | frozenset(_USER_FUNCTIONS)


class InvariantEvaluator:
    def __init__(self) -> None:
        self._model = models["r4"]
        self._compiled: dict[str, Compiled | None] = {}
        self._shortcuts: dict[str, Shortcut | None] = {}
        self._failed: set[str] = set()

    def evaluate(self, checks: list[InvariantCheck]) -> list[Issue]:
        issues = []
        for check in checks:
            for constraint in check.constraints:
                if not self._holds(constraint, check):
                    issues.append(Issue("invariant", f"{constraint.key}: {constraint.human}", check.path))
        return issues

    def _holds(self, constraint: Constraint, check: InvariantCheck) -> bool:
        native = NATIVE.get(constraint.key)
        if native is not None:
            return native(check)
        if constraint.key in NOT_ENFORCED:
            return True
        if constraint.expression not in self._shortcuts:
            self._shortcuts[constraint.expression] = shortcut(constraint.expression)
        decided = self._shortcuts[constraint.expression]
        if decided is not None and decided(check.node):
            return True
        compiled = self._compile(constraint)
        if compiled is None:
            return True
        try:
            result = compiled(ResourceNode.create_node(check.node, check.type_path), {  # type: ignore[no-untyped-call]
                "resource": _resource_node(check.resource),
                "rootResource": _resource_node(check.root),
            })
        except Exception as error:  # fhirpathpy raises bare Exceptions on what it cannot handle
            if constraint.key not in self._failed:
                self._failed.add(constraint.key)
                log.debug("invariant %s could not be evaluated (%s); not enforced there", constraint.key, error)
            return True
        # A constraint fails only on false: an empty result means the expression could not
        # decide (e.g. comparing dateTimes of different precision), which is not a violation.
        return [getattr(item, "data", item) for item in result] != [False]

    def _compile(self, constraint: Constraint) -> Compiled | None:
        expression = constraint.expression
        if expression not in self._compiled:
            self._compiled[expression] = None
            unknown = set(_FUNCTION_CALL.findall(expression)) - _KNOWN_FUNCTIONS - _OPERATORS
            if unknown:
                log.debug("invariant %s uses %s, which fhirpathpy lacks; not enforced", constraint.key, unknown)
                return None
            try:
                self._compiled[expression] = fhirpathpy.compile(expression, self._model, _OPTIONS)
            except Exception as error:  # the parser raises bare Exceptions
                log.debug("invariant %s cannot be compiled (%s); not enforced", constraint.key, error)
        return self._compiled[expression]


def _resource_node(resource: dict[str, Any]) -> Any:
    return ResourceNode.create_node(resource, resource.get("resourceType"))  # type: ignore[no-untyped-call]
