"""The subset of FHIRPath that R4 search parameter expressions use, parsed into paths.

Of the R4 expressions, all but a handful are unions of paths like `Patient.name`,
`(Observation.value as Quantity)`, `Condition.onset.as(Age)`,
`Observation.subject.where(resolve() is Patient)`, `Patient.telecom.where(system='phone')` or
`Bundle.entry[0].resource`. Those parse here into `Path`s, which `navigation` compiles to plain
Python; anything else raises `UnsupportedExpression` and is interpreted by fhirpathpy instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class UnsupportedExpression(ValueError):
    """The expression uses FHIRPath beyond the compiled subset."""


@dataclass(frozen=True)
class Root:
    type_name: str


@dataclass(frozen=True)
class Child:
    name: str


@dataclass(frozen=True)
class Index:
    position: int


@dataclass(frozen=True)
class OfType:
    """`as T`, `.as(T)` and `.ofType(T)`: for search extraction all three keep values of type T."""

    type_name: str


@dataclass(frozen=True)
class WhereResolveIs:
    """`.where(resolve() is T)`: references whose target type is T, told from the reference itself."""

    type_name: str


@dataclass(frozen=True)
class WhereEquals:
    """`.where(field = 'literal')`."""

    field: str
    literal: str


@dataclass(frozen=True)
class ExtensionUrl:
    """`.extension('url')`."""

    url: str


Step = Root | Child | Index | OfType | WhereResolveIs | WhereEquals | ExtensionUrl
Path = tuple[Step, ...]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
    r"|(?P<symbol>[().|\[\]=,]))"
)


def parse_expression(expression: str) -> list[Path]:
    """The paths of a union expression (`A | B | C`), each starting with its `Root`."""
    parser = _Parser(_tokenize(expression))
    paths = [parser.term()]
    while parser.accept("|"):
        paths.append(parser.term())
    parser.expect_end()
    return paths


def split_union(expression: str) -> list[str]:
    """The top-level `|` alternatives of `expression` as text (for expressions that do not parse)."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            parts.append(expression[start:index].strip())
            start = index + 1
    parts.append(expression[start:].strip())
    return parts


def _tokenize(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise UnsupportedExpression(f"cannot read {text[position:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def accept(self, symbol: str) -> bool:
        token = self.peek()
        if token is not None and token[1] == symbol and token[0] in ("symbol", "name"):
            self.position += 1
            return True
        return False

    def expect(self, symbol: str) -> None:
        if not self.accept(symbol):
            raise UnsupportedExpression(f"expected {symbol!r} at token {self.position}")

    def expect_kind(self, kind: str) -> str:
        token = self.peek()
        if token is None or token[0] != kind:
            raise UnsupportedExpression(f"expected a {kind} at token {self.position}")
        self.position += 1
        return token[1].strip("`")

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise UnsupportedExpression(f"unexpected {self.peek()!r}")

    def term(self) -> Path:
        """primary ('.' invocation | '[' n ']')* ('as' Type)?"""
        steps = list(self.primary())
        while True:
            if self.accept("."):
                steps.extend(self.invocation())
            elif self.accept("["):
                steps.append(Index(int(self.expect_kind("number"))))
                self.expect("]")
            else:
                break
        if self.accept("as"):
            steps.append(OfType(self.expect_kind("name")))
        return tuple(steps)

    def primary(self) -> Path:
        if self.accept("("):
            inner = self.term()
            self.expect(")")
            return inner
        name = self.expect_kind("name")
        if not name[:1].isupper():
            raise UnsupportedExpression(f"a path must start with a type, not {name!r}")
        return (Root(name),)

    def invocation(self) -> list[Step]:
        name = self.expect_kind("name")
        if not self.accept("("):
            return [Child(name)]
        if name in ("as", "ofType"):
            step: Step = OfType(self.expect_kind("name"))
        elif name == "extension":
            step = ExtensionUrl(_literal(self.expect_kind("string")))
        elif name == "where":
            step = self.where_criteria()
        else:
            raise UnsupportedExpression(f"function {name}() is not compiled")
        self.expect(")")
        return [step]

    def where_criteria(self) -> Step:
        name = self.expect_kind("name")
        if name == "resolve":
            self.expect("(")
            self.expect(")")
            self.expect("is")
            return WhereResolveIs(self.expect_kind("name"))
        self.expect("=")
        return WhereEquals(name, _literal(self.expect_kind("string")))


def _literal(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])
