"""The entries of a batch or transaction Bundle, read and checked before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fireside.api.context import FhirRequest
from fireside.api.services import Services
from fireside.fhir.errors import FhirError, invalid
from fireside.store import StoreTransaction

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
    def resource_type(self) -> str:
        return self.segments[0]

    @property
    def instance(self) -> str | None:
        """`Type/id` when the URL names one resource ([base]/Patient/1), else None."""
        segments = self.segments
        if len(segments) != 2 or segments[1].startswith(("_", "$")):  # Patient/_search, Patient/$validate
            return None
        return f"{segments[0]}/{segments[1]}"

    @property
    def is_create(self) -> bool:
        return self.method == "POST" and len(self.segments) == 1

    @property
    def is_conditional(self) -> bool:
        return len(self.segments) == 1 and bool(self.query)

    @property
    def changes_state(self) -> bool:
        return self.method not in ("GET", "HEAD")

    def to_request(self, bundle_request: FhirRequest, unit: StoreTransaction | None) -> FhirRequest:
        """This entry as a request of its own, for the same handlers that serve HTTP."""
        headers = dict(self.headers)
        prefer = bundle_request.header("prefer")
        if prefer:
            headers["prefer"] = prefer
        return FhirRequest(
            # HEAD is a GET whose answer leaves the resource out.
            method="GET" if self.method == "HEAD" else self.method,
            ctx=bundle_request.ctx,
            base_url=bundle_request.base_url,
            query=self.query,
            headers=headers,
            unit=unit,
            body_path=self.resource_path,
            source_address=bundle_request.source_address,
            _parsed=self.resource,
        )


def read_bundle(body: Any) -> tuple[str, list[Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise invalid("POST to the base URL takes a Bundle of type batch or transaction", "Bundle.resourceType")
    bundle_type = body.get("type")
    if bundle_type not in ("batch", "transaction"):
        raise invalid(f"Bundle.type must be batch or transaction to be processed, not {bundle_type!r}",
                      "Bundle.type")
    entries = body.get("entry", [])
    if not isinstance(entries, list):
        raise invalid("Bundle.entry must be an array", "Bundle.entry")
    return bundle_type, entries


def read_entry(index: int, raw: Any, base_url: str, services: Services) -> BundleEntry:
    """One entry, its request checked against the route table, so that a transaction fails
    on a bad entry before it touches the database."""
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
    _check_route(method, path, services, f"{where}.request.url")
    resource = raw.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise invalid("entry.resource must be a resource object", f"{where}.resource")
    if method in ("POST", "PUT") and resource is None:
        raise invalid(f"A {method} entry needs a resource", f"{where}.resource")
    full_url = raw.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise invalid("entry.fullUrl must be a string", f"{where}.fullUrl")
    headers = {}
    for key, header in _REQUEST_HEADERS.items():
        value = request.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise invalid(f"request.{key} must be a string", f"{where}.request.{key}")
            headers[header] = value
    return BundleEntry(index, method, path, query, full_url, resource, headers)


def split_entry_url(url: str, base_url: str, where: str) -> tuple[str, list[tuple[str, str]]]:
    """`Patient/1?x=y` or `[base]/Patient/1` as a base-relative path and its query."""
    text = url.strip()
    if text.startswith(base_url):
        text = text[len(base_url):]
    elif "://" in text.partition("?")[0] or text.startswith("urn:"):
        raise invalid(f"request.url {url!r} is not a URL on this server", where)
    parts = urlsplit(text)
    return parts.path.strip("/"), parse_qsl(parts.query, keep_blank_values=True)


def _check_route(method: str, path: str, services: Services, where: str) -> None:
    # The dispatcher's route table holds the Bundle handler itself, so it is imported late.
    from fireside.api.dispatch import parse_path, route

    try:
        parsed = parse_path(path, services)
        route(parsed, "GET" if method == "HEAD" else method)
    except FhirError as error:
        raise invalid(f"request.url {path!r}: {error}", where) from None
    if method == "POST" and parsed.level == "system" and parsed.operation is None and parsed.suffix is None:
        raise invalid("A batch or transaction entry cannot itself post a Bundle to the base URL", where)
