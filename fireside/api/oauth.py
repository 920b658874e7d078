"""OAuth 2.0 endpoints: the token endpoint (client credentials) and the JWKS.

Errors here follow RFC 6749 section 5.2 (`{"error": ...}`), not FHIR's OperationOutcome.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fireside.api.services import Services
from fireside.auth import authenticate_client

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="fireside"'
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, separator, secret = decoded.partition(":")
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return (unquote(client_id), unquote(secret)) if separator else None


async def token_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error("invalid_request", "Send the token request as application/x-www-form-urlencoded")
    # Token requests are small url-encoded forms; parse them without a multipart dependency.
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    grant_type = form.get("grant_type")
    if grant_type != "client_credentials":
        return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    credentials = _basic_credentials(request)
    if credentials is None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(secret, str):
            return _oauth_error("invalid_client", "Client authentication is required", 401)
        credentials = (client_id, secret)
    grant = await authenticate_client(services.store, *credentials)
    if grant is None:
        return _oauth_error("invalid_client", "Unknown client or wrong secret", 401)
    token = services.tokens.issue(grant)
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": services.tokens.lifetime,
            "scope": grant.scope,
            "project": str(grant.project_id),
        },
        headers=_NO_STORE,
    )


async def jwks_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    return JSONResponse(services.tokens.jwks())
