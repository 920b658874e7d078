"""Sign-in through an external OpenID Connect provider: the sign-in page's provider buttons post to
`POST /oauth2/authorize/idp`, and the provider sends the browser back to `GET /oauth2/idp/callback`.

The rules live in `fireside.auth.federation`. Until the callback's state names a pending sign-in,
errors are a page (nothing says where the app is); after that the app hears `access_denied`
(or `temporarily_unavailable` when the provider is down) on its redirect_uri, RFC 6749 4.1.2.1.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fireside.api.oauth_protection import audit_oauth, check_rate_limits, lockout_policy, outbound_policy
from fireside.api.oauth_routes import (
    _NO_STORE,
    FORM_COOKIE,
    IDP_START_PATH,
    _base,
    _form,
    _page,
    _redirect,
    _services,
    login_form,
    redirect_error,
    signed_in_response,
    too_many_sign_ins,
)
from fireside.auth import AuthorizationPageError, AuthorizationRedirectError, OAuthError, read_form_token
from fireside.auth.federation import (
    PENDING_SECONDS,
    FederationRefused,
    finish_federated_sign_in,
    start_federated_sign_in,
    take_pending,
)
from fireside.auth.oidc_client import ProviderError
from fireside.auth.rate_limits import RateLimited

IDP_PATH = "/oauth2/idp"
IDP_CALLBACK_PATH = IDP_PATH + "/callback"
# Holds the sign-in form cookie's value for the callback, which is outside that cookie's path.
IDP_COOKIE = "fireside_idp"


def _callback_url(request: Request) -> str:
    return _base(request) + IDP_CALLBACK_PATH


async def idp_start_endpoint(request: Request) -> Response:
    """The user picked a provider on the sign-in page: send the browser there."""
    services = _services(request)
    try:
        form = await _form(request)
        binding = request.cookies.get(FORM_COOKIE)
        auth_request = read_form_token(services.tokens, form.get("form_token", ""), binding)
        await check_rate_limits(request, services, auth_request.client_id)
        try:
            location = await start_federated_sign_in(services.store, auth_request, form.get("provider", ""),
                                                     binding or "", _callback_url(request),
                                                     outbound_policy(services))
        except ProviderError:
            return await login_form(request, auth_request, binding, "", "That sign-in provider cannot be reached "
                                    "right now; try again later or sign in with your password.", 502)
    except RateLimited as limited:
        return too_many_sign_ins(limited)
    except AuthorizationPageError as error:
        return _page("Sign-in request refused", str(error), 400)
    except OAuthError as error:
        return _page("Sign-in request refused", error.description, 400)
    response = RedirectResponse(location, status_code=303, headers=_NO_STORE)
    # The same value as the sign-in form's cookie: the callback checks it, and a patient picker
    # after it (under /oauth2/authorize) still finds its own cookie matching.
    response.set_cookie(IDP_COOKIE, binding or "", max_age=PENDING_SECONDS, path=IDP_PATH, httponly=True,
                        samesite="lax", secure=_base(request).startswith("https://"))
    return response


async def idp_callback_endpoint(request: Request) -> Response:
    """OIDC Core 3.1.2.5: the provider's answer, `code` and `state` (or `error` and `state`)."""
    services = _services(request)
    params = request.query_params
    try:
        pending = await take_pending(services.store, params.get("state"), request.cookies.get(IDP_COOKIE))
        if "error" in params or not params.get("code"):
            raise FederationRefused(f"The sign-in provider answered {params.get('error', 'without a code')}.",
                                    pending.request)
        signed_in = await finish_federated_sign_in(
            services.store, services.settings.resolve_secret_key(), pending, params["code"], _callback_url(request),
            lockout_policy(services), outbound_policy(services))
    except FederationRefused as refused:
        client_id = refused.request.client_id if refused.request else None
        audit_oauth(request, services, "login", 401, None, client_id=client_id, alt_id=refused.email,
                    locked=refused.locked)
        if refused.request is None:
            return _page("Sign-in refused", str(refused), 400)
        return _redirect(refused.request.redirect_uri, {"error": refused.error, "error_description": str(refused),
                                                        "state": refused.request.state})
    except AuthorizationPageError as error:
        return _page("Sign-in request refused", str(error), 400)
    except AuthorizationRedirectError as error:
        return redirect_error(error)
    response = signed_in_response(request, pending.request, signed_in, request.cookies.get(IDP_COOKIE))
    response.delete_cookie(IDP_COOKIE, path=IDP_PATH)
    return response


def federation_routes() -> list[Route]:
    return [
        Route(IDP_START_PATH, idp_start_endpoint, methods=["POST"]),
        Route(IDP_CALLBACK_PATH, idp_callback_endpoint, methods=["GET"]),
    ]
