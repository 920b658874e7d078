"""What one audited action becomes: an R4 `AuditEvent` (https://hl7.org/fhir/R4/auditevent.html).

REST interactions use type `rest` with the interaction as subtype (http://hl7.org/fhir/restful-interaction),
as the spec's examples do; sign-in, sign-out and token issue use DICOM 110114 "User Authentication"
with 110122 "Login" / 110123 "Logout", and a Fireside code for token issue (DICOM has none).
The search query is kept, base64 encoded, in `entity.query` (the spec's place for it): it may
hold PHI (`Patient?name=...`), which is why AuditEvents are PHI-bearing and stay in the project's
own data or the dedicated audit log.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fireside.store import format_instant

REST_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
             "display": "RESTful Operation"}
USER_AUTHENTICATION_TYPE = {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110114",
                            "display": "User Authentication"}
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
FIRESIDE_SUBTYPES = "https://fireside.dev/fhir/CodeSystem/audit-event-subtype"
AUTHENTICATION_SUBTYPES = {
    "login": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110122", "display": "Login"},
    "logout": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110123", "display": "Logout"},
    "token": {"system": FIRESIDE_SUBTYPES, "code": "token", "display": "Access token request"},
    # Account events (fireside/auth/password_tokens.py, invites.py, registration.py): DICOM has no codes.
    "password-reset": {"system": FIRESIDE_SUBTYPES, "code": "password-reset", "display": "Password reset request"},
    "password-set": {"system": FIRESIDE_SUBTYPES, "code": "password-set", "display": "Password set by link"},
    "invite": {"system": FIRESIDE_SUBTYPES, "code": "invite", "display": "Member invited"},
    "register": {"system": FIRESIDE_SUBTYPES, "code": "register", "display": "Self-registration"},
    # Second factor events (fireside/auth/mfa.py, second_factor.py); never the secret or a code.
    "totp-enroll": {"system": FIRESIDE_SUBTYPES, "code": "totp-enroll", "display": "TOTP enrollment started"},
    "totp-enable": {"system": FIRESIDE_SUBTYPES, "code": "totp-enable", "display": "TOTP turned on"},
    "totp-disable": {"system": FIRESIDE_SUBTYPES, "code": "totp-disable", "display": "TOTP turned off"},
    "recovery-codes": {"system": FIRESIDE_SUBTYPES, "code": "recovery-codes", "display": "Recovery codes renewed"},
    "recovery-code-used": {"system": FIRESIDE_SUBTYPES, "code": "recovery-code-used",
                           "display": "Recovery code used to sign in"},
}
# AuditEvent.action (http://hl7.org/fhir/audit-event-action): searches, operations, Bundles and
# sign-ins are "E" (execute), as the value set's definition says for queries and log-on.
_ACTIONS = {
    "create": "C", "read": "R", "vread": "R", "history-instance": "R", "history-type": "R",
    "history-system": "R", "update": "U", "patch": "U", "delete": "D",
}
_OBSERVER = {"display": "Fireside FHIR server"}
_SOURCE_TYPE = [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
                 "display": "Application Server"}]
_APPLICATION_ROLE = {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110150",
                                 "display": "Application"}]}
_RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
_WHO_TYPES = frozenset({"PractitionerRole", "Practitioner", "Organization", "Device", "Patient", "RelatedPerson"})
# Logical references to Fireside's callers: the value is the reference, "ClientApplication/<id>".
AUTHOR_SYSTEM = "https://fireside.dev/fhir/author"
_QUERY_ROLE = {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "24", "display": "Query"}
# Outcome (http://hl7.org/fhir/audit-event-outcome): 12 "major failure: action made no longer
# available" is what a lock-out does to an account.
SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE, MAJOR_FAILURE = "0", "4", "8", "12"


@dataclass(frozen=True)
class AuditRecord:
    """One audited action, as the edge saw it."""

    project_id: UUID  # whose data the AuditEvent goes into
    action: str  # a restful-interaction code, or "login", "logout", "token"
    status: int  # the HTTP status answered
    agent: str | None = None  # the author: "User/1", "ClientApplication/2"
    client_id: str | None = None
    source_address: str | None = None
    entity: str | None = None  # "Patient/1", "Patient/1/_history/2"
    entity_type: str | None = None  # the resource type of a type-level interaction
    query: str | None = None  # the query string, as sent
    operation: str | None = None  # "$validate"
    # At a failed sign-in for an email no user has: what was typed (there is no User to refer to).
    agent_alt_id: str | None = None
    locked: bool = False
    recorded: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def outcome(self) -> str:
        if self.locked:
            return MAJOR_FAILURE
        if self.status < 400:
            return SUCCESS
        return MINOR_FAILURE if self.status < 500 else SERIOUS_FAILURE


def audit_event(record: AuditRecord) -> dict[str, Any]:
    """The AuditEvent resource for `record` (no id or meta: the store gives them)."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        **_type_and_subtype(record.action),
        "action": _ACTIONS.get(record.action, "E"),
        "recorded": format_instant(record.recorded),
        "outcome": record.outcome,
        "outcomeDesc": f"HTTP {record.status}",
        "agent": _agents(record),
        "source": {"observer": _OBSERVER, "type": _SOURCE_TYPE},
    }
    entity = _entity(record)
    if entity:
        event["entity"] = [entity]
    return event


def _type_and_subtype(action: str) -> dict[str, Any]:
    if action in AUTHENTICATION_SUBTYPES:
        return {"type": USER_AUTHENTICATION_TYPE, "subtype": [AUTHENTICATION_SUBTYPES[action]]}
    return {"type": REST_TYPE, "subtype": [{"system": RESTFUL_INTERACTION, "code": action}]}


def _who(reference: str) -> dict[str, Any]:
    """AuditEvent.agent.who may refer only to the R4 types in _WHO_TYPES; Fireside's own callers
    (User, ClientApplication, Bot) are named by a logical reference instead (Reference.identifier)."""
    if reference.split("/")[0] in _WHO_TYPES:
        return {"reference": reference}
    return {"identifier": {"system": AUTHOR_SYSTEM, "value": reference}, "display": reference}


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    requestor: dict[str, Any] = {"requestor": True}
    if record.agent:
        requestor["who"] = _who(record.agent)
    # altId (searchable as `altid`) holds the caller's reference, or the email a failed sign-in typed.
    if record.agent_alt_id or record.agent:
        requestor["altId"] = record.agent_alt_id or record.agent
    if record.source_address:
        # network.type 2: an IP address (http://hl7.org/fhir/network-type).
        requestor["network"] = {"address": record.source_address, "type": "2"}
    agents = [requestor]
    client = f"ClientApplication/{record.client_id}" if record.client_id else None
    if client and client != record.agent:
        agents.append({"type": _APPLICATION_ROLE, "who": _who(client), "altId": client, "requestor": False})
    return agents


def _entity(record: AuditRecord) -> dict[str, Any] | None:
    entity: dict[str, Any] = {}
    if record.entity:
        entity["what"] = {"reference": record.entity}
    resource_type = record.entity.split("/")[0] if record.entity else record.entity_type
    if resource_type:
        entity["type"] = {"system": _RESOURCE_TYPES, "code": resource_type}
    if record.query and record.action.startswith("search"):
        entity["role"] = _QUERY_ROLE
        entity["query"] = base64.b64encode(record.query.encode()).decode()
    elif record.query:
        entity["detail"] = [{"type": "query", "valueBase64Binary": base64.b64encode(record.query.encode()).decode()}]
    if record.operation:
        entity.setdefault("detail", []).append({"type": "operation", "valueString": record.operation})
    return entity or None
