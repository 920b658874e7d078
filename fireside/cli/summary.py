"""One line per resource for `fireside search`: id, lastUpdated and a short human summary.

The summary reads elements by data type, not by resource: the first of name, code, title,
description and type; the value[x]; the status. So "Jane Smith", "Heart rate · 72 /min · final".
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from typing import Any

import click

PRIMARY_ELEMENTS = ("name", "code", "title", "description", "type")


def text_of(value: Any) -> str:
    """A short rendering of a FHIR value by its shape: HumanName, CodeableConcept, Quantity..."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return text_of(value[0]) if value else ""
    if not isinstance(value, Mapping):
        return ""
    if value.get("text"):
        return str(value["text"])
    if "family" in value or "given" in value:  # HumanName
        return " ".join([*value.get("given", []), value.get("family", "")]).strip()
    if "coding" in value:  # CodeableConcept
        return text_of(value["coding"])
    if "display" in value or ("code" in value and "value" not in value):  # Coding, Reference
        return str(value.get("display") or value.get("code") or "")
    if "value" in value:  # Quantity and its kin
        return f"{value['value']} {value.get('unit') or value.get('code') or ''}".strip()
    if "reference" in value:
        return str(value["reference"])
    if "start" in value or "end" in value:  # Period
        return f"{value.get('start', '')}..{value.get('end', '')}"
    return ""


def summarize(resource: Mapping[str, Any]) -> str:
    parts = [next((t for t in (text_of(resource.get(k)) for k in PRIMARY_ELEMENTS) if t), "")]
    value = next((resource[k] for k in resource if k.startswith("value") and k != "value"), None)
    parts.append(text_of(value) if value is not None else "")
    parts.append(text_of(resource.get("status")))
    return " · ".join(part for part in parts if part)


def print_table(resources: Iterable[Mapping[str, Any]]) -> int:
    rows = [
        (str(r.get("id", "")), str((r.get("meta") or {}).get("lastUpdated", "")), summarize(r)) for r in resources
    ]
    if not rows:
        return 0
    id_width = max(2, *(len(row[0]) for row in rows))
    updated_width = max(11, *(len(row[1]) for row in rows))
    room = max(20, shutil.get_terminal_size((120, 24)).columns - id_width - updated_width - 4)
    click.echo(f"{'ID':<{id_width}}  {'LAST UPDATED':<{updated_width}}  SUMMARY")
    for resource_id, updated, summary in rows:
        if len(summary) > room:
            summary = summary[: room - 1] + "…"
        click.echo(f"{resource_id:<{id_width}}  {updated:<{updated_width}}  {summary}")
    return len(rows)
