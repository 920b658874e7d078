"""Which row function turns a value of a FHIR data type into rows of a search parameter type.

Chosen once per compiled branch from the type the definitions give; values of unknown type
(fhirpathpy results, contained resources) go through a `sniff_*` function that looks at their
shape instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fireside.store.indexing import range_values as ranges
from fireside.store.indexing import text_values as texts
from fireside.store.indexing.tables import cut

Row = tuple[Any, ...]
RowsOf = Callable[[Any], list[Row]]
_NONE: list[Row] = []

# Identifier.type codings are stored as rows of `<parameter>:of-type` (a name no search
# parameter code can have), for :of-type (https://hl7.org/fhir/R4/search.html#token). Their own
# parameter keeps them out of everything else asked of the identifier rows (`system|`, :missing,
# :text, _sort).
OF_TYPE_ROWS = ":of-type"
IDENTIFIER_TYPE = "identifier-type"
# Reference.identifier is stored as token rows of `<parameter>:identifier`, for the reference
# :identifier modifier (https://hl7.org/fhir/R4/search.html#reference).
IDENTIFIER_ROWS = ":identifier"
REFERENCE_IDENTIFIER = "reference-identifier"

_PRIMITIVE_TEXT = ("string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid")
_INSTANTS = ("date", "dateTime", "instant")
_QUANTITIES = ("Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity")
_NUMBERS = ("decimal", "integer", "positiveInt", "unsignedInt")


def identifier_type_tokens(identifier: Any) -> list[Row]:
    """One token row per coding of Identifier.type: (type system, `type code|value`, no text),
    so that `:of-type=system|code|value` is one equality probe of search_token_value_idx."""
    value, kind = identifier.get("value"), identifier.get("type")
    if not isinstance(value, str) or not isinstance(kind, dict) or not isinstance(kind.get("coding"), list):
        return _NONE
    rows: list[Row] = []
    for coding in kind["coding"]:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            system = coding.get("system")
            rows.append((cut(system) if isinstance(system, str) else None, cut(f"{coding['code']}|{value}"), None))
    return rows


_ROWS_OF: dict[str, dict[str, RowsOf]] = {
    "token": {
        "Coding": texts.coding_tokens,
        "CodeableConcept": texts.concept_tokens,
        "Identifier": texts.identifier_tokens,
        "ContactPoint": texts.contact_point_tokens,
        **dict.fromkeys((*_PRIMITIVE_TEXT, *_NUMBERS, "boolean"), texts.primitive_token),
        **dict.fromkeys(_QUANTITIES, texts.quantity_tokens),
    },
    "string": {
        **dict.fromkeys(_PRIMITIVE_TEXT, texts.primitive_string),
        "HumanName": texts.human_name_strings,
        "Address": texts.address_strings,
    },
    "reference": {
        "Reference": texts.reference_targets,
        **dict.fromkeys(("canonical", "uri", "url"), texts.canonical_targets),
    },
    "uri": dict.fromkeys(("uri", "url", "canonical", "oid", "uuid"), texts.primitive_uri),
    IDENTIFIER_TYPE: {"Identifier": identifier_type_tokens},
    REFERENCE_IDENTIFIER: {"Reference": texts.reference_identifier_tokens},
    "date": {
        **dict.fromkeys(_INSTANTS, ranges.instant_dates),
        "Period": ranges.period_dates,
        "Timing": ranges.timing_dates,
    },
    "number": dict.fromkeys(_NUMBERS, ranges.plain_numbers),
    "quantity": {
        **dict.fromkeys(_QUANTITIES, ranges.quantity_values),
        "Money": ranges.money_values,
        "Range": ranges.range_values,
    },
}


def rows_of(parameter_type: str, type_code: str) -> RowsOf | None:
    """The row function for values of `type_code`, or None when the parameter type does not
    cover that data type (`value-quantity` on SampledData: the spec gives no rule for it)."""
    return _ROWS_OF[parameter_type].get(type_code)


def sniff_rows_of(parameter_type: str) -> RowsOf:
    return _SNIFFERS[parameter_type]


def _sniff_token(value: Any) -> list[Row]:
    if not isinstance(value, dict):
        return texts.primitive_token(value)
    if "coding" in value or ("text" in value and "code" not in value):
        return texts.concept_tokens(value)
    if "code" in value:
        return texts.coding_tokens(value)
    return texts.identifier_tokens(value)


def _sniff_string(value: Any) -> list[Row]:
    if not isinstance(value, dict):
        return texts.primitive_string(value)
    if "family" in value or "given" in value:
        return texts.human_name_strings(value)
    return texts.address_strings(value)


def _sniff_reference(value: Any) -> list[Row]:
    return texts.reference_targets(value) if isinstance(value, dict) else texts.canonical_targets(value)


def _sniff_date(value: Any) -> list[Row]:
    if not isinstance(value, dict):
        return ranges.instant_dates(value)
    if "start" in value or "end" in value:
        return ranges.period_dates(value)
    return ranges.timing_dates(value)


def _sniff_quantity(value: Any) -> list[Row]:
    if not isinstance(value, dict):
        return _NONE
    if "low" in value or "high" in value:
        return ranges.range_values(value)
    return ranges.quantity_values(value)


_SNIFFERS: dict[str, RowsOf] = {
    "token": _sniff_token,
    "string": _sniff_string,
    "reference": _sniff_reference,
    "uri": texts.primitive_uri,
    "date": _sniff_date,
    "number": ranges.plain_numbers,
    "quantity": _sniff_quantity,
}
