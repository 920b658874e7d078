"""Every client operation, written once as an `Exchange`: which request to make, how to sign it,
when to retry, and what the answer means. The sync and async clients only drive these."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import orjson

from fireside.client.admin import EMAIL_HEADER, Invitation, invite_body, invite_path
from fireside.client.auth import Authenticator, SignInFlow
from fireside.client.bundles import BundleBuilder
from fireside.client.errors import FiresideError, outcome_of
from fireside.client.exchange import (
    FHIR_JSON,
    JSON_PATCH,
    Exchange,
    HttpRequest,
    HttpResponse,
    RetryPolicy,
    expect_success,
    send_with_retries,
)

Resource = dict[str, Any]
# Search parameters as a mapping ({"name": "smith", "_count": 50}; a list value repeats the
# parameter, which FHIR reads as AND), as pairs, or as a query string ("name=smith&_count=50").
SearchParams = Mapping[str, str | int | float | bool | Sequence[str]] | Sequence[tuple[str, str]] | str | None

# A JSON Patch (RFC 6902) list of operations, or a FHIRPath Patch `Parameters` resource.
Patch = Sequence[Mapping[str, Any]] | Mapping[str, Any]

FHIR_BASE_PATH = "/fhir/R4"


def type_name(resource_type: str | type[Any]) -> str:
    """`"Patient"` from `"Patient"` or from the `Patient` TypedDict class."""
    return resource_type if isinstance(resource_type, str) else resource_type.__name__


def search_pairs(params: SearchParams) -> list[tuple[str, str]]:
    if params is None:
        return []
    if isinstance(params, str):
        return parse_qsl(params.lstrip("?"), keep_blank_values=True)
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            pairs.extend((key, _param_text(v)) for v in values)
        return pairs
    return [(str(key), str(value)) for key, value in params]


def _param_text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def criteria_text(criteria: SearchParams) -> str:
    """Search criteria as the query string If-None-Exist and conditional URLs carry."""
    return urlencode(search_pairs(criteria))


def server_urls(base_url: str, fhir_url: str | None = None) -> tuple[str, str]:
    """The server's root URL and its FHIR base. Either may be given as `base_url`:
    http://host:8103 and http://host:8103/fhir/R4 name the same server."""
    base_url = base_url.rstrip("/")
    if fhir_url is None and base_url.endswith(FHIR_BASE_PATH):
        base_url, fhir_url = base_url[: -len(FHIR_BASE_PATH)], base_url
    return base_url, (fhir_url or base_url + FHIR_BASE_PATH).rstrip("/")


def first_match_params(params: SearchParams) -> list[tuple[str, str]]:
    return [(k, v) for k, v in search_pairs(params) if k != "_count"] + [("_count", "1")]


def resources_in(bundle: Mapping[str, Any]) -> Iterator[Resource]:
    """The matches of a searchset page (not `_include`d resources), or every entry's resource."""
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if resource is not None and (entry.get("search") or {}).get("mode", "match") == "match":
            yield resource


def next_link(bundle: Mapping[str, Any]) -> str | None:
    return next((link.get("url") for link in bundle.get("link") or [] if link.get("relation") == "next"), None)


def version_etag(resource: Mapping[str, Any]) -> str | None:
    version_id = (resource.get("meta") or {}).get("versionId")
    return f'W/"{version_id}"' if version_id else None


class ClientCore:
    """The request-building and response-parsing half of a client, free of any I/O."""

    def __init__(self, base_url: str, fhir_url: str, auth: Authenticator | None,
                 retry: RetryPolicy | None = None) -> None:
        self.base_url = base_url
        self.fhir_url = fhir_url
        self.auth = auth
        self.retry = retry or RetryPolicy()

    # The plumbing: URLs, signing in, retrying, raising.

    def url(self, *segments: str) -> str:
        return "/".join([self.fhir_url, *(quote(s, safe="$") for s in segments if s)])

    def resolve(self, path: str) -> str:
        """A FHIR-relative path (`Patient/1`, `Patient?name=x`) or a URL on this server, as a URL.

        Absolute URLs elsewhere are refused: the access token must not leave this server."""
        if not path.startswith(("http://", "https://")):
            return f"{self.fhir_url}/{path.lstrip('/')}" if path.strip("/") else self.fhir_url
        if urlsplit(path)[:2] != urlsplit(self.base_url)[:2]:
            raise FiresideError(None, outcome_of(f"Refusing to send credentials to {path}: not {self.base_url}",
                                                 "security"), method="GET", url=path)
        return path

    def _authorize(self, request: HttpRequest, renew: bool) -> Exchange[HttpRequest | None]:
        if self.auth is None:
            return None if renew else request
        header = None if renew else self.auth.authorization()
        if header is None:
            renewed = yield from self._renew_token(self.auth)
            if not renewed:
                return None if renew else request
            header = self.auth.authorization()
        return request.with_headers({"Authorization": header}) if header else request

    def _renew_token(self, auth: Authenticator) -> Exchange[bool]:
        """Get `auth` a new access token; False when it cannot renew (a static token)."""
        if isinstance(auth, SignInFlow):
            yield from auth.token_exchange(self.retry)
            return True
        token_request = auth.token_request()
        if token_request is None:
            return False
        response = yield from send_with_retries(token_request, self.retry)
        auth.accept_token(expect_success(token_request, response).json())
        return True

    def sign_in(self) -> Exchange[None]:
        """Get an access token now rather than on the first request, to fail fast on bad credentials."""
        yield from self._authorize(HttpRequest("GET", self.fhir_url), renew=False)
        return None

    def send(self, request: HttpRequest) -> Exchange[HttpResponse]:
        """Sign, send and retry `request`; renew the token once on a 401; raise on any error status."""
        signed = yield from self._authorize(request, renew=False)
        response = yield from send_with_retries(signed or request, self.retry)
        if response.status == 401:
            renewed = yield from self._authorize(request, renew=True)
            if renewed is not None:
                response = yield from send_with_retries(renewed, self.retry)
        return expect_success(request, response)

    def request(self, method: str, path: str, *, params: SearchParams = None, body: Any = None,
                content_type: str = FHIR_JSON, headers: Mapping[str, str] | None = None) -> Exchange[HttpResponse]:
        all_headers = {"Accept": FHIR_JSON, **(headers or {})}
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else orjson.dumps(body)
            all_headers.setdefault("Content-Type", content_type)
        return self.send(HttpRequest(method, self.resolve(path), search_pairs(params), all_headers, content))

    def json(self, method: str, path: str, **options: Any) -> Exchange[Any]:
        response = yield from self.request(method, path, **options)
        return response.json()

    # The interactions (https://hl7.org/fhir/R4/http.html), each returning the parsed answer.

    def written(self, method: str, path: str, resource: Mapping[str, Any], headers: dict[str, str],
                params: SearchParams = None) -> Exchange[Resource]:
        headers = {"Prefer": "return=representation", **headers}
        response = yield from self.request(method, path, body=resource, headers=headers, params=params)
        if response.content:
            stored: Resource = response.json()
            return stored
        # A server that ignores Prefer answers with only a Location: read what it stored.
        location = response.header("location") or response.header("content-location")
        if location is None:
            return dict(resource)
        read: Resource = yield from self.json("GET", location)
        return read

    def read(self, resource_type: str, id: str) -> Exchange[Resource]:
        return self.json("GET", self.url(resource_type, id))

    def vread(self, resource_type: str, id: str, version_id: str) -> Exchange[Resource]:
        return self.json("GET", self.url(resource_type, id, "_history", version_id))

    def create(self, resource: Mapping[str, Any], if_none_exist: SearchParams = None) -> Exchange[Resource]:
        headers = {"If-None-Exist": criteria_text(if_none_exist)} if if_none_exist else {}
        return self.written("POST", self.url(resource["resourceType"]), resource, headers)

    def update(self, resource: Mapping[str, Any], versioned: bool) -> Exchange[Resource]:
        if not resource.get("id"):
            raise FiresideError(None, outcome_of("update needs a resource with an id; use create, or update_where",
                                                 "invalid"), method="PUT")
        etag = version_etag(resource) if versioned else None
        headers = {"If-Match": etag} if etag else {}
        return self.written("PUT", self.url(resource["resourceType"], resource["id"]), resource, headers)

    def update_where(self, resource: Mapping[str, Any], criteria: SearchParams) -> Exchange[Resource]:
        return self.written("PUT", self.url(resource["resourceType"]), resource, {}, params=criteria)

    def patch(self, resource_type: str, id: str, patch: Patch, if_match: str | None) -> Exchange[Resource]:
        headers = {"Prefer": "return=representation", **({"If-Match": if_match} if if_match else {})}
        if isinstance(patch, Mapping):
            return self.json("PATCH", self.url(resource_type, id), body=patch, headers=headers)
        return self.json("PATCH", self.url(resource_type, id), body=list(patch), content_type=JSON_PATCH,
                         headers=headers)

    def delete(self, resource_type: str, id: str | None, criteria: SearchParams = None) -> Exchange[None]:
        yield from self.request("DELETE", self.url(resource_type, id or ""), params=criteria)
        return None

    def history(self, resource_type: str | None, id: str | None, params: SearchParams) -> Exchange[Resource]:
        return self.json("GET", self.url(resource_type or "", id or "", "_history"), params=params)

    def search(self, resource_type: str | None, params: SearchParams) -> Exchange[Resource]:
        return self.json("GET", self.url(resource_type or ""), params=params)

    def page(self, link: str) -> Exchange[Resource]:
        """The Bundle page a `next` (or `previous`) link names.

        A server behind a proxy writes links with its public URL, which may not be the URL this
        client reaches it at; a link under the FHIR base path is read from this client's server."""
        parts = urlsplit(link)
        base_path = urlsplit(self.fhir_url).path
        if parts.scheme and parts.path.startswith(base_path):
            link = self.fhir_url + parts.path[len(base_path):] + (f"?{parts.query}" if parts.query else "")
        return self.json("GET", link)

    def bundle(self, bundle: Mapping[str, Any] | BundleBuilder, bundle_type: str) -> Exchange[Resource]:
        body = bundle.build() if isinstance(bundle, BundleBuilder) else dict(bundle)
        if body.get("type") != bundle_type:
            raise FiresideError(None, outcome_of(f"Expected a Bundle of type {bundle_type}, got {body.get('type')!r}",
                                                 "invalid"), method="POST", url=self.fhir_url)
        return self.json("POST", self.fhir_url, body=body)

    def operation(self, code: str, resource_type: str | None, id: str | None, parameters: Mapping[str, Any] | None,
                  params: SearchParams, method: str) -> Exchange[Any]:
        """Any operation ($validate, and later $graphql, $execute, $export): POST Parameters, or GET."""
        path = self.url(resource_type or "", id or "", "$" + code.lstrip("$"))
        return self.json(method, path, body=parameters if method != "GET" else None, params=params)

    def validate(self, resource: Mapping[str, Any], mode: str | None, profile: str | None) -> Exchange[Resource]:
        parts: list[dict[str, Any]] = [{"name": "resource", "resource": dict(resource)}]
        parts += [{"name": "mode", "valueCode": mode}] if mode else []
        parts += [{"name": "profile", "valueUri": profile}] if profile else []
        parameters = {"resourceType": "Parameters", "parameter": parts}
        return self.operation("validate", resource["resourceType"], None, parameters, None, "POST")

    def upload_binary(self, data: bytes, content_type: str, security_context: str | None) -> Exchange[Resource]:
        # Stored as FHIR JSON with base64 `data` until the server accepts raw bodies at [base]/Binary.
        binary: Resource = {"resourceType": "Binary", "contentType": content_type,
                            "data": base64.b64encode(data).decode()}
        if security_context:
            binary["securityContext"] = {"reference": security_context}
        return self.create(binary)

    def download_binary(self, id: str) -> Exchange[bytes]:
        binary = yield from self.json("GET", self.url("Binary", id))
        return base64.b64decode(binary.get("data") or "")

    # Administration outside the FHIR API (docs/identity.md).

    def invite(self, project_id: str, email: str, *, first_name: str | None, last_name: str | None,
               resource_type: str, admin: bool, access_policy: str | None, patient: str | None, send_email: bool,
               password: str | None) -> Exchange[Invitation]:
        """`POST /admin/projects/{project_id}/invite`: the new membership, and whether it was emailed."""
        url = self.base_url + invite_path(quote(project_id, safe=""))
        body = invite_body(email, first_name=first_name, last_name=last_name, resource_type=resource_type,
                           admin=admin, access_policy=access_policy, patient=patient, send_email=send_email,
                           password=password)
        response = yield from self.request("POST", url, body=body, content_type="application/json")
        # An answer without the header is an older server's: it did not say whether it emailed.
        return Invitation(response.json(), response.header(EMAIL_HEADER) or "unknown")
