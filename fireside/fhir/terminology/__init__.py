"""Terminology: code systems, their hierarchies and value set expansion, from the packaged R4
code systems and value sets and from CodeSystem / ValueSet resources handed in by the caller.
Pure functions over data; reading resources from the store is `fireside.search.terminology`."""

from fireside.fhir.terminology.codesystems import (
    CodeSystemView,
    PackagedCodeSystems,
    packaged_code_systems,
    view_of_code_system,
)
from fireside.fhir.terminology.valuesets import (
    CodeSet,
    ExpansionError,
    TerminologySource,
    code_count,
    expand_value_set,
    is_packaged_value_set,
    packaged_value_set,
)

__all__ = [
    "CodeSet",
    "CodeSystemView",
    "ExpansionError",
    "PackagedCodeSystems",
    "TerminologySource",
    "code_count",
    "expand_value_set",
    "is_packaged_value_set",
    "packaged_code_systems",
    "packaged_value_set",
    "view_of_code_system",
]
