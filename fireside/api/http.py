"""The HTTP edge of the FHIR API: authentication, content negotiation, body limits, and the one
place a `FhirError` (or anything unexpected) becomes a response."""

from __future__ import annotations

import logging
import traceback
import uuid

import orjson
import psycopg
from starlette.requests import Request
from starlette.responses import Response

from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.dispatch import dispatch
from fireside.api.services import Services
from fireside.config import FHIR_BASE_PATH
from fireside.fhir.errors import FhirError, Issue, operation_outcome
from fireside.store import AccessContext

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json; charset=utf-8"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir", "text/json")
_FORMAT_ALIASES = {"json", "application/json", "application/fhir+json", "application/json+fhir", "text/json"}
_UNAUTHENTICATED_PATHS = {"metadata", ".well-known/smart-configuration"}


def outcome_response(error: FhirError) -> Response:
    return Response(orjson.dumps(error.outcome()), status_code=error.http_status,
                    media_type=FHIR_JSON, headers=error.headers)


def internal_error_response(error: BaseException) -> Response:
    request_id = str(uuid.uuid4())
    # The type and traceback go to the log, the message does not: it may quote resource content (PHI).
    log.error("internal error %s: %s\n%s", request_id, type(error).__name__,
              "".join(traceback.format_tb(error.__traceback__)))
    outcome = operation_outcome([Issue("exception", f"Internal server error (request id {request_id})")])
    return Response(orjson.dumps(outcome), status_code=500, media_type=FHIR_JSON,
                    headers={"X-Request-Id": request_id})


def _check_format(request: Request) -> None:
    requested = request.query_params.get("_format")
    if requested is not None and requested.split(";")[0].strip() not in _FORMAT_ALIASES:
        raise FhirError.single("not-supported", f"_format {requested!r} is not supported: JSON only", status=406)
    accept = request.headers.get("accept")
    if requested is None and accept and not _accepts_json(accept):
        raise FhirError.single("not-supported", f"Cannot produce {accept!r}: this server speaks FHIR JSON",
                               status=406)


def _check_no_nul(request: Request, body: bytes) -> None:
    """FHIR strings may not hold U+0000 (the string regex excludes it), nor can PostgreSQL text."""
    in_query = any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items())
    if in_query or "\x00" in request.url.path or b"\\u0000" in body:
        raise FhirError.single("invalid", "The request contains a NUL character (U+0000), which FHIR strings "
                               "may not hold")


def _accepts_json(accept: str) -> bool:
    media = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(m in _JSON_TYPES or m in ("*/*", "application/*", "") for m in media)


def _check_content_type(request: Request, body: bytes) -> None:
    if not body:
        return
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    allowed = (*_JSON_TYPES, "application/json-patch+json")
    if request.method in ("POST", "PUT", "PATCH") and content_type not in allowed:
        if content_type == "application/x-www-form-urlencoded" and request.url.path.endswith("/_search"):
            return
        shown = content_type or "(none)"
        raise FhirError.single(
            "not-supported", f"Content-Type {shown!r} is not supported: send application/fhir+json", status=415
        )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise FhirError.single("too-long", f"The request body exceeds the limit of {limit} bytes", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FhirError.single("too-long", f"The request body exceeds the limit of {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def authenticate(request: Request, services: Services) -> AccessContext:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FhirError(
            [Issue("login", "Authentication required: send Authorization: Bearer <access token>")],
            status=401, headers={"WWW-Authenticate": 'Bearer realm="fireside"'},
        )
    try:
        grant = await services.tokens.verify_live(token.strip())
    except FhirError as error:
        error.status = 401
        error.headers = {"WWW-Authenticate": 'Bearer realm="fireside", error="invalid_token"'}
        raise
    if services.access is None:
        return grant.access_context()
    # The token's scopes and the membership's access policies, compiled (fireside.auth.policies).
    return await services.access.context(grant)


def to_http(response: FhirResponse) -> Response:
    body = response.body_bytes()
    media_type = FHIR_JSON if body else None
    return Response(body, status_code=response.status, media_type=media_type, headers=response.headers)


async def fhir_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    path = request.path_params.get("path", "")
    try:
        _check_format(request)
        if path.strip("/") in _UNAUTHENTICATED_PATHS and request.method == "GET":
            ctx = None
        else:
            ctx = await authenticate(request, services)
        body = await read_body(request, services.settings.max_body_bytes)
        _check_content_type(request, body)
        _check_no_nul(request, body)
        fhir_request = FhirRequest(
            method=request.method,
            ctx=ctx,  # type: ignore[arg-type]  # only the unauthenticated routes see None
            base_url=_fhir_base(request, services),
            query=[(k, v) for k, v in request.query_params.multi_items() if k != "_format"],
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            source_address=request.client.host if request.client else None,
        )
        return to_http(await dispatch(fhir_request, path, services))
    except FhirError as error:
        return outcome_response(error)
    except psycopg.errors.DataError as error:
        # A value the database cannot hold (out of range, bad encoding) came from the request.
        log.info("rejected a value PostgreSQL cannot store: %s", type(error).__name__)
        return outcome_response(FhirError.single("invalid", "A value in the request is out of the range this "
                                                 "server can store"))
    except Exception as error:
        return internal_error_response(error)


def _fhir_base(request: Request, services: Services) -> str:
    if services.settings.public_url:
        return services.settings.fhir_base_url
    return str(request.base_url).rstrip("/") + FHIR_BASE_PATH
