"""Everything a transaction decides before it writes: which resource each entry targets, the ids
of new resources, and what every reference between entries resolves to
(https://hl7.org/fhir/R4/http.html#trules).

All of it is Python except the searches that conditional entries and conditional references
need; identical criteria are searched once, so a Bundle whose hundred entries name the same
`Practitioner?identifier=...` costs one query for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from fireside.api.bundles.entries import BundleEntry
from fireside.api.bundles.references import (
    FoundReference,
    collect_references,
    is_conditional_reference,
    is_placeholder,
    path_to,
)
from fireside.api.bundles.responses import located
from fireside.api.conditional import Criteria
from fireside.fhir.errors import FhirError, invalid
from fireside.store import StoredResource, new_resource_id

# Searches `criteria` on `resource_type` for `entry`: at most two matches, enough to tell one from several.
Finder = Callable[[BundleEntry, str, Criteria], Awaitable[list[StoredResource]]]


@dataclass
class TransactionPlan:
    # fullUrl or conditional reference -> "Type/id"
    references: dict[str, str] = field(default_factory=dict)
    # entry index -> the id its create will get
    assigned_ids: dict[int, str] = field(default_factory=dict)
    # entry index -> the resource a conditional create found, so the entry creates nothing
    existing: dict[int, StoredResource] = field(default_factory=dict)

    def targets(self, entries: list[BundleEntry]) -> list[tuple[str, str]]:
        """The existing resources the entries update or delete, to read and lock in one query."""
        return [(entry.segments[0], entry.segments[1]) for entry in entries
                if entry.method in ("PUT", "PATCH", "DELETE") and entry.instance]


async def plan_transaction(entries: list[BundleEntry], find: Finder) -> TransactionPlan:
    plan = TransactionPlan()
    full_urls = _distinct_full_urls(entries)
    found = [ref for entry in entries if entry.resource is not None
             for ref in collect_references(entry.index, entry.resource, full_urls)]
    for entry in entries:
        await _plan_target(entry, plan, find)
    await _resolve_conditional_references(entries, found, plan, find)
    _rewrite(entries, found, plan)
    _check_distinct_targets(entries, plan)
    return plan


def _distinct_full_urls(entries: list[BundleEntry]) -> set[str]:
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.full_url and entry.changes_state:
            if entry.full_url in seen:
                raise invalid(f"fullUrl {entry.full_url!r} is also used by entry {seen[entry.full_url]}",
                              f"{entry.location}.fullUrl")
            seen[entry.full_url] = entry.index
    return set(seen)


async def _plan_target(entry: BundleEntry, plan: TransactionPlan, find: Finder) -> None:
    """Decide which resource `entry` writes, so references to its fullUrl can be rewritten."""
    if entry.is_create:
        condition = entry.headers.pop("if-none-exist", None)
        if condition:
            matches = await _search(find, entry, entry.resource_type, condition,
                                    lambda: f"{entry.location}.request.ifNoneExist")
            if len(matches) > 1:
                raise located(FhirError.single(
                    "multiple-matches", f"ifNoneExist {condition!r} matched {len(matches)} resources",
                    status=412), entry, f"{entry.location}.request.ifNoneExist")
            if matches:
                plan.existing[entry.index] = matches[0]
                _map_full_url(plan, entry, matches[0].reference)
                return
        plan.assigned_ids[entry.index] = new_resource_id()
        _map_full_url(plan, entry, f"{entry.resource_type}/{plan.assigned_ids[entry.index]}")
    elif entry.method == "PUT" and entry.is_conditional and entry.resource is not None:
        # Resolved here rather than by the conditional update handler, so the fullUrl maps to the id.
        matches = await _search(find, entry, entry.resource_type, entry.query,
                                lambda: f"{entry.location}.request.url")
        if len(matches) > 1:
            raise located(FhirError.single(
                "multiple-matches", f"The conditional update matched {len(matches)} resources", status=412),
                entry, f"{entry.location}.request.url")
        body_id = entry.resource.get("id")
        if body_id is not None and not isinstance(body_id, str):
            raise invalid("The resource id must be a string", f"{entry.resource_path}.id")
        if matches:
            target_id = matches[0].id
            if body_id not in (None, target_id):
                raise invalid("The resource id does not match the resource the criteria found",
                              f"{entry.resource_path}.id")
        else:
            target_id = body_id or new_resource_id()
        entry.path, entry.query = f"{entry.resource_type}/{target_id}", []
        entry.resource["id"] = target_id
        _map_full_url(plan, entry, entry.path)
    elif entry.method in ("PUT", "PATCH") and entry.instance:
        _map_full_url(plan, entry, entry.instance)


def _map_full_url(plan: TransactionPlan, entry: BundleEntry, reference: str) -> None:
    if entry.full_url:
        plan.references[entry.full_url] = reference


async def _resolve_conditional_references(entries: list[BundleEntry], found: list[FoundReference],
                                          plan: TransactionPlan, find: Finder) -> None:
    first_use: dict[str, FoundReference] = {}
    for ref in found:
        if ref.value not in plan.references and is_conditional_reference(ref.value):
            first_use.setdefault(ref.value, ref)
    for criteria, ref in first_use.items():
        entry = entries[ref.entry_index]
        resource_type, _, query = criteria.partition("?")
        matches = await _search(find, entry, resource_type, query, partial(_reference_path, entry, ref))
        if len(matches) != 1:
            what = "no resource" if not matches else "several resources"
            raise located(FhirError.single(
                "not-found" if not matches else "multiple-matches",
                f"The conditional reference {criteria!r} matches {what}; it must match exactly one",
                status=412), entry, _reference_path(entry, ref))
        plan.references[criteria] = matches[0].reference


def _rewrite(entries: list[BundleEntry], found: list[FoundReference], plan: TransactionPlan) -> None:
    mapping = plan.references
    for ref in found:
        target = mapping.get(ref.value)
        if target is not None:
            ref.holder["reference"] = target
        elif is_placeholder(ref.value):
            entry = entries[ref.entry_index]
            raise invalid(f"The reference {ref.value!r} names no entry of this transaction",
                          _reference_path(entry, ref))
    # Search and conditional URLs may name new resources too: `Observation?subject=urn:uuid:...`.
    if mapping:
        for entry in entries:
            if any(value in mapping for _, value in entry.query):
                entry.query = [(key, mapping.get(value, value)) for key, value in entry.query]


def _check_distinct_targets(entries: list[BundleEntry], plan: TransactionPlan) -> None:
    """The spec: a transaction may not touch the same resource twice."""
    seen: dict[str, int] = {}
    for entry in entries:
        if not entry.changes_state:
            continue
        existing = plan.existing.get(entry.index)
        target = existing.reference if existing else entry.instance
        if target is None:
            continue
        if target in seen:
            raise invalid(f"{target} is the target of entries {seen[target]} and {entry.index}; a transaction "
                          "may change a resource only once", f"{entry.location}.request.url")
        seen[target] = entry.index


def _reference_path(entry: BundleEntry, ref: FoundReference) -> str:
    path = path_to(entry.resource, ref.holder, entry.resource_path)
    return f"{path}.reference" if path else entry.resource_path


async def _search(find: Finder, entry: BundleEntry, resource_type: str, criteria: Criteria,
                  where: Callable[[], str]) -> list[StoredResource]:
    """`where` names the criteria's place in the Bundle; it is only worked out on failure."""
    try:
        return await find(entry, resource_type, criteria)
    except FhirError as error:
        raise located(error, entry, where()) from None
