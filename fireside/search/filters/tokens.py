"""Token criteria (https://hl7.org/fhir/R4/search.html#token): `code`, `system|code`, `|code`
(no system) and `system|` (any code in the system), and the modifiers :text, :of-type, and the
terminology ones, :in, :not-in, :below and :above. :not and :not-in are applied by the caller,
as resources without a matching row."""

from __future__ import annotations

from collections.abc import Mapping

from psycopg import sql

from fireside.fhir.errors import FhirError
from fireside.search.escaping import split_unescaped, unescape
from fireside.search.filters.condition import (
    Condition,
    FilterContext,
    bad_modifier,
    bad_value,
    condition,
    like_escape,
)
from fireside.search.request import Criterion
from fireside.store.indexing import cut, normalize_string

# Their codes are resolved before compiling, from the project's terminology (see TerminologyResolver).
_TERMINOLOGY = frozenset({"above", "below", "in", "not-in"})


def compile_token_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    modifier = criterion.modifier
    if modifier == "text":
        return text_filter(value)
    if modifier in _TERMINOLOGY:
        return terminology_filter(criterion, value, context)
    if modifier == "of-type":
        return of_type_filter(criterion, value)
    if modifier not in (None, "not"):
        raise bad_modifier(criterion)
    parts = split_unescaped(value, "|", limit=1)
    if len(parts) == 1:
        return condition("i.value = %s", cut(unescape(value)))
    system, code = unescape(parts[0]), unescape(parts[1])
    if not system:
        return condition("i.value = %s AND i.system IS NULL", cut(code))
    if not code:
        return condition("i.system = %s", cut(system))
    return condition("i.value = %s AND i.system = %s", cut(code), cut(system))


def text_filter(value: str) -> Condition:
    """:text matches the start of any word of the text, ignoring case and accents: the spec's
    string matching, applied per word, since a display like "Body mass index" should be found
    by "mass". Not indexed: the other criteria of a search narrow it first."""
    words = like_escape(normalize_string(unescape(value)))
    return condition("(i.text LIKE %s OR i.text LIKE %s)", words + "%", "% " + words + "%")


def terminology_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    codes = context.terminology.get((criterion.modifier or "", value))
    if codes is None:  # a search compiled without resolving its terminology (e.g. inside a chain)
        raise FhirError.single(
            "not-supported", f"Search parameter {criterion.name}: :{criterion.modifier} is not supported here")
    return codes_filter(codes)


def codes_filter(codes: Mapping[str, frozenset[str]]) -> Condition:
    """Rows with one of `codes` (by system; "" is no system). Every code is one array bound to
    `value = ANY(%s)`, an index condition of search_token_value_idx (one descent per code, in
    one index scan); with codes of several systems the exact (system, code) pairs are then
    checked on the rows found, so a code of one system never matches under another."""
    systems = sorted(system for system, found in codes.items() if found)
    if not systems:
        return condition("FALSE")
    every = sorted({cut(code) for system in systems for code in codes[system]})
    if len(systems) == 1 and len(every) == 1:
        # Equality, not `= ANY` of one: the index then yields the rows in resource_id order,
        # so a page in id order stops after `_count` rows (a code with no known subtree).
        return Condition(sql.SQL("i.value = %s AND {}").format(_system_is(systems[0])),
                         (every[0], *_system_params(systems[0])))
    if len(systems) == 1:
        return Condition(sql.SQL("i.value = ANY(%s) AND {}").format(_system_is(systems[0])),
                         (every, *_system_params(systems[0])))
    pairs = [Condition(sql.SQL("({} AND i.value = ANY(%s))").format(_system_is(system)),
                       (*_system_params(system), sorted({cut(code) for code in codes[system]})))
             for system in systems]
    return Condition(
        sql.SQL("i.value = ANY(%s) AND ({})").format(sql.SQL(" OR ").join(p.sql for p in pairs)),
        (every, *(param for p in pairs for param in p.params)))


def _system_is(system: str) -> sql.Composable:
    return sql.SQL("i.system = %s") if system else sql.SQL("i.system IS NULL")


def _system_params(system: str) -> tuple[str, ...]:
    return (cut(system),) if system else ()


def of_type_filter(criterion: Criterion, value: str) -> Condition:
    """`identifier:of-type=[type system]|[type code]|[value]`: an Identifier whose `type` has that
    coding and whose value is `value`. Matched on the `<parameter>:of-type` rows (see
    fireside/store/indexing/text_values.identifier_type_tokens): system is the type's system,
    value is `type code|identifier value`. An empty type system matches a type coding of any system."""
    parts = split_unescaped(value, "|", limit=2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise bad_value(criterion, value, "is not [type system]|[type code]|[identifier value]")
    system, code, identifier = (unescape(part) for part in parts)
    typed = cut(f"{code}|{identifier}")
    if not system:
        return condition("i.value = %s", typed)
    return condition("i.value = %s AND i.system = %s", typed, cut(system))
