"""CORS (https://fetch.spec.whatwg.org/#http-cors-protocol) for the FHIR and OAuth routes, per
ClientApplication: a browser app may call Fireside from the origins of its registered redirect
and launch URIs (fireside.auth.origins).

A preflight carries no token, so it is answered for any registered client's origin; the actual
response then names the origin only if it belongs to the client the bearer token was issued to,
so a token used from another app's page cannot be read there. Credentials (cookies) are never
allowed: the FHIR API authenticates with the Authorization header.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fireside.api.services import Services
from fireside.config import FHIR_BASE_PATH
from fireside.fhir.errors import FhirError

CORS_PATHS = (FHIR_BASE_PATH, "/oauth2/", "/.well-known/")
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = ("authorization, content-type, accept, prefer, if-match, if-none-match, if-none-exist, "
                   "if-modified-since, x-requested-with")
EXPOSED_HEADERS = "location, content-location, etag, last-modified, x-request-id, retry-after, www-authenticate"
PREFLIGHT_MAX_AGE = "600"


class CorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        origin = headers.get("origin") if headers else None
        if headers is None or origin is None or not scope["path"].startswith(CORS_PATHS):
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].state.services
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _answer_preflight(services, origin, scope, receive, send)
            return
        if not await services.origins.allows(origin, _token_client(services, headers)):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers["Access-Control-Allow-Origin"] = origin
                response_headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
                response_headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _token_client(services: Services, headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return services.tokens.verify(token.strip()).client_id
    except FhirError:
        return None  # the request will be refused; let the app read why, if its origin is known


async def _answer_preflight(services: Services, origin: str, scope: Scope, receive: Receive, send: Send) -> None:
    if not await services.origins.allows(origin, None):
        response = Response("Origin not allowed", status_code=403, headers={"Vary": "Origin"})
    else:
        response = Response(status_code=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        })
    await response(scope, receive, send)
