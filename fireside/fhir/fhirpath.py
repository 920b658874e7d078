"""Options for every fhirpathpy evaluation in Fireside.

FHIRPath's trace() prints its argument, which is resource content, to stdout by default in
fhirpathpy; spec expressions use it (dom-3, some Questionnaire rules). PHI must never reach logs,
so every compile and evaluate passes these options, which discard traces."""

from __future__ import annotations

from typing import Any


def _discard_trace(label: str, value: Any) -> None:
    return None


def fhirpath_options(**extra: Any) -> dict[str, Any]:
    return {"traceFn": _discard_trace, **extra}
