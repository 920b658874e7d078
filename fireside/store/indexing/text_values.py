"""Index rows of token, string, reference and uri parameters, by FHIR data type
(https://hl7.org/fhir/R4/search.html#token and the sections after it list which types each
parameter type covers and which of their elements are matched).

Each function takes one extracted value and returns its rows: the value columns of the table
(see `tables`), without the key columns. Values that do not have the expected shape (content is
not fully validated on write) give no rows rather than an error.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from fireside.store.indexing.references import split_reference
from fireside.store.indexing.tables import cut

Row = tuple[Any, ...]
_NONE: list[Row] = []

_HUMAN_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def normalize_string(value: str) -> str:
    """Case- and accent-insensitive form (the spec's string matching): NFKD with the combining
    marks dropped, then case-folded. ASCII, most of the data, takes the fast path."""
    if value.isascii():
        return value.lower()
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _text_of(text: Any) -> str | None:
    return cut(normalize_string(text)) if isinstance(text, str) else None


# token rows: (system, value, text), text normalized for :text


def coding_tokens(coding: Any) -> list[Row]:
    code, system = coding.get("code"), coding.get("system")
    if code is None and system is None:
        return _NONE
    return [(_cut_or_none(system), _cut_or_none(code), _text_of(coding.get("display")))]


def concept_tokens(concept: Any) -> list[Row]:
    """Every coding; the concept's text (else each coding's display) is the text for :text."""
    codings = concept.get("coding")
    concept_text = _text_of(concept.get("text"))
    if not codings:
        return [(None, None, concept_text)] if concept_text else _NONE
    rows: list[Row] = []
    for coding in codings:
        code, system = coding.get("code"), coding.get("system")
        if code is not None or system is not None:
            text = concept_text or _text_of(coding.get("display"))
            rows.append((_cut_or_none(system), _cut_or_none(code), text))
    return rows


def identifier_tokens(identifier: Any) -> list[Row]:
    value, system = identifier.get("value"), identifier.get("system")
    if value is None and system is None:
        return _NONE
    kind = identifier.get("type")
    text = _text_of(kind.get("text")) if isinstance(kind, dict) else None
    return [(_cut_or_none(system), _cut_or_none(value), text)]


def contact_point_tokens(contact: Any) -> list[Row]:
    """ContactPoint.value, with ContactPoint.system (phone, email, ...) as the token's system."""
    value = contact.get("value")
    if value is None:
        return _NONE
    return [(_cut_or_none(contact.get("system")), cut(str(value)), None)]


def quantity_tokens(quantity: Any) -> list[Row]:
    code, system = quantity.get("code"), quantity.get("system")
    if code is None:
        return _NONE
    return [(_cut_or_none(system), cut(str(code)), _text_of(quantity.get("unit")))]


def primitive_token(value: Any) -> list[Row]:
    if value.__class__ is bool:
        return [(None, "true" if value else "false", None)]
    if isinstance(value, str | int | float):
        return [(None, cut(str(value)), None)]
    return _NONE


def _cut_or_none(value: Any) -> str | None:
    return cut(value) if isinstance(value, str) else None


# string rows: (normalized, value)


def primitive_string(value: Any) -> list[Row]:
    if isinstance(value, str):
        return [(cut(normalize_string(value)), cut(value))]
    return _NONE


def human_name_strings(name: Any) -> list[Row]:
    return _parts(name, _HUMAN_NAME_PARTS)


def address_strings(address: Any) -> list[Row]:
    return _parts(address, _ADDRESS_PARTS)


def _parts(value: Any, parts: tuple[str, ...]) -> list[Row]:
    rows: list[Row] = []
    for part in parts:
        item = value.get(part)
        if item is None:
            continue
        for text in item if item.__class__ is list else (item,):
            if isinstance(text, str):
                rows.append((cut(normalize_string(text)), cut(text)))
    return rows


# reference rows: (target_type, target_id, url)


def reference_targets(reference: Any) -> list[Row]:
    """A Reference by its `reference`. Its identifier gives token rows instead (below)."""
    text = reference.get("reference")
    if not isinstance(text, str):
        return _NONE
    parts = split_reference(text)
    if parts is None:
        return _NONE
    target_type, target_id, url = parts
    return [(target_type, cut(target_id), url and cut(url))]


def reference_identifier_tokens(reference: Any) -> list[Row]:
    """Reference.identifier as a token row for :identifier, its text column holding
    Reference.type: a reference with an identifier alone says its target type only there, and
    `patient:identifier` must not match one that says Group."""
    identifier = reference.get("identifier") if isinstance(reference, dict) else None
    if not isinstance(identifier, dict):
        return _NONE
    value, system = identifier.get("value"), identifier.get("system")
    if not isinstance(value, str):
        return _NONE
    declared = reference.get("type")
    return [(_cut_or_none(system), cut(value), _cut_or_none(declared))]


def canonical_targets(value: Any) -> list[Row]:
    """A canonical or uri used as a reference: the target is the URL, without its |version."""
    if not isinstance(value, str):
        return _NONE
    parts = split_reference(value)
    if parts is None:
        return _NONE
    target_type, target_id, url = parts
    return [(target_type, cut(target_id), url and cut(url))]


# uri rows: (value,)


def primitive_uri(value: Any) -> list[Row]:
    return [(cut(value),)] if isinstance(value, str) else _NONE
