"""TOTP second factor endpoints: the sign-in's code step, and a user turning TOTP on and off and
renewing their recovery codes. The rules live in `fireside.auth.second_factor` and
`fireside.auth.mfa`; these handlers parse requests, audit and shape responses.

Each of the user's own actions leaves an AuditEvent in the token's project, refused or not: who
(the user, the client), the outcome and the source address; never the secret, a code or a password.
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
    _services,
    code_form,
    redirect_error,
    signed_in_response,
    too_many_sign_ins,
)
from fireside.auth import AuthorizationPageError, AuthorizationRedirectError, OAuthError, SignInFailed, TokenGrant
from fireside.auth.mfa import MfaRefused, confirm_enrollment, renew_codes, start_enrollment, turn_off
from fireside.auth.rate_limits import RateLimited
from fireside.auth.recovery_codes import looks_like_recovery_code
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
    code = form.get("code", "")
    try:
        await check_rate_limits(request, services, auth_request.client_id)
        signed_in = await sign_in_with_code(services.store, services.settings.resolve_secret_key(), pending,
                                            code, lockout_policy(services))
    except RateLimited as limited:
        return too_many_sign_ins(limited)
    except SignInFailed as failure:
        audit_oauth(request, services, "login", 401, None, client_id=auth_request.client_id, alt_id=pending.email,
                    locked=failure.locked)
        return code_form(request, auth_request, challenge, str(failure), 401)
    except AuthorizationPageError as error:
        return _page("Sign-in request refused", str(error), 400)
    except AuthorizationRedirectError as error:
        return redirect_error(error)
    if looks_like_recovery_code(code):  # one fewer left: worth a line of its own in the audit
        audit_oauth(request, services, "recovery-code-used", 200, signed_in.project_id, signed_in.user_reference,
                    auth_request.client_id)
    return signed_in_response(request, auth_request, signed_in, binding)


async def enroll_endpoint(request: Request) -> Response:
    """`POST /oauth2/mfa/enroll` (Bearer, `password`): a new TOTP secret and its otpauth URI."""
    async def work(grant: TokenGrant, fields: dict[str, str]) -> dict[str, Any]:
        services = _services(request)
        enrollment = await start_enrollment(services.store, services.settings.resolve_secret_key(), grant,
                                            fields.get("password", ""), lockout_policy(services))
        return {"secret": enrollment.secret, "otpauth_uri": enrollment.otpauth_uri, "digits": DIGITS, "period": 30}

    return await _as_user(request, "totp-enroll", work)


async def verify_endpoint(request: Request) -> Response:
    """`POST /oauth2/mfa/verify` (Bearer, `code`): the enrollment's first code turns TOTP on; the
    answer holds the recovery codes, shown this once."""
    async def work(grant: TokenGrant, fields: dict[str, str]) -> dict[str, Any]:
        services = _services(request)
        codes = await confirm_enrollment(services.store, services.settings.resolve_secret_key(), grant,
                                         fields.get("code", ""), lockout_policy(services))
        return {"enabled": True, "recovery_codes": codes}

    return await _as_user(request, "totp-enable", work)


async def disable_endpoint(request: Request) -> Response:
    """`POST /oauth2/mfa/disable` (Bearer, `code`): a current code, or a recovery code, turns TOTP off."""
    async def work(grant: TokenGrant, fields: dict[str, str]) -> dict[str, Any]:
        services = _services(request)
        await turn_off(services.store, services.settings.resolve_secret_key(), grant, fields.get("code", ""),
                       lockout_policy(services))
        return {"enabled": False}

    return await _as_user(request, "totp-disable", work)


async def recovery_codes_endpoint(request: Request) -> Response:
    """`POST /oauth2/mfa/recovery-codes` (Bearer, `password`, `code`): a new set of recovery codes,
    replacing the old one."""
    async def work(grant: TokenGrant, fields: dict[str, str]) -> dict[str, Any]:
        services = _services(request)
        codes = await renew_codes(services.store, services.settings.resolve_secret_key(), grant,
                                  fields.get("password", ""), fields.get("code", ""), lockout_policy(services))
        return {"recovery_codes": codes}

    return await _as_user(request, "recovery-codes", work)


UserWork = Callable[[TokenGrant, dict[str, str]], Awaitable[dict[str, Any]]]


async def _as_user(request: Request, action: str, work: UserWork) -> Response:
    """Run `work` for the user whose access token the request carries, and audit it as `action`;
    JSON errors otherwise."""
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
        audit_oauth(request, services, action, refused.status, grant.project_id, grant.subject, grant.client_id,
                    locked=refused.locked)
        return JSONResponse({"error": refused.error, "error_description": refused.description},
                            status_code=refused.status, headers=_NO_STORE)
    except OAuthError as error:
        return JSONResponse({"error": error.error, "error_description": error.description}, status_code=400)
    audit_oauth(request, services, action, 200, grant.project_id, grant.subject, grant.client_id)
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
        Route(MFA_PATH + "/recovery-codes", recovery_codes_endpoint, methods=["POST"]),
    ]
