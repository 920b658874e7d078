"""Narrative XHTML rules txt-1 and txt-2 (https://hl7.org/fhir/R4/narrative.html#xhtml).

The spec states them as `htmlChecks()`, which fhirpathpy lacks. They matter beyond conformance:
narratives are shown in browsers, so a script or an event handler stored in one is stored XSS.
"""

from __future__ import annotations

from html.parser import HTMLParser

from fireside.fhir.errors import Issue

_ELEMENTS = frozenset({
    "a", "abbr", "acronym", "b", "big", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
    "dd", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol",
    "p", "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "tt", "ul", "var",
})
_ATTRIBUTES = frozenset({
    "title", "style", "class", "id", "lang", "xml:lang", "dir", "accesskey", "tabindex", "xmlns",
    "href", "name", "src", "alt", "height", "width", "border", "align", "valign", "colspan", "rowspan",
    "cellpadding", "cellspacing", "summary", "frame", "rules", "headers", "scope", "span", "char",
    "charoff", "abbr", "axis", "start", "type", "value", "cite", "compact",
})
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"


class _NarrativeScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []
        self.root: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.root is None:
            self.root = (tag, dict(attrs))
        if tag not in _ELEMENTS:
            self.problems.append(f"element <{tag}> is not allowed")
        for name, value in attrs:
            if name not in _ATTRIBUTES:
                self.problems.append(f"attribute {name!r} on <{tag}> is not allowed")
            elif name in _URL_ATTRIBUTES and value and value.strip().lower().startswith(("javascript:", "vbscript:")):
                self.problems.append(f"a script URL in {name!r} on <{tag}> is not allowed")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def narrative_issues(div: str, path: str) -> list[Issue]:
    scanner = _NarrativeScanner()
    scanner.feed(div)
    scanner.close()
    issues = []
    if scanner.root is None or scanner.root[0] != "div" or scanner.root[1].get("xmlns") != XHTML_NAMESPACE:
        issues.append(Issue("invariant", f'txt-1: the narrative must be a <div xmlns="{XHTML_NAMESPACE}">', path))
    if scanner.problems:
        issues.append(Issue("invariant", "txt-1: the narrative may hold only basic HTML formatting: "
                            + "; ".join(dict.fromkeys(scanner.problems)), path))
    if not "".join(scanner.text).strip() and "<img" not in div:
        issues.append(Issue("invariant", "txt-2: the narrative must have some non-whitespace content", path))
    return issues
