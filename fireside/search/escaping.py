"""Search value escaping (https://hl7.org/fhir/R4/search.html#escaping): `\\,`, `\\|`, `\\$` and
`\\\\` stand for the character itself, not for a separator."""

from __future__ import annotations


def split_unescaped(text: str, separator: str, limit: int = -1) -> list[str]:
    """Split on `separator` where it is not escaped; escapes stay in the parts (see `unescape`)."""
    parts: list[str] = []
    start, index = 0, 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == separator and (limit < 0 or len(parts) < limit):
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    result: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text):
            result.append(text[index + 1])
            index += 2
        else:
            result.append(text[index])
            index += 1
    return "".join(result)
