"""`FiresideClient`: the blocking client, driving the shared exchanges with httpx.Client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload
from uuid import UUID

import httpx

from fireside.client.admin import Invitation, ProfileType
from fireside.client.auth import Authenticator, authenticator_for
from fireside.client.bundles import BundleBuilder
from fireside.client.core import (
    ClientCore,
    Patch,
    Resource,
    SearchParams,
    first_match_params,
    next_link,
    resources_in,
    server_urls,
    type_name,
)
from fireside.client.errors import FiresideError, outcome_of
from fireside.client.exchange import Exchange, HttpRequest, HttpResponse, RetryPolicy, Sleep

if TYPE_CHECKING:
    from fireside.client.auth import PrivateKey
    from fireside.client.types import Bundle, CapabilityStatement, OperationOutcome

T = TypeVar("T")
R = TypeVar("R", bound=Mapping[str, Any])

DEFAULT_BASE_URL = "http://127.0.0.1:8103"


class FiresideClient:
    """A FHIR R4 client for a Fireside server.

        client = FiresideClient("http://127.0.0.1:8103", client_id=..., client_secret=...)
        patient = client.create({"resourceType": "Patient", "name": [{"family": "Chalmers"}]})

    Sign in with `client_id` and `client_secret` (a token is fetched from `{base_url}/oauth2/token`
    and renewed when it expires or the server answers 401); with `client_id`, `private_key` (PEM)
    and `key_id` (a signed client assertion, `PrivateKeyJwt`); as a user, with `client_id`,
    `email` and `password` (`PasswordSignIn`: authorization code with PKCE, then refresh tokens;
    plus `totp_secret` or `totp_code` for a user with two-factor sign-in on); with an
    `access_token` you already have; or with any `auth` Authenticator. `scope` is the scope to ask
    for. Every failure raises `FiresideError`.
    """

    def __init__(self, base_url: str = DEFAULT_BASE_URL, *, client_id: str | None = None,
                 client_secret: str | None = None, access_token: str | None = None,
                 private_key: str | bytes | PrivateKey | None = None, key_id: str | None = None,
                 email: str | None = None, password: str | None = None, totp_secret: str | None = None,
                 totp_code: str | Callable[[], str] | None = None, scope: str | None = None,
                 auth: Authenticator | None = None, fhir_url: str | None = None, retry: RetryPolicy | None = None,
                 timeout: float = 30.0, http: httpx.Client | None = None) -> None:
        base_url, fhir_url = server_urls(base_url, fhir_url)
        auth = auth or authenticator_for(base_url, client_id=client_id, client_secret=client_secret,
                                         access_token=access_token, private_key=private_key, key_id=key_id,
                                         email=email, password=password, totp_secret=totp_secret,
                                         totp_code=totp_code, scope=scope)
        self._core = ClientCore(base_url, fhir_url, auth, retry)
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def fhir_url(self) -> str:
        return self._core.fhir_url

    @property
    def auth(self) -> Authenticator | None:
        return self._core.auth

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> FiresideClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _transport(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self._http.request(request.method, request.url, params=list(request.params) or None,
                                          headers=dict(request.headers), content=request.content)
        except httpx.HTTPError as error:
            raise FiresideError(None, outcome_of(f"{type(error).__name__}: {error}", "transient"),
                                method=request.method, url=request.url) from error
        return HttpResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                            response.content, str(response.url))

    def _run(self, exchange: Exchange[T]) -> T:
        answer: HttpResponse | None = None
        try:
            while True:
                action = exchange.send(answer)
                if isinstance(action, Sleep):
                    time.sleep(action.seconds)
                    answer = None
                else:
                    answer = self._transport(action)
        except StopIteration as done:
            return cast(T, done.value)

    def sign_in(self) -> None:
        """Fetch an access token now (otherwise the first request does): bad credentials fail here."""
        self._run(self._core.sign_in())

    # Raw access and the CapabilityStatement.

    def request(self, method: str, path: str, *, params: SearchParams = None, body: Any = None,
                content_type: str = "application/fhir+json", headers: Mapping[str, str] | None = None) -> HttpResponse:
        """Any request to a FHIR-relative path (`Patient/1`) or a URL on this server."""
        return self._run(self._core.request(method, path, params=params, body=body, content_type=content_type,
                                            headers=headers))

    def capabilities(self) -> CapabilityStatement:
        return cast("CapabilityStatement", self._run(self._core.json("GET", "metadata")))

    # CRUD. `resource_type` is a name ("Patient") or a class from fireside.client.types (Patient),
    # which also types the result.

    def create(self, resource: R, *, if_none_exist: SearchParams = None) -> R:
        """Create `resource`; with `if_none_exist` criteria, return the one existing match instead."""
        return cast(R, self._run(self._core.create(resource, if_none_exist)))

    @overload
    def read(self, resource_type: type[R], id: str) -> R: ...
    @overload
    def read(self, resource_type: str, id: str) -> Resource: ...
    def read(self, resource_type: type[Any] | str, id: str) -> Any:
        return self._run(self._core.read(type_name(resource_type), id))

    @overload
    def vread(self, resource_type: type[R], id: str, version_id: str) -> R: ...
    @overload
    def vread(self, resource_type: str, id: str, version_id: str) -> Resource: ...
    def vread(self, resource_type: type[Any] | str, id: str, version_id: str) -> Any:
        return self._run(self._core.vread(type_name(resource_type), id, version_id))

    def update(self, resource: R, *, versioned: bool = True) -> R:
        """Update `resource` (it has an id). When `versioned` (the default) and the resource carries
        meta.versionId, send If-Match: a stale version fails with status 412 rather than overwrite."""
        return cast(R, self._run(self._core.update(resource, versioned)))

    def update_where(self, resource: R, criteria: SearchParams) -> R:
        """Conditional update: update the one match of `criteria`, or create when none match."""
        return cast(R, self._run(self._core.update_where(resource, criteria)))

    @overload
    def patch(self, resource_type: type[R], id: str, patch: Patch,
              *, if_match: str | None = None) -> R: ...
    @overload
    def patch(self, resource_type: str, id: str, patch: Patch,
              *, if_match: str | None = None) -> Resource: ...
    def patch(self, resource_type: type[Any] | str, id: str, patch: Patch,
              *, if_match: str | None = None) -> Any:
        """Patch with a JSON Patch list ([{"op": "replace", ...}]) or a FHIRPath Patch Parameters."""
        return self._run(self._core.patch(type_name(resource_type), id, patch, if_match))

    def delete(self, resource_type: type[Any] | str, id: str) -> None:
        self._run(self._core.delete(type_name(resource_type), id))

    def delete_where(self, resource_type: type[Any] | str, criteria: SearchParams) -> None:
        self._run(self._core.delete(type_name(resource_type), None, criteria))

    def history(self, resource_type: type[Any] | str | None = None, id: str | None = None,
                params: SearchParams = None) -> Bundle:
        """The history Bundle of one resource, of a type, or (no arguments) of the whole server."""
        name = type_name(resource_type) if resource_type is not None else None
        return cast("Bundle", self._run(self._core.history(name, id, params)))

    # Search.

    def search(self, resource_type: type[Any] | str | None, params: SearchParams = None) -> Bundle:
        """One page of results, as the searchset Bundle (`resource_type` None searches every type)."""
        name = type_name(resource_type) if resource_type is not None else None
        return cast("Bundle", self._run(self._core.search(name, params)))

    @overload
    def search_resources(self, resource_type: type[R], params: SearchParams = None) -> Iterator[R]: ...
    @overload
    def search_resources(self, resource_type: str, params: SearchParams = None) -> Iterator[Resource]: ...
    def search_resources(self, resource_type: type[Any] | str, params: SearchParams = None) -> Iterator[Any]:
        """Every match, following the Bundle's `next` links page by page as you iterate."""
        bundle = self._run(self._core.search(type_name(resource_type), params))
        while True:
            yield from resources_in(bundle)
            url = next_link(bundle)
            if url is None:
                return
            bundle = self._run(self._core.page(url))

    @overload
    def search_one(self, resource_type: type[R], params: SearchParams = None) -> R | None: ...
    @overload
    def search_one(self, resource_type: str, params: SearchParams = None) -> Resource | None: ...
    def search_one(self, resource_type: type[Any] | str, params: SearchParams = None) -> Any:
        """The first match (asking the server for one), or None."""
        bundle = self._run(self._core.search(type_name(resource_type), first_match_params(params)))
        return next(resources_in(bundle), None)

    # Bundles, operations, Binary.

    def transaction(self, bundle: Mapping[str, Any] | BundleBuilder) -> Bundle:
        """POST a transaction Bundle (all or nothing); returns the transaction-response Bundle."""
        return cast("Bundle", self._run(self._core.bundle(bundle, "transaction")))

    def batch(self, bundle: Mapping[str, Any] | BundleBuilder) -> Bundle:
        """POST a batch Bundle (entries succeed or fail independently); returns the batch-response."""
        return cast("Bundle", self._run(self._core.bundle(bundle, "batch")))

    def validate(self, resource: Mapping[str, Any], *, mode: Literal["create", "update", "delete", "profile"] |
                 None = None, profile: str | None = None) -> OperationOutcome:
        """$validate: the OperationOutcome of checking `resource` (200 whether or not it is valid)."""
        return cast("OperationOutcome", self._run(self._core.validate(resource, mode, profile)))

    def operation(self, code: str, *, resource_type: type[Any] | str | None = None, id: str | None = None,
                  parameters: Mapping[str, Any] | None = None, params: SearchParams = None,
                  method: Literal["GET", "POST"] = "POST") -> Any:
        """Invoke an operation at the system, type or instance level; returns the parsed answer."""
        name = type_name(resource_type) if resource_type is not None else None
        return self._run(self._core.operation(code, name, id, parameters, params, method))

    def upload_binary(self, data: bytes, content_type: str, *, security_context: str | None = None) -> Resource:
        """Store `data` as a Binary resource; returns it (its id is what download_binary takes)."""
        return self._run(self._core.upload_binary(data, content_type, security_context))

    def download_binary(self, id: str) -> bytes:
        return self._run(self._core.download_binary(id))

    # Project administration (docs/identity.md#invites).

    def invite(self, project_id: str | UUID, email: str, *, first_name: str | None = None,
               last_name: str | None = None, resource_type: ProfileType = "Practitioner", admin: bool = False,
               access_policy: str | None = None, patient: str | None = None, send_email: bool = True,
               password: str | None = None) -> Invitation:
        """Make `email` a member of the project, with a profile of `resource_type` (a RelatedPerson
        needs the `patient` they relate to, "Patient/<id>"); the caller must be an admin of the
        project or a super admin. A new user is emailed a link to choose a password unless
        `password` sets it or `send_email` is False. `access_policy` is "AccessPolicy/<id>"."""
        return self._run(self._core.invite(
            str(project_id), email, first_name=first_name, last_name=last_name, resource_type=resource_type,
            admin=admin, access_policy=access_policy, patient=patient, send_email=send_email, password=password))
