"""The OAuth 2.0 / OpenID Connect endpoints and the discovery documents that announce them.

The rules live in `fireside.auth`; these handlers parse the request and shape the response.
Token-endpoint errors follow RFC 6749 section 5.2 (`{"error": ...}`), not OperationOutcome.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Mapping
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from fireside.api.oauth_protection import (
    audit_logout,
    audit_oauth,
    audit_token_grant,
    check_rate_limits,
    lockout_policy,
    outbound_policy,
)
from fireside.api.services import Services
from fireside.auth import (
    ASSERTION_ALGORITHMS,
    CLIENT_AUTH_METHODS,
    CODE_CHALLENGE_METHODS,
    GRANT_TYPES,
    AuthenticatedClient,
    AuthorizationPageError,
    AuthorizationRedirectError,
    AuthorizationRequest,
    OAuthError,
    SecondFactorRequired,
    SignedIn,
    SignInFailed,
    authenticate_request_client,
    check_authorization_request,
    find_client,
    grant_tokens,
    introspect,
    logout,
    new_form_binding,
    read_form_token,
    revoke,
    sign_form_token,
    sign_in,
    userinfo,
)
from fireside.auth.identity_providers import project_identity_providers
from fireside.auth.patient_picker import sign_picker_token
from fireside.auth.rate_limits import RateLimited
from fireside.auth.second_factor import start_second_factor
from fireside.config import FHIR_BASE_PATH
from fireside.fhir.errors import FhirError

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# A page with a form: never cached, never framed by another site (clickjacking).
FORM_PAGE_HEADERS = {**_NO_STORE, "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
FORM_COOKIE = "fireside_authorize"
AUTHORIZE_PATH = "/oauth2/authorize"
# Under AUTHORIZE_PATH, so the sign-in form's cookie goes with it (fireside/api/launch_routes.py).
PATIENT_PICKER_PATH = AUTHORIZE_PATH + "/patient"
SECOND_FACTOR_PATH = AUTHORIZE_PATH + "/code"  # fireside/api/mfa_routes.py
IDP_START_PATH = AUTHORIZE_PATH + "/idp"  # fireside/api/federation_routes.py
_MAX_FORM_BYTES = 64 * 1024


def _base(request: Request) -> str:
    services: Services = request.app.state.services
    return services.settings.public_url or str(request.base_url).rstrip("/")


def _fhir_base(request: Request) -> str:
    return _base(request).rstrip("/") + FHIR_BASE_PATH


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _oauth_error(error: OAuthError) -> Response:
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="fireside"'
    return JSONResponse({"error": error.error, "error_description": error.description}, status_code=error.status,
                        headers=headers)


async def _form(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "Send the request as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "The request body is too large")
    # OAuth requests are small url-encoded forms; parse them without a multipart dependency.
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise OAuthError("invalid_client", "Malformed Basic credentials", 401) from error
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise OAuthError("invalid_client", "Malformed Basic credentials", 401)
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(client_id), unquote(secret)


async def _client(request: Request, form: Mapping[str, str]) -> AuthenticatedClient:
    services = _services(request)
    return await authenticate_request_client(services.store, form, _basic_credentials(request),
                                             _base(request) + "/oauth2/token",
                                             outbound_policy(services))


async def token_endpoint(request: Request) -> Response:
    """RFC 6749 section 3.2."""
    services = _services(request)
    caller: AuthenticatedClient | None = None
    claimed_client: str | None = None
    try:
        form = await _form(request)
        basic = _basic_credentials(request)
        claimed_client = basic[0] if basic else form.get("client_id")
        await check_rate_limits(request, services, claimed_client)
        caller = await _client(request, form)
        body = await grant_tokens(form.get("grant_type"), form, caller, services.store, services.tokens,
                                  _fhir_base(request))
    except RateLimited as limited:
        return _rate_limited_json(limited)
    except OAuthError as error:
        if caller is not None:
            audit_oauth(request, services, "token", error.status, caller.client.project_id,
                        caller.client.reference, caller.client.id)
        else:
            audit_oauth(request, services, "token", error.status, None, alt_id=claimed_client)
        return _oauth_error(error)
    audit_token_grant(request, services, body["access_token"])
    return JSONResponse(body, headers=_NO_STORE)


def _rate_limited_json(limited: RateLimited) -> Response:
    # RFC 6749 has no rate-limit error; temporarily_unavailable (4.1.2.1) is the nearest meaning.
    return JSONResponse({"error": "temporarily_unavailable", "error_description": "Too many requests; retry after "
                         f"{limited.retry_after} seconds"}, status_code=429,
                        headers={**_NO_STORE, "Retry-After": str(limited.retry_after)})


async def introspect_endpoint(request: Request) -> Response:
    """RFC 7662 section 2: the caller authenticates as a client."""
    services = _services(request)
    try:
        caller, token = await _client_and_token(request)
        body = await introspect(services.store, services.tokens, caller, token)
    except OAuthError as error:
        return _oauth_error(error)
    return JSONResponse(body, headers=_NO_STORE)


async def revoke_endpoint(request: Request) -> Response:
    """RFC 7009 section 2."""
    services = _services(request)
    try:
        caller, token = await _client_and_token(request)
        await revoke(services.store, services.tokens, caller, token)
    except OAuthError as error:
        return _oauth_error(error)
    return Response(status_code=200, headers=_NO_STORE)


async def _client_and_token(request: Request) -> tuple[AuthenticatedClient, str]:
    """The authenticated calling client and the `token` form field of an introspection or
    revocation request."""
    form = await _form(request)
    caller = await _client(request, form)
    if not form.get("token"):
        raise OAuthError("invalid_request", "token is required")
    return caller, form["token"]


async def userinfo_endpoint(request: Request) -> Response:
    """OpenID Connect Core section 5.3: the signed-in user, for their access token."""
    services = _services(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="fireside", error="invalid_token"'}
    if scheme.lower() != "bearer" or not token.strip():
        return JSONResponse({"error": "invalid_token"}, status_code=401, headers=challenge)
    try:
        grant = await services.tokens.verify_live(token.strip())
    except FhirError:
        return JSONResponse({"error": "invalid_token"}, status_code=401, headers=challenge)
    try:
        body = await userinfo(services.store, grant, _fhir_base(request))
    except FhirError as error:
        return JSONResponse({"error": "insufficient_scope", "error_description": error.outcome()["issue"][0]
                             .get("diagnostics", "")}, status_code=403)
    return JSONResponse(body, headers=_NO_STORE)


async def logout_endpoint(request: Request) -> Response:
    """RP-Initiated Logout 1.0: end the sign-in named by `id_token_hint`, then go back to the app
    if `post_logout_redirect_uri` is one of the client's registered redirect URIs."""
    services = _services(request)
    params = dict(request.query_params)
    if request.method == "POST":
        try:
            params.update(await _form(request))
        except OAuthError as error:
            return _oauth_error(error)
    hint = params.get("id_token_hint")
    if not hint:
        return _page("Sign-out failed", "The request has no id_token_hint.", 400)
    try:
        client_id = await logout(services.store, services.tokens, hint)
    except FhirError:
        return _page("Sign-out failed", "The id_token_hint is not an ID token of this server.", 400)
    await audit_logout(request, services, hint, client_id)
    target = params.get("post_logout_redirect_uri")
    if target and client_id:
        client = await find_client(services.store, client_id)
        if client is not None and target in client.redirect_uris:
            return RedirectResponse(_with_query(target, {"state": params.get("state")}), status_code=303)
    return _page("Signed out", "You are signed out.", 200)


async def authorize_endpoint(request: Request) -> Response:
    """RFC 6749 section 4.1.1: GET shows the sign-in form, POST checks it and redirects with a code."""
    services = _services(request)
    try:
        if request.method == "GET":
            auth_request = await check_authorization_request(services.store, dict(request.query_params),
                                                             _fhir_base(request))
            return await login_form(request, auth_request, request.cookies.get(FORM_COOKIE), "", "")
        form = await _form(request)
        if "form_token" not in form and "client_id" in form:
            # SMART `authorize-post`: the authorization request itself, posted as a form.
            auth_request = await check_authorization_request(services.store, form, _fhir_base(request))
            return await login_form(request, auth_request, request.cookies.get(FORM_COOKIE), "", "")
        binding = request.cookies.get(FORM_COOKIE)
        auth_request = read_form_token(services.tokens, form.get("form_token", ""), binding)
        email = form.get("email", "")
        try:
            await check_rate_limits(request, services, auth_request.client_id)
            signed_in = await sign_in(services.store, auth_request, email, form.get("password", ""),
                                      lockout_policy(services))
        except RateLimited as limited:
            return too_many_sign_ins(limited)
        except SignInFailed as failure:
            audit_oauth(request, services, "login", 401, None, client_id=auth_request.client_id, alt_id=email,
                        locked=failure.locked)
            return await login_form(request, auth_request, binding, email, str(failure), 401)
        if isinstance(signed_in, SecondFactorRequired):  # TOTP on: the code comes next
            challenge = await start_second_factor(services.store, services.tokens, auth_request, signed_in,
                                                  binding or "")
            return code_form(request, auth_request, challenge, "")
        return signed_in_response(request, auth_request, signed_in, binding)
    except AuthorizationPageError as error:
        return _page("Sign-in request refused", str(error), 400)
    except AuthorizationRedirectError as error:
        return redirect_error(error)
    except OAuthError as error:
        return _page("Sign-in request refused", error.description, 400)


def signed_in_response(request: Request, auth_request: AuthorizationRequest, signed_in: SignedIn,
                       binding: str | None) -> Response:
    """Audit the sign-in and send the browser on: to the app with its code, or to the patient picker."""
    services = _services(request)
    audit_oauth(request, services, "login", 303, signed_in.project_id, signed_in.user_reference,
                auth_request.client_id)
    if signed_in.code is None:  # SMART standalone launch: the user picks the patient next
        picker_token = sign_picker_token(services.tokens, auth_request, signed_in, binding or "")
        return _redirect(PATIENT_PICKER_PATH, {"picker_token": picker_token})
    return _redirect(auth_request.redirect_uri, {"code": signed_in.code, "state": auth_request.state})


def code_form(request: Request, auth_request: AuthorizationRequest, challenge: str, message: str,
              status: int = 200) -> Response:
    """The second step (fireside/auth/second_factor.py): a TOTP code for the signed `challenge`."""
    page = _template("code.html").substitute(
        client_name=html.escape(auth_request.client_name or auth_request.client_id),
        action=html.escape(SECOND_FACTOR_PATH),
        challenge=html.escape(challenge),
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
    )
    return HTMLResponse(page, status_code=status, headers=FORM_PAGE_HEADERS)


async def login_form(request: Request, auth_request: AuthorizationRequest, binding: str | None, email: str,
                     message: str, status: int = 200) -> Response:
    binding = binding or new_form_binding()
    services = _services(request)
    form_token = html.escape(sign_form_token(services.tokens, auth_request, binding))
    page = _template("login.html").substitute(
        client_name=html.escape(auth_request.client_name or auth_request.client_id),
        action=html.escape(AUTHORIZE_PATH),
        form_token=form_token,
        email=html.escape(email),
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
        providers=await _provider_buttons(services, auth_request, form_token),
    )
    response = HTMLResponse(page, status_code=status, headers=FORM_PAGE_HEADERS)
    # SameSite=Lax: the cookie goes with the user's own form post, never with another site's.
    response.set_cookie(FORM_COOKIE, binding, max_age=600, path=AUTHORIZE_PATH, httponly=True, samesite="lax",
                        secure=_base(request).startswith("https://"))
    return response


async def _provider_buttons(services: Services, auth_request: AuthorizationRequest, form_token: str) -> str:
    """One small form per external provider of the client's project (fireside/auth/federation.py).
    A post, not a link: the form token stays out of URLs, logs and Referer headers."""
    client = await find_client(services.store, auth_request.client_id)
    providers = await project_identity_providers(services.store, client.project_id) if client else []
    return "".join(
        f'<form method="post" action="{html.escape(IDP_START_PATH)}" class="provider">'
        f'<input type="hidden" name="form_token" value="{form_token}">'
        f'<button type="submit" name="provider" value="{html.escape(provider.issuer)}">'
        f"Sign in with {html.escape(provider.name)}</button></form>"
        for provider in providers
    )


def _redirect(uri: str, query: dict[str, str | None]) -> Response:
    # 303: the browser follows a POST's redirect with a GET (RFC 9110 15.4.4).
    return RedirectResponse(_with_query(uri, query), status_code=303, headers=_NO_STORE)


def redirect_error(error: AuthorizationRedirectError) -> Response:
    """The error back to the client, on its (checked) redirect_uri."""
    return _redirect(error.redirect_uri, {"error": error.error, "error_description": error.description,
                                          "state": error.state})


def _with_query(uri: str, query: dict[str, str | None]) -> str:
    encoded = urlencode({k: v for k, v in query.items() if v is not None})
    if not encoded:
        return uri
    return uri + ("&" if "?" in uri else "?") + encoded


def _template(name: str) -> Template:
    return Template(resources.files("fireside.api").joinpath("templates", name).read_text("utf-8"))


def _page(title: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    page = _template("message.html").substitute(title=html.escape(title), message=html.escape(message))
    return HTMLResponse(page, status_code=status, headers={**_NO_STORE, **(headers or {})})


def too_many_sign_ins(limited: RateLimited) -> Response:
    return _page("Too many sign-in attempts", f"Try again in {limited.retry_after} seconds.", 429,
                 {"Retry-After": str(limited.retry_after)})


async def jwks_endpoint(request: Request) -> Response:
    return JSONResponse(_services(request).tokens.jwks())


def _endpoints(request: Request) -> dict[str, Any]:
    """What both discovery documents say about where to get and check tokens."""
    base = _base(request)
    return {
        "issuer": _services(request).tokens.issuer,
        "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userinfo",
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "end_session_endpoint": f"{base}/oauth2/logout",
        "jwks_uri": f"{base}/oauth2/jwks",
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": list(CODE_CHALLENGE_METHODS),
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
    }


# Examples, not a closed list: any SMART v1 or v2 clinical scope on any type is understood
# (fireside/auth/scopes.py).
SCOPES_SUPPORTED = [
    "openid", "fhirUser", "launch", "launch/patient", "offline_access", "online_access",
    "patient/*.rs", "user/*.rs", "system/*.rs", "patient/*.cruds", "user/*.cruds", "system/*.cruds",
    "patient/*.read", "user/*.read", "system/*.read", "patient/*.*", "user/*.*", "system/*.*",
]


async def openid_configuration(request: Request) -> Response:
    """OpenID Connect Discovery 1.0 section 3."""
    return JSONResponse({
        **_endpoints(request),
        "scopes_supported": SCOPES_SUPPORTED,
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "email_verified",
                             "fhirUser"],
    })


async def smart_configuration(request: Request) -> Response:
    """SMART App Launch 2.x, conformance-discovery.html#metadata: served unauthenticated at
    `[FHIR base]/.well-known/smart-configuration` (and at the root)."""
    return JSONResponse({
        **_endpoints(request),
        "scopes_supported": SCOPES_SUPPORTED,
        "capabilities": [
            "launch-ehr",
            "launch-standalone",
            "authorize-post",
            "client-public",
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "context-ehr-patient",
            "context-ehr-encounter",
            "context-standalone-patient",
            "sso-openid-connect",
            "permission-offline",
            "permission-online",
            "permission-patient",
            "permission-user",
            "permission-v1",
            "permission-v2",
        ],
    })


def oauth_routes() -> list[Route]:
    return [
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
        Route(f"{FHIR_BASE_PATH}/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
        Route(AUTHORIZE_PATH, authorize_endpoint, methods=["GET", "POST"]),
        Route("/oauth2/token", token_endpoint, methods=["POST"]),
        Route("/oauth2/introspect", introspect_endpoint, methods=["POST"]),
        Route("/oauth2/revoke", revoke_endpoint, methods=["POST"]),
        Route("/oauth2/userinfo", userinfo_endpoint, methods=["GET", "POST"]),
        Route("/oauth2/logout", logout_endpoint, methods=["GET", "POST"]),
        Route("/oauth2/jwks", jwks_endpoint, methods=["GET"]),
    ]
