"""The validator every write and `$validate` use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fireside.fhir.definitions import FhirDefinitions
from fireside.fhir.errors import Issue
from fireside.fhir.validation.structure import StructureValidator


class Validator:
    """Checks a resource's structure against its type. Profiles named in `profiles` or
    `meta.profile` are not checked yet (see the validation design note)."""

    def __init__(self, definitions: FhirDefinitions) -> None:
        self.structure = StructureValidator(definitions)

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        return self.structure.validate(resource)
