"""A token's access: its SMART scopes intersected with its membership's AccessPolicies
(docs/access-control.md), compiled into the `CompiledPolicy` every store and search call
carries in `AccessContext.policy`.

An AccessPolicy (a Fireside resource type) lists `resource` rules:

    {"resourceType": "AccessPolicy", "compartment": "%patient",
     "resource": [{"resourceType": "Observation", "criteria": "Observation?category=laboratory",
                   "readonly": true, "hiddenFields": ["note"]},
                  {"resourceType": "Patient"}]}

A membership's policies (`ProjectMembership.accessPolicy`) combine as a union; a membership with
none is limited only by its project. `%name` in criteria and compartment is bound from the
membership: `%profile` is its `profile` reference, `%patient` (and any other name) a
`ProjectMembership.parameter`, and `%patient` falls back to the token's patient. A rule whose
variable is unbound grants nothing.

Compiled policies are cached per (project, member, scope, patient) for `CACHE_SECONDS`, so a
changed membership or policy applies within that time, and a request pays a dict lookup.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import orjson

from fireside.auth.memberships import membership_resource
from fireside.auth.scopes import scope_rules
from fireside.auth.tokens import TokenGrant
from fireside.fhir.errors import FhirError
from fireside.search.policy import ALL_ACTIONS, CompiledPolicy, Rule
from fireside.store import AccessContext, ResourceStore
from fireside.store.context import CREATE, DELETE, READ, SEARCH, UPDATE

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0
CACHE_SIZE = 10_000
_VARIABLE = re.compile(r"%([A-Za-z][A-Za-z0-9_-]*)")
_READ_ONLY = frozenset("rs")

CacheKey = tuple[UUID, str, str, str | None]
MEMBERSHIP_REQUIRED = ("User/", "Bot/")


class AccessResolver:
    """Builds the access context of a verified token: scopes ∩ membership policies."""

    def __init__(self, store: ResourceStore, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[CacheKey, tuple[CompiledPolicy | None, float]] = {}

    async def context(self, grant: TokenGrant) -> AccessContext:
        ctx = grant.access_context()
        patient = token_patient(grant)
        key: CacheKey = (grant.project_id, grant.subject, grant.scope, patient)
        cached = self._cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return replace(ctx, policy=cached[0])
        policy = await self._compile(grant, patient)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (policy, time.monotonic() + self.cache_seconds)
        return replace(ctx, policy=policy)

    def forget(self, project_id: UUID | None = None) -> None:
        """Drop the compiled policies of `project_id` (default: all): a membership, policy or
        client changed there and must apply now (fireside/auth/changes.py)."""
        if project_id is None:
            self._cache.clear()
            return
        for key in [key for key in self._cache if key[0] == project_id]:
            del self._cache[key]

    async def _compile(self, grant: TokenGrant, patient: str | None) -> CompiledPolicy | None:
        layers: list[tuple[Rule, ...]] = []
        granted = scope_rules(grant.scope, patient)
        if granted is not None:
            layers.append(granted)
        # The client may be limited to fewer scopes than a user asks for (ClientApplication.scope).
        client_scope = await _client_scope(self.store, grant.project_id, grant.client_id)
        client_granted = scope_rules(client_scope, patient) if client_scope else None
        if client_granted is not None:
            layers.append(client_granted)
        if not grant.super_admin:
            membership_rules = await self._membership_rules(grant, patient)
            if membership_rules is not None:
                layers.append(membership_rules)
        # A layer that grants everything (`system/*.*`) narrows nothing: without layers the
        # context carries no policy and reads and searches skip every check.
        narrowing = tuple(layer for layer in layers if not _grants_everything(layer))
        return CompiledPolicy(narrowing) if narrowing else None

    async def _membership_rules(self, grant: TokenGrant, patient: str | None) -> tuple[Rule, ...] | None:
        """The union of the membership's policies' rules; None when it names no policy, and no
        rule at all for a user or bot who is no longer a member: removing a membership ends
        its tokens' access at once (within the cache's seconds), not when they expire."""
        found = await membership_resource(self.store, grant.project_id, grant.subject)
        if found is None:
            # Clients act in the project that holds them, with or without a membership.
            return () if grant.subject.startswith(MEMBERSHIP_REQUIRED) else None
        _, membership = found
        references = [ref.get("reference", "") for ref in membership.get("accessPolicy", []) if isinstance(ref, dict)]
        if not references:
            return None
        variables = membership_variables(membership, patient)
        policies = await _policies(self.store, grant.project_id,
                                   [r.removeprefix("AccessPolicy/") for r in references])
        return tuple(rule for policy in policies for rule in policy_rules(policy, variables))


def _grants_everything(layer: tuple[Rule, ...]) -> bool:
    return any(rule.resource_type == "*" and rule.actions == ALL_ACTIONS and rule.unrestricted
               and not rule.hidden_fields and not rule.readonly_fields for rule in layer)


def token_patient(grant: TokenGrant) -> str | None:
    """The token's patient context (the SMART `patient` claim: a Patient id)."""
    return grant.patient or None


def membership_variables(membership: Mapping[str, Any], patient: str | None) -> dict[str, str]:
    """The values `%name` stands for in this membership's policies."""
    variables: dict[str, str] = {}
    if patient:
        variables["patient"] = f"Patient/{patient}"
    profile = (membership.get("profile") or {}).get("reference")
    if isinstance(profile, str):
        variables["profile"] = profile
    for parameter in membership.get("parameter", []):
        value = parameter.get("valueString") or (parameter.get("valueReference") or {}).get("reference")
        if isinstance(parameter.get("name"), str) and isinstance(value, str):
            variables[parameter["name"]] = value
    return variables


def policy_rules(policy: Mapping[str, Any], variables: Mapping[str, str]) -> list[Rule]:
    """The rules of one AccessPolicy resource with its variables bound; a rule that uses an
    unbound variable, or whose criteria name another type, is left out (it grants nothing)."""
    compartment = policy.get("compartment")
    if isinstance(compartment, str):
        compartment = _bind(compartment, variables)
        if compartment is None or "/" not in compartment:
            return []
    rules: list[Rule] = []
    for entry in policy.get("resource", []):
        resource_type = entry.get("resourceType")
        criteria = _criteria(resource_type, entry.get("criteria"), variables)
        if not isinstance(resource_type, str) or criteria is None:
            continue
        rules.append(Rule(
            resource_type,
            _READ_ONLY if entry.get("readonly") else ALL_ACTIONS,
            criteria,
            compartment if isinstance(compartment, str) else None,
            tuple(entry.get("hiddenFields", ())),
            tuple(entry.get("readonlyFields", ())),
        ))
    return rules


def _criteria(resource_type: Any, text: Any, variables: Mapping[str, str]) -> tuple[tuple[str, str], ...] | None:
    """`Observation?subject=%patient` as bound search parameters; None when unusable."""
    if text is None:
        return ()
    if not isinstance(text, str):
        return None
    address, _, query = text.partition("?")
    if address and address != resource_type:
        log.warning("access policy criteria %r do not search %s", text, resource_type)
        return None
    bound: list[tuple[str, str]] = []
    for name, value in parse_qsl(query, keep_blank_values=False):
        value_bound = _bind(value, variables)
        if value_bound is None:
            return None
        bound.append((name, value_bound))
    return tuple(bound)


def _bind(text: str, variables: Mapping[str, str]) -> str | None:
    missing = [name for name in _VARIABLE.findall(text) if name not in variables]
    if missing:
        return None
    return _VARIABLE.sub(lambda match: variables[match.group(1)], text)


async def _client_scope(store: ResourceStore, project_id: UUID, client_id: str) -> str | None:
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT content FROM resource WHERE project_id = %s AND resource_type = 'ClientApplication'"
            " AND id = %s AND NOT deleted",
            [project_id, client_id],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    scope = orjson.loads(row["content"]).get("scope") if row else None
    return scope if isinstance(scope, str) else None


async def _policies(store: ResourceStore, project_id: UUID, ids: list[str]) -> list[dict[str, Any]]:
    """The live AccessPolicies of the project among `ids` (a missing one grants nothing)."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT content FROM resource WHERE project_id = %s AND resource_type = 'AccessPolicy'"
            " AND id = ANY(%s) AND NOT deleted",
            [project_id, ids],
        )
        rows: list[dict[str, Any]] = await cursor.fetchall()
    return [orjson.loads(row["content"]) for row in rows]


# The SMART permission each interaction needs on its resource type (scopes-and-launch-context:
# "r" covers read, vread and history; "u" update and patch).
_INTERACTION_ACTIONS: dict[str, tuple[str, ...]] = {
    "read": (READ,), "vread": (READ,), "history-instance": (READ,), "history-type": (READ,),
    "search-type": (SEARCH,), "search-compartment": (SEARCH,),
    "create": (CREATE,), "update": (UPDATE, CREATE), "patch": (UPDATE,), "delete": (DELETE,),
}


def check_interaction(
    ctx: AccessContext, code: str, resource_type: str | None, *, operation: bool = False,
    changes_state: bool = False,
) -> None:
    """Refuse (403) an interaction the caller's access grants on no resource of the type, before
    any work. Which resources it reaches is decided in the store and search SQL; system-level
    interactions (batch, system search and history) are checked per resource there."""
    policy = ctx.policy
    if policy is None:
        return
    if operation:
        # An operation that changes data (like $reindex) needs unrestricted access to what it
        # touches; one that reads needs read access to its type.
        allowed = (not changes_state and (resource_type is None or policy.allows(resource_type, READ)))
        if not allowed:
            raise FhirError.single("forbidden", "This access does not allow this operation")
        return
    actions = _INTERACTION_ACTIONS.get(code)
    if actions is None or resource_type is None:
        return
    if not any(policy.allows(resource_type, action) for action in actions):
        raise FhirError.single("forbidden", f"This access does not allow {code} on {resource_type}")
