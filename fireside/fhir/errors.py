"""The one exception Fireside raises for a FHIR-level problem, carrying its OperationOutcome.

Raise `FhirError` where the problem is found; `fireside.api` turns it into an HTTP response once,
at the edge, mapping the first issue's code to a status (see `status_for_issue_code`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]

# https://hl7.org/fhir/R4/valueset-issue-type.html, mapped to the statuses the RESTful API
# section of the spec names for each kind of failure.
_STATUS_BY_ISSUE_CODE: dict[str, int] = {
    "invalid": 400,
    "structure": 400,
    "required": 400,
    "value": 400,
    "invariant": 400,
    "code-invalid": 400,
    "extension": 400,
    "security": 403,
    "login": 401,
    "unknown": 401,
    "expired": 401,
    "forbidden": 403,
    "suppressed": 403,
    "processing": 422,
    "not-supported": 400,
    "duplicate": 412,
    "multiple-matches": 412,
    "not-found": 404,
    "deleted": 410,
    "too-long": 413,
    "too-costly": 413,
    "business-rule": 422,
    "conflict": 409,
    "transient": 503,
    "lock-error": 409,
    "no-store": 500,
    "exception": 500,
    "timeout": 503,
    "incomplete": 400,
    "throttled": 429,
    "informational": 200,
}


def status_for_issue_code(code: str) -> int:
    return _STATUS_BY_ISSUE_CODE.get(code, 400)


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: what went wrong, where (a FHIRPath `expression`), how badly."""

    code: str
    diagnostics: str
    expression: str | None = None
    severity: Severity = "error"

    def to_json(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


@dataclass
class FhirError(Exception):
    """A request that cannot be honoured, with the issues that explain why.

    `status` overrides the status derived from the first issue's code, for the few cases where
    the spec asks for one the issue code does not imply (e.g. 412 on a stale If-Match).
    """

    issues: list[Issue]
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.issues[0].diagnostics if self.issues else "FHIR error")

    @classmethod
    def single(
        cls,
        code: str,
        diagnostics: str,
        expression: str | None = None,
        status: int | None = None,
    ) -> FhirError:
        return cls([Issue(code, diagnostics, expression)], status=status)

    @property
    def http_status(self) -> int:
        if self.status is not None:
            return self.status
        errors = [i for i in self.issues if i.severity in ("fatal", "error")] or self.issues
        return status_for_issue_code(errors[0].code) if errors else 400

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


def invalid(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError.single("invalid", diagnostics, expression)


def not_found(diagnostics: str) -> FhirError:
    return FhirError.single("not-found", diagnostics)
