"""The validator every write and `$validate` use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fireside.fhir.definitions import FhirDefinitions
from fireside.fhir.errors import Issue
from fireside.fhir.validation.invariants import InvariantEvaluator
from fireside.fhir.validation.structure import StructureValidator


class Validator:
    """Structure, required bindings and the spec's invariants against the resource's type, then
    the same against each loaded profile named in `profiles` or in `meta.profile`."""

    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions
        self.structure = StructureValidator(definitions)
        self.invariants = InvariantEvaluator()

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        issues = self._walk(resource, None)
        if any(issue.severity == "error" for issue in issues):
            return issues
        for url in _profile_urls(resource, profiles):
            issues += self._check_profile(resource, url)
        return issues

    def _walk(self, resource: dict[str, Any], profile_url: str | None) -> list[Issue]:
        structure = self.definitions.profile(profile_url) if profile_url else None
        walk = self.structure.validate(resource, structure=structure)
        if walk.has_errors:
            # Invariants over malformed content only add noise to the structural errors.
            return walk.issues
        return walk.issues + self.invariants.evaluate(walk.checks)

    def _check_profile(self, resource: dict[str, Any], url: str) -> list[Issue]:
        profile = self.definitions.profile(url)
        if profile is None:
            return [Issue("not-supported", f"Profile {url} is not loaded on this server; not checked",
                          f"{resource.get('resourceType')}.meta.profile", severity="information")]
        if profile.type != resource.get("resourceType"):
            return [Issue("invalid", f"Profile {url} is for {profile.type}, not {resource.get('resourceType')}",
                          f"{resource.get('resourceType')}.meta.profile")]
        return [
            Issue(issue.code, f"Profile {profile.name}: {issue.diagnostics}", issue.expression, issue.severity)
            for issue in self._walk(resource, url)
        ]


def _profile_urls(resource: dict[str, Any], requested: Sequence[str]) -> list[str]:
    meta = resource.get("meta")
    declared = meta.get("profile") if isinstance(meta, dict) else None
    urls = list(requested) + [u for u in declared or [] if isinstance(u, str)]
    return list(dict.fromkeys(u.split("|")[0] for u in urls))
