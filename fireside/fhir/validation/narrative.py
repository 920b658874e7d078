"""Narrative XHTML (https://hl7.org/fhir/R4/narrative.html#xhtml): txt-1 and txt-2 are written as
`htmlChecks()`, a function FHIRPath engines provide natively, so they are checked here.

The div must be well-formed XML (only the XML entities: `&reg;` is not), a `div` in the XHTML
namespace, with only the basic HTML 4 formatting elements and attributes, no scripts, event
handlers or forms, and some content.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from fireside.fhir.errors import Issue

XHTML = "{http://www.w3.org/1999/xhtml}"
XML_NAMESPACE = "{http://www.w3.org/XML/1998/namespace}"

# The element and attribute lists the HL7 Java validator applies for txt-1.
ELEMENTS = frozenset({
    "p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i", "strong", "small",
    "big", "tt", "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr", "address", "bdo", "kbd",
    "sub", "sup", "ul", "ol", "li", "dl", "dt", "dd", "pre", "table", "caption", "colgroup", "col", "thead",
    "tr", "tfoot", "tbody", "th", "td", "code", "samp", "img", "map", "area", "u", "s", "ins", "del",
})
ATTRIBUTES = frozenset({
    "title", "style", "class", "id", "lang", "dir", "accesskey", "tabindex", "span", "width", "align",
    "valign", "char", "charoff", "abbr", "axis", "headers", "scope", "rowspan", "colspan", "xmlns",
})
ELEMENT_ATTRIBUTES = {
    "a": frozenset({"href", "name", "type", "rel", "rev", "hreflang", "charset", "shape", "coords"}),
    "img": frozenset({"src", "alt", "height", "width", "border", "longdesc", "usemap", "ismap"}),
    "area": frozenset({"href", "alt", "shape", "coords", "nohref"}),
    "map": frozenset({"name"}),
    "table": frozenset({"border", "cellpadding", "cellspacing", "summary", "frame", "rules"}),
    "td": frozenset({"nowrap"}),
    "th": frozenset({"nowrap"}),
    "ol": frozenset({"start", "type", "compact"}),
    "ul": frozenset({"type", "compact"}),
    "li": frozenset({"value", "type"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "ins": frozenset({"cite", "datetime"}),
    "del": frozenset({"cite", "datetime"}),
    "pre": frozenset({"space"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "hr": frozenset({"size", "noshade"}),
}
_LINKS = frozenset({"href", "src", "cite", "longdesc", "usemap"})
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


def xhtml_problem(div: str) -> str | None:
    """Why a Narrative.div breaks txt-1 or txt-2, or None."""
    if "<!DOCTYPE" in div.upper() or "<!ENTITY" in div.upper():
        # Declarations are not XHTML content, and entity definitions are how XML bombs are built.
        return "txt-1: The XHTML may not contain DOCTYPE or ENTITY declarations"
    try:
        root = ElementTree.fromstring(div)
    except ElementTree.ParseError as error:
        return f"txt-1: The XHTML is not well-formed XML ({error})"
    if root.tag != XHTML + "div":
        return "txt-1: The narrative must be a <div> in the XHTML namespace (http://www.w3.org/1999/xhtml)"
    for node in root.iter():
        problem = _node_problem(node)
        if problem is not None:
            return f"txt-1: {problem}"
    if not _has_content(root):
        return "txt-2: The narrative SHALL have some non-whitespace content"
    return None


def _node_problem(node: ElementTree.Element) -> str | None:
    if not isinstance(node.tag, str) or not node.tag.startswith(XHTML):
        return f"Element {node.tag!r} is not XHTML"
    name = node.tag[len(XHTML):]
    if name not in ELEMENTS:
        return f"The element <{name}> is not allowed in a narrative"
    allowed = ELEMENT_ATTRIBUTES.get(name, frozenset())
    for attribute in node.attrib:
        local = attribute.removeprefix(XML_NAMESPACE)
        if local not in ATTRIBUTES and local not in allowed and attribute != XML_NAMESPACE + "lang":
            return f"The attribute {local!r} is not allowed on <{name}>"
        if local in _LINKS and node.attrib[attribute].strip().lower().startswith(_SCRIPT_SCHEMES):
            return f"The {local} of <{name}> may not be a script"
    return None


def _has_content(root: ElementTree.Element) -> bool:
    return len(root) > 0 or bool((root.text or "").strip())


def narrative_issues(div: str, path: str) -> list[Issue]:
    problem = xhtml_problem(div)
    return [] if problem is None else [Issue("invariant", problem, path)]
