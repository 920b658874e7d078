"""`FiresideError`: the one exception the client raises, carrying the server's OperationOutcome."""

from __future__ import annotations

from typing import Any

import orjson

OperationOutcome = dict[str, Any]


def outcome_of(diagnostics: str, code: str = "exception", severity: str = "error") -> OperationOutcome:
    """An OperationOutcome made on the client side, for failures the server did not describe."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}


def format_issue(issue: dict[str, Any]) -> str:
    """`error invalid at Patient.birthDate: not a date`: severity, code, expression, diagnostics."""
    head = f"{issue.get('severity', 'error')} {issue.get('code', 'unknown')}"
    where = issue.get("expression") or issue.get("location") or []
    if where:
        head += " at " + ", ".join(str(w) for w in where)
    details = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
    return f"{head}: {details}" if details else head


def format_outcome(outcome: OperationOutcome) -> str:
    issues = outcome.get("issue") or []
    return "\n".join(format_issue(issue) for issue in issues if isinstance(issue, dict))


class FiresideError(Exception):
    """A request that failed: an HTTP error status, an OAuth error, or no answer at all.

    `status` is the HTTP status (None when no response arrived: connection refused, timeout).
    `outcome` is the OperationOutcome the server sent, or one made here from what it did send
    (an OAuth error, a plain-text body), so callers handle one shape.
    """

    def __init__(self, status: int | None, outcome: OperationOutcome, *, method: str = "", url: str = "") -> None:
        self.status = status
        self.outcome = outcome
        self.method = method
        self.url = url
        super().__init__(str(self))

    def __reduce__(self) -> tuple[type[FiresideError], tuple[int | None, OperationOutcome], dict[str, str]]:
        # Picklable (for process pools), though __init__ takes more than the message.
        return type(self), (self.status, self.outcome), {"method": self.method, "url": self.url}

    @property
    def issues(self) -> list[dict[str, Any]]:
        return [issue for issue in self.outcome.get("issue") or [] if isinstance(issue, dict)]

    def __str__(self) -> str:
        where = f" {self.method} {self.url}".rstrip() if self.method or self.url else ""
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        details = format_outcome(self.outcome)
        return f"{status}{where}" + (f": {details}" if "\n" not in details else ":\n  " + details.replace("\n", "\n  "))

    @classmethod
    def from_response(cls, status: int, content: bytes, *, method: str = "", url: str = "") -> FiresideError:
        return cls(status, _outcome_from_body(status, content), method=method, url=url)


def _outcome_from_body(status: int, content: bytes) -> OperationOutcome:
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        return body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        # RFC 6749 section 5.2: the token endpoint answers {"error", "error_description"}.
        description = body.get("error_description") or body["error"]
        return outcome_of(f"{body['error']}: {description}", code="login" if status == 401 else "security")
    text = content.decode("utf-8", "replace").strip()[:500]
    return outcome_of(text or f"HTTP {status} with no body", code="exception")
