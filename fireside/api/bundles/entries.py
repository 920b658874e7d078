"""The entries of a batch or transaction Bundle, read and checked before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fireside.fhir.errors import invalid

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

# The spec's processing order for a transaction (https://hl7.org/fhir/R4/http.html#trules).
PROCESSING_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}

_REQUEST_HEADERS = {
    "ifMatch": "if-match",
    "ifNoneMatch": "if-none-match",
    "ifNoneExist": "if-none-exist",
    "ifModifiedSince": "if-modified-since",
}


@dataclass
class BundleEntry:
    index: int
    method: str
    path: str  # relative to the FHIR base, without the query: "Patient/123"
    query: list[tuple[str, str]]
    full_url: str | None
    resource: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def resource_path(self) -> str:
        return f"{self.location}.resource"

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]

    @property
    def is_conditional(self) -> bool:
        return len(self.segments) == 1 and bool(self.query)


def read_bundle(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if body.get("resourceType") != "Bundle":
        raise invalid("POST to the base URL takes a Bundle of type batch or transaction", "Bundle.resourceType")
    bundle_type = body.get("type")
    if bundle_type not in ("batch", "transaction"):
        raise invalid(f"Bundle.type must be batch or transaction to be processed, not {bundle_type!r}",
                      "Bundle.type")
    entries = body.get("entry", [])
    if not isinstance(entries, list):
        raise invalid("Bundle.entry must be an array", "Bundle.entry")
    return bundle_type, entries


def read_entry(index: int, raw: Any, base_url: str) -> BundleEntry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        raise invalid("A Bundle entry must be an object", where)
    request = raw.get("request")
    if not isinstance(request, dict):
        raise invalid("Every batch or transaction entry needs a request", f"{where}.request")
    method = request.get("method")
    if method not in METHODS:
        raise invalid(f"request.method must be one of {', '.join(METHODS)}; got {method!r}",
                      f"{where}.request.method")
    url = request.get("url")
    if not isinstance(url, str) or not url.strip():
        raise invalid("request.url is required", f"{where}.request.url")
    path, query = split_entry_url(url, base_url, f"{where}.request.url")
    resource = raw.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise invalid("entry.resource must be a resource object", f"{where}.resource")
    if method in ("POST", "PUT") and resource is None:
        raise invalid(f"A {method} entry needs a resource", f"{where}.resource")
    full_url = raw.get("fullUrl")
    headers = {
        header: str(request[key]) for key, header in _REQUEST_HEADERS.items() if request.get(key) is not None
    }
    return BundleEntry(index, method, path, query, full_url if isinstance(full_url, str) else None,
                       resource, headers)


def split_entry_url(url: str, base_url: str, where: str) -> tuple[str, list[tuple[str, str]]]:
    """`Patient/1?x=y` or `[base]/Patient/1` as a base-relative path and its query."""
    text = url.strip()
    if text.startswith(base_url):
        text = text[len(base_url):]
    elif "://" in text:
        raise invalid(f"request.url {url!r} is not on this server", where)
    parts = urlsplit(text)
    return parts.path.strip("/"), parse_qsl(parts.query, keep_blank_values=True)
