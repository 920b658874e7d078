"""SMART on FHIR clinical scopes, parsed once per token into access rules
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

    patient/*.read                         v1: read and search every type in the patient's compartment
    user/Observation.write                 v1: create, update and delete Observations
    system/*.*                             v1: everything
    patient/Observation.rs?category=laboratory   v2: read and search laboratory Observations only

v2 permissions are the letters c (create), r (read, vread, history), u (update, patch),
d (delete), s (search), in that order. A v2 query narrows the scope to the resources that match
it as a search. `patient/` scopes reach the compartment of the token's patient (its `patient`
claim); without one they reach nothing. `user/` and `system/` scopes reach what the user's or
client's membership may (its AccessPolicies intersect them: fireside/auth/policies.py).

Other scopes (`openid`, `fhirUser`, `launch/patient`, `offline_access`, ...) grant no data.
A token that carries no clinical scope at all is not narrowed by scopes (Fireside's own
sign-ins, such as the CLI's, ask for `openid offline_access` and work with the membership's
access); one that carries any is held to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fireside.search.policy import ALL_ACTIONS, Rule

_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(?:\?(.*))?$")
_V2_PERMISSIONS = re.compile(r"^c?r?u?d?s?$")
_V1_PERMISSIONS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": ALL_ACTIONS}


@dataclass(frozen=True)
class ClinicalScope:
    """One clinical scope: `context` is patient, user or system."""

    context: str
    resource_type: str
    actions: frozenset[str]
    criteria: tuple[tuple[str, str], ...] = ()


def parse_scope(text: str) -> ClinicalScope | None:
    """The clinical scope `text` names; None for any other scope, or one malformed (it grants nothing)."""
    match = _SCOPE.match(text)
    if match is None:
        return None
    context, resource_type, permissions, query = match.groups()
    actions = _V1_PERMISSIONS.get(permissions)
    if actions is None:
        if not permissions or not _V2_PERMISSIONS.match(permissions):
            return None
        actions = frozenset(permissions)
    if query is not None and permissions in _V1_PERMISSIONS:
        return None  # queries are a v2 feature
    criteria = tuple(parse_qsl(query, keep_blank_values=False)) if query else ()
    return ClinicalScope(context, resource_type, actions, criteria)


def clinical_scopes(scope: str) -> tuple[ClinicalScope, ...]:
    return tuple(parsed for text in scope.split() if (parsed := parse_scope(text)) is not None)


def has_clinical_scopes(scope: str) -> bool:
    """Whether `scope` names any clinical scope, even one that grants nothing once checked."""
    return any(_SCOPE.match(text) for text in scope.split())


def scope_rules(scope: str, patient: str | None) -> tuple[Rule, ...] | None:
    """The rules `scope` grants, as one layer of a policy (any rule may allow); None when it
    has no clinical scope, so does not narrow access. `patient` is the token's patient id."""
    if not has_clinical_scopes(scope):
        return None
    rules: list[Rule] = []
    for parsed in clinical_scopes(scope):
        if parsed.context == "patient":
            if not patient:
                continue  # patient scopes without a patient in context reach no one's data
            rules.append(Rule(parsed.resource_type, parsed.actions, parsed.criteria, f"Patient/{patient}"))
        else:
            rules.append(Rule(parsed.resource_type, parsed.actions, parsed.criteria))
    return tuple(rules)
