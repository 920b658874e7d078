"""fhirpathpy for the expressions the compiler does not handle (in R4: `Patient.deceased.exists()
and Patient.deceased != false` and a few like it). It interprets at 20-32k evaluations/s
(MEASURED.md), so it is kept to those.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fireside.fhir.fhirpath import fhirpath_options

log = logging.getLogger(__name__)

Interpreter = Callable[[dict[str, Any]], list[Any]]

# fhirpathpy has no resolve(); a reference's target type is in its own string, so
# `resolve() is Patient` becomes a match on that string.
_RESOLVE_IS = re.compile(r"resolve\(\)\s+is\s+([A-Za-z]+)")
_JSON_TYPES = (dict, list, str, int, float, bool)


def without_resolve(expression: str) -> str:
    return _RESOLVE_IS.sub(
        lambda match: f"reference.matches('(^|/){match.group(1)}/[^/]+(/_history/[^/]+)?$')", expression
    )


def interpret(expression: str) -> Interpreter | None:
    """An evaluator of `expression`, or None (with a warning) if fhirpathpy cannot compile it."""
    import fhirpathpy
    from fhirpathpy.models import models

    try:
        compiled = fhirpathpy.compile(without_resolve(expression), models["r4"], fhirpath_options())
    except Exception:  # fhirpathpy raises bare Exceptions from its ANTLR parser
        log.warning("search expression %r cannot be compiled; its values are not indexed", expression)
        return None

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        try:
            result = compiled(resource, {})
        except Exception:  # an evaluation error on odd content means no values, not a failed write
            return []
        return [value if isinstance(value, _JSON_TYPES) else str(value) for value in result if value is not None]

    return evaluate
