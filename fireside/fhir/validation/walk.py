"""What one validation pass collects: issues, and the invariants to evaluate afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fireside.fhir.definitions import Constraint
from fireside.fhir.errors import Issue


@dataclass(frozen=True)
class InvariantCheck:
    """The constraints of one element instance, with what FHIRPath needs to evaluate them."""

    constraints: tuple[Constraint, ...]
    node: Any  # the element's JSON: an object, or a primitive value
    type_path: str  # the element's path in its definition (Observation.referenceRange, Period)
    path: str  # where the instance is (Observation.referenceRange[0])
    resource: dict[str, Any]  # %resource: the nearest enclosing resource
    root: dict[str, Any]  # %rootResource: the container of a contained resource, else %resource


@dataclass
class Walk:
    """The state of one pass over a resource against one StructureDefinition."""

    issues: list[Issue] = field(default_factory=list)
    checks: list[InvariantCheck] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    root: dict[str, Any] = field(default_factory=dict)
    # A profile pass leaves the core types' own constraints to the pass against the core type.
    skip_core_constraints: bool = False
    depth: int = 0  # of nested objects, bounded so that hostile nesting cannot exhaust the stack

    def error(self, code: str, diagnostics: str, path: str | None) -> None:
        self.issues.append(Issue(code, diagnostics, path))

    @property
    def has_errors(self) -> bool:
        return any(issue.severity in ("error", "fatal") for issue in self.issues)
