"""The long-lived parts a handler needs, built once per process by the app's lifespan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from fireside.auth import TokenService
from fireside.auth.audit import AuditSink, DisabledAuditSink
from fireside.auth.origins import OriginRegistry
from fireside.auth.policies import AccessResolver
from fireside.config import Settings
from fireside.fhir import FhirDefinitions, FhirError, Issue
from fireside.jobs import JobQueue
from fireside.search import SearchEngine
from fireside.store import ResourceStore


class ResourceValidator(Protocol):
    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]: ...


@dataclass
class Services:
    settings: Settings
    definitions: FhirDefinitions
    store: ResourceStore
    tokens: TokenService
    validator: ResourceValidator
    search: SearchEngine
    # Where $reindex and other long work goes (fireside.jobs); None when the app runs without one.
    jobs: JobQueue | None = None
    # A token's scopes and its membership's access policies, compiled and cached (fireside.auth.policies).
    access: AccessResolver | None = None
    # Where AuditEvents go (fireside.auth.audit); the admin project gets events with no project.
    audit: AuditSink = field(default_factory=DisabledAuditSink)
    admin_project_id: UUID | None = None
    # The browser origins of the ClientApplications (CORS, fireside/api/cors.py).
    origins: OriginRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.origins = OriginRegistry(self.store)

    def check_resource(self, resource: dict[str, Any], path: str | None = None) -> None:
        """Raise a 400 carrying every error the validator finds in `resource`.

        `path` re-roots issue paths when the resource sits inside a Bundle entry."""
        issues = self.validator.validate(resource)
        errors = [i for i in issues if i.severity in ("error", "fatal")]
        if not errors:
            return
        if path:
            root = resource.get("resourceType", "")
            issues = [_reroot(i, root, path) for i in issues]
        raise FhirError(issues)


def _reroot(issue: Issue, root: str, path: str) -> Issue:
    expression = issue.expression
    if expression and expression.startswith(root):
        expression = path + expression[len(root):]
    return Issue(issue.code, issue.diagnostics, expression, issue.severity)
