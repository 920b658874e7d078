"""From extracted FHIR values to index rows, by search parameter type
(https://hl7.org/fhir/R4/search.html#ptypes: which data types each parameter type indexes)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fireside.store.indexing.dates import date_range

# Each yields the columns after (project_id, resource_type, resource_id, code) of its table.
TokenRow = tuple[str | None, str | None, str | None]  # system, value, display
StringRow = tuple[str, str]  # normalized, value
ReferenceRow = tuple[str | None, str | None, str | None]  # target_type, target_id, url
DateRow = tuple[datetime, datetime]  # low, high
NumberRow = tuple[Decimal, str | None, str | None]  # value, system, unit
UriRow = tuple[str]

# PostgreSQL's timestamptz range is narrower than Python's datetime; these are its -/+infinity.
OPEN_START = datetime(1, 1, 1, tzinfo=UTC)
OPEN_END = datetime(9999, 12, 31, tzinfo=UTC)

_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def normalize_string(value: str) -> str:
    """Lower-cased, accents stripped: the spec's case- and accent-insensitive string match."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def token_rows(value: Any) -> Iterator[TokenRow]:
    if isinstance(value, bool):
        yield None, "true" if value else "false", None
    elif isinstance(value, str | int):
        yield None, str(value), None
    elif isinstance(value, dict):
        if "coding" in value:  # CodeableConcept
            for coding in value["coding"] if isinstance(value["coding"], list) else []:
                if isinstance(coding, dict):
                    yield coding.get("system"), coding.get("code"), coding.get("display") or value.get("text")
        elif "code" in value:  # Coding, or a Quantity searched as a token
            yield value.get("system"), str(value["code"]), value.get("display")
        elif "value" in value:  # Identifier, ContactPoint
            system = value.get("system")
            yield (system if isinstance(system, str) else None), str(value["value"]), _identifier_type_text(value)
        elif isinstance(value.get("text"), str):  # a CodeableConcept with text alone
            yield None, None, value["text"]


def _identifier_type_text(value: dict[str, Any]) -> str | None:
    kind = value.get("type")
    return kind.get("text") if isinstance(kind, dict) else None


def string_rows(value: Any) -> Iterator[StringRow]:
    if isinstance(value, str):
        yield normalize_string(value), value
    elif isinstance(value, dict):
        parts = _NAME_PARTS if ("family" in value or "given" in value) else _ADDRESS_PARTS
        for part in parts:
            item = value.get(part)
            for text in item if isinstance(item, list) else [item]:
                if isinstance(text, str):
                    yield normalize_string(text), text


def reference_rows(value: Any) -> Iterator[ReferenceRow]:
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield split_reference(reference)
    elif isinstance(value, str):  # canonical / uri
        yield None, None, value


def split_reference(reference: str) -> ReferenceRow:
    """`Patient/1`, `Patient/1/_history/2` or `https://x/fhir/Patient/1` as (type, id, url)."""
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    absolute = "://" in reference or reference.startswith("urn:")
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-1]:
        return parts[-2], parts[-1], reference if absolute else None
    return None, None, reference


def date_rows(value: Any) -> Iterator[DateRow]:
    if isinstance(value, str):
        found = date_range(value)
        if found:
            yield found
    elif isinstance(value, dict):
        if "start" in value or "end" in value:  # Period: open ends reach to the infinities
            start = date_range(value["start"]) if isinstance(value.get("start"), str) else None
            end = date_range(value["end"]) if isinstance(value.get("end"), str) else None
            yield start[0] if start else OPEN_START, end[1] if end else OPEN_END
        for event in value.get("event") or []:  # Timing
            if isinstance(event, str) and (found := date_range(event)):
                yield found


def number_rows(value: Any) -> Iterator[NumberRow]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield Decimal(str(value)), None, None
    elif isinstance(value, dict) and isinstance(value.get("value"), int | float):
        try:
            number = Decimal(str(value["value"]))
        except InvalidOperation:
            return
        yield number, value.get("system"), value.get("code") or value.get("unit")


def uri_rows(value: Any) -> Iterator[UriRow]:
    if isinstance(value, str):
        yield (value,)
