"""Every FHIR interaction and operation Fireside serves, in one table.

The dispatcher routes requests from it and the CapabilityStatement is generated from it, so
what `/metadata` claims is exactly what is wired. A level is where the URL points:
`system` ([base]), `type` ([base]/Patient), `instance` ([base]/Patient/1) or `version`
([base]/Patient/1/_history/2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fireside.api.bundles.processing import batch_or_transaction
from fireside.api.context import Handler
from fireside.api.interactions.capabilities import capabilities
from fireside.api.interactions.compartment import search_compartment
from fireside.api.interactions.create import create
from fireside.api.interactions.delete import conditional_delete, delete
from fireside.api.interactions.history import history
from fireside.api.interactions.patch import conditional_patch, patch
from fireside.api.interactions.read import read
from fireside.api.interactions.search import search_type
from fireside.api.interactions.search_system import search_system
from fireside.api.interactions.update import conditional_update, update
from fireside.api.interactions.vread import vread
from fireside.api.operations.job_status import JOB_STATUS_URL, job_status
from fireside.api.operations.reindex import REINDEX_URL, reindex
from fireside.api.operations.validate import validate

Level = Literal["system", "type", "instance", "version"]


@dataclass(frozen=True)
class Interaction:
    """A RESTful interaction: `code` is its name in CapabilityStatement.rest.resource.interaction."""

    code: str
    method: str
    level: Level
    handler: Handler
    changes_state: bool
    # Set when the URL ends in a fixed segment: "_history", "_search".
    suffix: str | None = None
    conditional: bool = False


@dataclass(frozen=True)
class Operation:
    """An operation ($name), checked against its OperationDefinition."""

    code: str
    definition_url: str
    levels: tuple[Level, ...]
    handler: Handler
    changes_state: bool
    resource_types: tuple[str, ...] = ()  # empty: every type


INTERACTIONS: tuple[Interaction, ...] = (
    Interaction("capabilities", "GET", "system", capabilities, changes_state=False, suffix="metadata"),
    # One handler reads Bundle.type and serves both; the router takes the first matching line, so
    # the "batch" line only declares that interaction in the CapabilityStatement.
    Interaction("transaction", "POST", "system", batch_or_transaction, changes_state=True),
    Interaction("batch", "POST", "system", batch_or_transaction, changes_state=True),
    Interaction("read", "GET", "instance", read, changes_state=False),
    Interaction("vread", "GET", "version", vread, changes_state=False),
    Interaction("search-system", "GET", "system", search_system, changes_state=False),
    Interaction("search-type", "GET", "type", search_type, changes_state=False),
    Interaction("search-type", "POST", "type", search_type, changes_state=False, suffix="_search"),
    # Patient/1/Observation: the dispatcher gives compartment searches this suffix.
    Interaction("search-compartment", "GET", "instance", search_compartment, changes_state=False,
                suffix="compartment"),
    Interaction("create", "POST", "type", create, changes_state=True),
    Interaction("update", "PUT", "instance", update, changes_state=True),
    Interaction("update", "PUT", "type", conditional_update, changes_state=True, conditional=True),
    Interaction("delete", "DELETE", "instance", delete, changes_state=True),
    Interaction("delete", "DELETE", "type", conditional_delete, changes_state=True, conditional=True),
    Interaction("patch", "PATCH", "instance", patch, changes_state=True),
    Interaction("patch", "PATCH", "type", conditional_patch, changes_state=True, conditional=True),
    Interaction("history-instance", "GET", "instance", history, changes_state=False, suffix="_history"),
    Interaction("history-type", "GET", "type", history, changes_state=False, suffix="_history"),
    Interaction("history-system", "GET", "system", history, changes_state=False, suffix="_history"),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("validate", "http://hl7.org/fhir/OperationDefinition/Resource-validate", ("type", "instance"),
              validate, changes_state=False),
    # Fireside's own (fireside/api/operations/fireside-operations.json): R4 core has no $reindex.
    Operation("reindex", REINDEX_URL, ("system", "type"), reindex, changes_state=True),
    # The status endpoint of async.html for any job; DELETE there cancels, hence changes_state.
    Operation("job-status", JOB_STATUS_URL, ("system",), job_status, changes_state=True),
)


def find_interaction(method: str, level: Level, suffix: str | None) -> Interaction | None:
    return next(
        (i for i in INTERACTIONS if i.method == method and i.level == level and i.suffix == suffix),
        None,
    )


def find_operation(code: str, level: Level, resource_type: str | None) -> Operation | None:
    for operation in OPERATIONS:
        if operation.code != code or level not in operation.levels:
            continue
        if operation.resource_types and resource_type not in operation.resource_types:
            continue
        return operation
    return None
