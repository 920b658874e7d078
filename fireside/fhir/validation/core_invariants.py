"""Native versions of the invariants that sit on nearly every resource or data type.

Interpreted FHIRPath manages only tens of thousands of evaluations a second (MEASURED.md); these
few, evaluated on almost every write, would be most of its cost. Each function reads what its
FHIRPath expression reads and returns whether the invariant holds.

Two are also wrong in fhirpathpy 2.2.4, found by comparing both on the sample bundles, the US
Core examples and the HL7 validator test inputs: ext-1 fails on `valueId` (its R4 model has no
`id` choice of Extension.value), and dom-3 raises "Expected singleton on left side of 'as'" on a
resource with several contained resources (so it was never enforced).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fireside.fhir.validation.walk import InvariantCheck

Native = Callable[[InvariantCheck], bool]

_DATE_TIME = re.compile(
    r"(?P<year>\d{4})(-(?P<month>\d\d)(-(?P<day>\d\d)(T(?P<hour>\d\d):(?P<minute>\d\d)(:(?P<second>\d\d)"
    r"(?P<fraction>\.\d+)?)?(?P<zone>Z|[+-]\d\d:\d\d)?)?)?)?"
)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _contained(check: InvariantCheck) -> list[dict[str, Any]]:
    contained = check.node.get("contained") if isinstance(check.node, dict) else None
    return [c for c in contained or [] if isinstance(c, dict)]


def extension_has_value_or_children(check: InvariantCheck) -> bool:  # ext-1
    node = check.node
    return ("extension" in node) != any(key.startswith("value") for key in node)


def local_reference_resolves(check: InvariantCheck) -> bool:  # ref-1
    reference = check.node.get("reference")
    if not isinstance(reference, str) or not reference.startswith("#") or reference == "#":
        return True
    contained = check.root.get("contained") or []
    return reference[1:] in {c.get("id") for c in contained if isinstance(c, dict)}


def contained_has_no_contained(check: InvariantCheck) -> bool:  # dom-2
    return not any("contained" in c for c in _contained(check))


def contained_is_referenced(check: InvariantCheck) -> bool:  # dom-3
    """A contained resource is referenced from elsewhere in the resource (by a reference, or a
    canonical/uri `#id`), or itself refers to its container (`#`)."""
    contained = _contained(check)
    if not contained:
        return True
    local = {text for text in _strings(check.node) if text.startswith("#")}
    return all(f"#{c.get('id')}" in local or "#" in set(_strings(c)) for c in contained)


def contained_has_no_version(check: InvariantCheck) -> bool:  # dom-4
    return not any(
        isinstance(c.get("meta"), dict) and ("versionId" in c["meta"] or "lastUpdated" in c["meta"])
        for c in _contained(check)
    )


def contained_has_no_security(check: InvariantCheck) -> bool:  # dom-5
    return not any(isinstance(c.get("meta"), dict) and "security" in c["meta"] for c in _contained(check))


def coded_quantity_has_system(check: InvariantCheck) -> bool:  # qty-3
    return "code" not in check.node or "system" in check.node


def period_starts_before_it_ends(check: InvariantCheck) -> bool:  # per-1
    """start <= end, compared as FHIRPath does: to the precision both have, and true when that
    comparison cannot decide (the spec's "empty" result is not a violation)."""
    start, end = check.node.get("start"), check.node.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        return True
    first, second = _instant_parts(start), _instant_parts(end)
    if first is None or second is None:
        return True
    precision = min(len(first), len(second))
    return first[:precision] <= second[:precision]


def _instant_parts(value: str) -> tuple[int, ...] | None:
    """A date/dateTime as (year, month, ...) in UTC, as far as it is given."""
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return None
    names = ("year", "month", "day", "hour", "minute", "second")
    parts = [int(match[name]) for name in names if match[name] is not None]
    if len(parts) < 5 or match["zone"] is None:
        return tuple(parts)
    second = parts[5] if len(parts) > 5 else 0
    moment = datetime(parts[0], parts[1], parts[2], parts[3], parts[4], second, tzinfo=_zone(match["zone"]))
    utc = moment.astimezone(UTC)
    fields = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    fraction = int(float(match["fraction"] or 0) * 1_000_000)
    return fields[: len(parts)] + ((fraction,) if len(parts) == 6 else ())


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


NATIVE: dict[str, Native] = {
    "ext-1": extension_has_value_or_children,
    "ref-1": local_reference_resolves,
    "dom-2": contained_has_no_contained,
    "dom-3": contained_is_referenced,
    "dom-4": contained_has_no_version,
    "dom-5": contained_has_no_security,
    "qty-3": coded_quantity_has_system,
    "per-1": period_starts_before_it_ends,
}

# Checked where the value is read rather than as invariants: ele-1 by the structural walk (no
# empty objects, arrays or strings), txt-1 and txt-2 with the XHTML of Narrative.div.
ENFORCED_ELSEWHERE = frozenset({"ele-1", "txt-1", "txt-2"})
