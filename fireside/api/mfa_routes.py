"""TOTP second factor endpoints: the sign-in's code step, and a user turning TOTP on and off.
The rules live in `fireside.auth.second_factor` and `fireside.auth.mfa`; these handlers parse
requests and shape responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fireside.api.oauth_protection import audit_oauth, check_rate_limits, lockout_policy
from fireside.api.oauth_routes import (
    _NO_STORE,
    FORM_COOKIE,
    SECOND_FACTOR_PATH,
    _form,
    _page,
    _redirect,
    _services,
    code_form,
    signed_in_response,
)
from fireside.auth import AuthorizationPageError, AuthorizationRedirectError, OAuthError, SignInFailed, TokenGrant
from fireside.auth.mfa import MfaRefused, confirm_enrollment, start_enrollment, turn_off
from fireside.auth.rate_limits import RateLimited
from fireside.auth.second_factor import read_second_factor_token, sign_in_with_code
from fireside.auth.totp import DIGITS
from fireside.fhir.errors import FhirError

MFA_PATH = "/oauth2/mfa"


async def second_factor_endpoint(request: Request) -> Response:
    """The code form's post: finish the sign-in the password began, or show the form again."""
    services = _services(request)
    binding = request.cookies.get(FORM_COOKIE)
    try:
        form = await _form(request)
        challenge = form.get("challenge", "")
        pending = read_second_factor_token(services.tokens, challenge, binding)
    except AuthorizationPageError as error:
        return _page("Sign-in request refused", str(error), 400)
    except OAuthError as error:
        return _page("Sign-in request refused", error.description, 400)
    auth_request = pending.request
    try:
        await check_rate_limits(request, services, auth_request.client_id)
        signed_in = await sign_in_with_code(services.store, services.settings.resolve_secret_key(), pending,
                                            form.get("code", ""), lockout_policy(services))
    except RateLimited as limited:
        return _page("Too many sign-in attempts", f"Try again in {limited.retry_after} seconds.", 429,
                     {"Retry-After": str(limited.retry_after)})
    except SignInFailed as failure:
        audit_oauth(request, services, "login", 401, None, client_id=auth_request.client_id, alt_id=pending.email,
                    locked=failure.locked)
        return code_form(request, auth_request, challenge, str(failure), 401)
    except AuthorizationPageError as error:
        return _page("Sign-in request refused", str(error), 400)
    except AuthorizationRedirectError as error:
        return _redirect(error.redirect_uri, {"error": error.error, "error_description": error.description,
                                              "state": error.state})
    return signed_in_response(request, auth_request, signed_in, binding)


async def enroll_endpoint(request: Request) -> Response:
    """`POST /oauth2/mfa/enroll` (Bearer, `password`): a new TOTP secret and its otpauth URI."""
    async def work(grant: TokenGrant, fields: dict[str, str]) -> dict[str, Any]:
        services = _services(request)
        enrollment = await start_enrollment(services.store, services.settings.resolve_secret_key(), grant,
                                            fields.get("password", ""), lockout_policy(services))
        return {"secret": enrollment.secret, "otpauth_uri": enrollment.otpauth_uri, "digits": DIGITS, "period": 30}

    return await _as_user(request, work)


async def verify_endpoint(request: Request) -> Response:
    """`POST /oauth2/mfa/verify` (Bearer, `code`): the enrollment's first code turns TOTP on."""
    async def work(grant: TokenGrant, fields: dict[str, str]) -> dict[str, Any]:
        services = _services(request)
        await confirm_enrollment(services.store, services.settings.resolve_secret_key(), grant,
                                 fields.get("code", ""), lockout_policy(services))
        return {"enabled": True}

    return await _as_user(request, work)


async def disable_endpoint(request: Request) -> Response:
    """`POST /oauth2/mfa/disable` (Bearer, `code`): a current code turns TOTP off."""
    async def work(grant: TokenGrant, fields: dict[str, str]) -> dict[str, Any]:
        services = _services(request)
        await turn_off(services.store, services.settings.resolve_secret_key(), grant, fields.get("code", ""),
                       lockout_policy(services))
        return {"enabled": False}

    return await _as_user(request, work)


UserWork = Callable[[TokenGrant, dict[str, str]], Awaitable[dict[str, Any]]]


async def _as_user(request: Request, work: UserWork) -> Response:
    """Run `work` for the user whose access token the request carries; JSON errors otherwise."""
    services = _services(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="fireside", error="invalid_token"'}
    try:
        grant = await services.tokens.verify_live(token.strip()) if scheme.lower() == "bearer" else None
    except FhirError:
        grant = None
    if grant is None:
        return JSONResponse({"error": "invalid_token"}, status_code=401, headers=challenge)
    try:
        await check_rate_limits(request, services, grant.client_id)
        body = await work(grant, await _fields(request))
    except RateLimited as limited:
        return JSONResponse({"error": "temporarily_unavailable", "error_description": "Too many requests"},
                            status_code=429, headers={**_NO_STORE, "Retry-After": str(limited.retry_after)})
    except MfaRefused as refused:
        return JSONResponse({"error": refused.error, "error_description": refused.description},
                            status_code=refused.status, headers=_NO_STORE)
    except OAuthError as error:
        return JSONResponse({"error": error.error, "error_description": error.description}, status_code=400)
    return JSONResponse(body, headers=_NO_STORE)


async def _fields(request: Request) -> dict[str, str]:
    """A form or a JSON object of strings."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return await _form(request)
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as error:
        raise OAuthError("invalid_request", "The body is not JSON") from error
    if not isinstance(body, dict):
        raise OAuthError("invalid_request", "Send a JSON object")
    return {key: value for key, value in body.items() if isinstance(value, str)}


def mfa_routes() -> list[Route]:
    return [
        Route(SECOND_FACTOR_PATH, second_factor_endpoint, methods=["POST"]),
        Route(MFA_PATH + "/enroll", enroll_endpoint, methods=["POST"]),
        Route(MFA_PATH + "/verify", verify_endpoint, methods=["POST"]),
        Route(MFA_PATH + "/disable", disable_endpoint, methods=["POST"]),
    ]
