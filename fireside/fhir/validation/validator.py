"""The validator every write and `$validate` use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fireside.fhir.definitions import FhirDefinitions, StructureDefinition
from fireside.fhir.errors import Issue
from fireside.fhir.validation.bindings import RequiredBindings
from fireside.fhir.validation.invariants import InvariantEvaluator
from fireside.fhir.validation.profiles import ProfileRegistry
from fireside.fhir.validation.structure import StructureValidator


class Validator:
    """Checks a resource against the R4 definitions: its type's structure, required bindings and
    invariants, then the same against each profile requested or claimed in `meta.profile` that is
    known (the spec's own, or one given to `register_profile`). Returns every issue found; errors
    have severity "error", and the caller decides whether to refuse the resource."""

    def __init__(self, definitions: FhirDefinitions) -> None:
        self.definitions = definitions
        self.profiles = ProfileRegistry(definitions)
        self.bindings = RequiredBindings()
        self.structure = StructureValidator(definitions, self.profiles, self.bindings)
        self.invariants = InvariantEvaluator()

    def register_profile(self, structure_definition: dict[str, Any]) -> StructureDefinition:
        """Make a profile or extension definition (FHIR JSON, with a snapshot or a differential)
        available to `validate` and to `meta.profile`. Raises FhirError if it cannot be used."""
        structure = self.profiles.register(structure_definition)
        # The structural caches key on element identity; a new profile (or a new version of one)
        # changes what other structures resolve to, and registering is rare, so start afresh.
        self.structure = StructureValidator(self.definitions, self.profiles, self.bindings)
        return structure

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        issues = self._pass(resource, None)
        if not isinstance(resource, dict):
            return issues
        seen = {_identity(issue) for issue in issues}
        requested = {url.split("|", 1)[0] for url in profiles}
        for url in _profile_urls(resource, profiles):
            issues += self._profile_pass(resource, url, url in requested, seen)
        return issues

    def _pass(self, resource: dict[str, Any], structure: StructureDefinition | None) -> list[Issue]:
        walk = self.structure.walk(resource, structure)
        if walk.has_errors:
            # Invariants over malformed content only add noise to the structural errors.
            return walk.issues
        return walk.issues + self.invariants.evaluate(walk.checks)

    def _profile_pass(self, resource: dict[str, Any], url: str, requested: bool,
                      seen: set[tuple[str, str | None, str]]) -> list[Issue]:
        """The issues the profile adds to those already `seen` (which it updates)."""
        resource_type = resource.get("resourceType")
        where = f"{resource_type}.meta.profile"
        profile = self.profiles.lookup(url)
        if profile is None:
            if requested:
                return [Issue("not-supported", f"Profile {url} is not known to this server", where)]
            return [Issue("not-supported", f"Profile {url} is not known to this server; not checked", where,
                          severity="information")]
        if profile.type != resource_type:
            return [Issue("invalid", f"Profile {url} is for {profile.type}, not {resource_type}", where)]
        if profile.derivation != "constraint":
            return []  # the core type itself, already checked
        added = []
        for issue in self._pass(resource, profile):
            if _identity(issue) not in seen:
                seen.add(_identity(issue))
                added.append(Issue(issue.code, f"{issue.diagnostics} (profile {profile.url})", issue.expression,
                                   issue.severity))
        return added


def _identity(issue: Issue) -> tuple[str, str | None, str]:
    return issue.code, issue.expression, issue.diagnostics


def _profile_urls(resource: dict[str, Any], requested: Sequence[str]) -> list[str]:
    meta = resource.get("meta")
    declared = meta.get("profile") if isinstance(meta, dict) else None
    claimed = [url for url in declared if isinstance(url, str)] if isinstance(declared, list) else []
    urls = list(requested) + claimed
    return list(dict.fromkeys(url.split("|", 1)[0] for url in urls))
