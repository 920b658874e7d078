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
    node: dict[str, Any]
    type_path: str  # the element's path in its definition (Observation.referenceRange, Period)
    path: str  # where the instance is (Observation.referenceRange[0])
    resource: dict[str, Any]  # %resource: the nearest enclosing resource
    root: dict[str, Any]  # %rootResource


@dataclass
class Walk:
    root: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    checks: list[InvariantCheck] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        return any(issue.severity in ("error", "fatal") for issue in self.issues)
