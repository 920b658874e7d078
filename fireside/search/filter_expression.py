"""The `_filter` expression language (https://hl7.org/fhir/R4/search_filter.html), parsed into
a tree; `fireside.search.filters.filter_param` compiles the tree to SQL.

    filter     = orExp
    orExp      = andExp *("or" andExp)
    andExp     = unary *("and" unary)
    unary      = "not" "(" filter ")" / "(" filter ")" / paramExp
    paramExp   = paramName SP compareOp SP compValue
    compValue  = JSON-style "string" / token (non-white characters other than ")" and "]")

The spec's grammar (`logExp = filter ("and" / "or" filter)+`) gives `and` and `or` no
precedence; like SQL and other servers, `and` binds tighter here, so `a or b and c` is
`a or (b and c)`. Keywords and operators are matched without regard to case.

Chained paths (`subject.name`) and filtered paths (`related[type eq x].target`) are parsed
far enough to say, at their position, that they are not supported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fireside.fhir.errors import FhirError

OPERATORS = frozenset({
    "eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "ap", "sa", "eb", "pr", "po", "ss", "sb",
    "in", "ni", "re",
})

_NAME_START = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_CHARS = _NAME_START | frozenset("-0123456789")
_STRING_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# A filter is one query parameter; nesting deeper than this is an attack, not a query.
_MAX_DEPTH = 32


@dataclass(frozen=True)
class Comparison:
    """`name op value`; `position` (1-based) is where the parameter name starts."""

    name: str
    operator: str
    value: str
    position: int


@dataclass(frozen=True)
class Logical:
    operator: str  # "and" or "or"
    operands: tuple[FilterExpression, ...]


@dataclass(frozen=True)
class Negation:
    operand: FilterExpression


FilterExpression = Comparison | Logical | Negation


def parse_filter(text: str) -> FilterExpression:
    """The tree of a `_filter` value; a syntax error is a 400 naming _filter and the position."""
    parser = _Parser(text)
    expression = parser.expression(0)
    parser.skip_space()
    if not parser.at_end():
        raise parser.error("expected 'and', 'or' or the end of the filter")
    return expression


def filter_error(message: str, position: int | None = None) -> FhirError:
    where = f" at position {position}" if position is not None else ""
    return FhirError.single("invalid", f"Search parameter _filter: {message}{where}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0

    def expression(self, depth: int) -> FilterExpression:
        if depth > _MAX_DEPTH:
            raise self.error("nested too deeply")
        return self._sequence("or", lambda: self._sequence("and", lambda: self._unary(depth)))

    def _sequence(self, keyword: str, operand: Callable[[], FilterExpression]) -> FilterExpression:
        operands = [operand()]
        while self._keyword_ahead(keyword):
            operands.append(operand())
        return operands[0] if len(operands) == 1 else Logical(keyword, tuple(operands))

    def _unary(self, depth: int) -> FilterExpression:
        self.skip_space()
        if self._peek() == "(":
            return self._group(depth)
        start = self.index
        word = self._name()
        if word.lower() == "not":
            self.skip_space()
            if self._peek() == "(":
                return Negation(self._group(depth))
            self.index = start
            word = self._name()
        if not word:
            raise self.error("expected a search parameter name, 'not' or '('")
        return self._comparison(word, start)

    def _group(self, depth: int) -> FilterExpression:
        self.index += 1  # "("
        inner = self.expression(depth + 1)
        self.skip_space()
        if self._peek() != ")":
            raise self.error("expected ')'")
        self.index += 1
        return inner

    def _comparison(self, name: str, start: int) -> Comparison:
        if self._peek() in (".", "["):
            raise filter_error(f"{name!r} is followed by {self._peek()!r}: chained and filtered paths are not "
                               "supported", self.index + 1)
        if not self._space():
            raise self.error(f"expected a space and an operator after {name!r}")
        operator_at = self.index
        operator = self._name().lower()
        if operator not in OPERATORS:
            raise filter_error(f"{operator or self._peek()!r} is not a filter operator (eq, ne, co, sw, ...)",
                               operator_at + 1)
        if not self._space():
            raise self.error(f"expected a space and a value after {operator!r}")
        return Comparison(name, operator, self._value(), start + 1)

    def _value(self) -> str:
        if self._peek() == '"':
            return self._string()
        start = self.index
        while not self.at_end() and not self.text[self.index].isspace() and self.text[self.index] not in ")]":
            self.index += 1
        if self.index == start:
            raise self.error("expected a value")
        return self.text[start:self.index]

    def _string(self) -> str:
        opening = self.index
        self.index += 1
        parts: list[str] = []
        while not self.at_end():
            char = self.text[self.index]
            if char == '"':
                self.index += 1
                return "".join(parts)
            if char == "\\":
                parts.append(self._escape())
                continue
            parts.append(char)
            self.index += 1
        raise filter_error("unterminated string (no closing '\"')", opening + 1)

    def _escape(self) -> str:
        code = self.text[self.index + 1: self.index + 2]
        if code in _STRING_ESCAPES:
            self.index += 2
            return _STRING_ESCAPES[code]
        digits = self.text[self.index + 2: self.index + 6]
        if code == "u" and len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
            self.index += 6
            return chr(int(digits, 16))
        raise self.error("invalid escape in string (use \\\", \\\\, \\n, \\t or \\uXXXX)")

    def _keyword_ahead(self, keyword: str) -> bool:
        """Consume `keyword` (followed by a space or "(") if it comes next."""
        start = self.index
        if not self._space():
            return False
        end = self.index + len(keyword)
        if self.text[self.index:end].lower() == keyword and (end == len(self.text) or self.text[end] in " \t\r\n("):
            self.index = end
            return True
        self.index = start
        return False

    def _name(self) -> str:
        start = self.index
        if not self.at_end() and self.text[self.index] in _NAME_START:
            self.index += 1
            while not self.at_end() and self.text[self.index] in _NAME_CHARS:
                self.index += 1
        return self.text[start:self.index]

    def _space(self) -> bool:
        start = self.index
        self.skip_space()
        return self.index > start

    def skip_space(self) -> None:
        while not self.at_end() and self.text[self.index].isspace():
            self.index += 1

    def _peek(self) -> str:
        return self.text[self.index] if not self.at_end() else ""

    def at_end(self) -> bool:
        return self.index >= len(self.text)

    def error(self, message: str) -> FhirError:
        return filter_error(message, self.index + 1)
