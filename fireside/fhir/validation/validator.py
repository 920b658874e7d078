"""The validator every write and `$validate` use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fireside.fhir.definitions import FhirDefinitions
from fireside.fhir.errors import Issue
from fireside.fhir.validation.invariants import InvariantEvaluator
from fireside.fhir.validation.structure import StructureValidator


class Validator:
    """Structure, required bindings and the spec's invariants. Profiles named in `profiles` or
    `meta.profile` are not checked yet."""

    def __init__(self, definitions: FhirDefinitions) -> None:
        self.structure = StructureValidator(definitions)
        self.invariants = InvariantEvaluator()

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        walk = self.structure.validate(resource)
        if walk.has_errors:
            # Invariants over malformed content only add noise to the structural errors.
            return walk.issues
        return walk.issues + self.invariants.evaluate(walk.checks)
