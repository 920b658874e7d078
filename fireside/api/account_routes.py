"""Account pages: self-registration, "forgot password" and the one-time link that sets a password.

The rules live in `fireside.auth.registration` and `fireside.auth.password_tokens`; these
handlers parse forms and shape pages. Plain HTML forms, no JavaScript, like the sign-in form.
"""

from __future__ import annotations

import html
from datetime import timedelta

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from fireside.api.http import outcome_response
from fireside.api.oauth_protection import audit_oauth, check_rate_limits
from fireside.api.oauth_routes import (
    AUTHORIZE_PATH,
    FORM_PAGE_HEADERS,
    _base,
    _form,
    _page,
    _redirect,
    _services,
    _template,
)
from fireside.auth import OAuthError, new_form_binding
from fireside.auth.lockout import account_key
from fireside.auth.mail import MailSender, MailSettings
from fireside.auth.password_tokens import (
    SET_PASSWORD_PATH,
    PasswordLinkRefused,
    open_password_link,
    request_password_reset,
    reset_mail,
    set_password,
    set_password_url,
)
from fireside.auth.passwords import password_problem
from fireside.auth.rate_limits import Bucket, RateLimited, take
from fireside.auth.registration import (
    REGISTER_PATH,
    RegistrationClosed,
    RegistrationForm,
    RegistrationFormInvalid,
    RegistrationRefused,
    RegistrationTarget,
    authorization_parameters,
    read_registration_form,
    register,
    registration_target,
    sign_registration_form,
)
from fireside.config import Settings
from fireside.fhir.errors import invalid

FORGOT_PASSWORD_PATH = "/oauth2/forgot-password"
REGISTER_COOKIE = "fireside_register"
# The same answer for every email, known or not (OWASP Forgot Password Cheat Sheet).
RESET_ANSWER = "If an account has this email, we sent it a link to choose a new password."
# Besides the IP bucket: at most a few reset emails per address, so nobody floods an inbox.
RESET_EMAIL_BURST = 3
RESET_EMAIL_PER_MINUTE = 1
# Pages that carry a one-time token: no caching, no framing, and no Referer that would carry the
# token to another site.
_PRIVATE_PAGE = {**FORM_PAGE_HEADERS, "Referrer-Policy": "no-referrer"}


def mail_sender(settings: Settings) -> MailSender:
    return MailSender(MailSettings(settings.smtp_host, settings.smtp_port, settings.smtp_username,
                                   settings.smtp_password, settings.smtp_from, settings.smtp_starttls))


# --- Registration --------------------------------------------------------------------------


async def register_endpoint(request: Request) -> Response:
    """GET shows the form for the project of `client_id`; POST makes the account, then goes on
    with the authorization request it came with (or shows that the account exists)."""
    services = _services(request)
    try:
        if request.method == "GET":
            params = dict(request.query_params)
            target = await registration_target(services.store, params.get("client_id"))
            form = RegistrationForm(target.client_id, authorization_parameters(params))
            return _register_form(request, target, form, request.cookies.get(REGISTER_COOKIE), {}, "")
        fields = await _form(request)
        binding = request.cookies.get(REGISTER_COOKIE)
        form = read_registration_form(services.tokens, fields.get("form_token", ""), binding)
        target = await registration_target(services.store, form.client_id)
        await check_rate_limits(request, services, target.client_id)
        try:
            enrolment = await register(services.store, target, fields)
        except RegistrationRefused as refused:
            return _register_form(request, target, form, binding, fields, str(refused), 400)
    except RegistrationClosed as closed:
        return _page("Registration closed", str(closed), 403)
    except (RegistrationFormInvalid, OAuthError) as error:
        message = error.description if isinstance(error, OAuthError) else str(error)
        return _page("Registration refused", message, 400)
    except RateLimited as limited:
        return _too_many(limited)
    audit_oauth(request, services, "register", 201, target.project_id, enrolment.user.reference, target.client_id)
    if form.authorize:
        # Back to the sign-in form of the request the app made: the user signs in with the new password.
        query: dict[str, str | None] = dict(form.authorize)
        return _redirect(AUTHORIZE_PATH, query)
    return _page("Account created", f"Your account is ready. Sign in to {target.client_name} with "
                 f"{enrolment.user.email}.", 201)


def _register_form(request: Request, target: RegistrationTarget, form: RegistrationForm, binding: str | None,
                   fields: dict[str, str], message: str, status: int = 200) -> Response:
    services = _services(request)
    binding = binding or new_form_binding()
    page = _template("register.html").substitute(
        client_name=html.escape(target.client_name),
        action=html.escape(REGISTER_PATH),
        form_token=html.escape(sign_registration_form(services.tokens, form, binding)),
        email=html.escape(fields.get("email", "")),
        first_name=html.escape(fields.get("firstName", "")),
        last_name=html.escape(fields.get("lastName", "")),
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
    )
    response = HTMLResponse(page, status_code=status, headers=_PRIVATE_PAGE)
    # SameSite=Lax: the cookie goes with the user's own form post, never with another site's.
    response.set_cookie(REGISTER_COOKIE, binding, max_age=1800, path=REGISTER_PATH, httponly=True,
                        samesite="lax", secure=_base(request).startswith("https://"))
    return response


# --- Forgot password -----------------------------------------------------------------------


async def forgot_password_endpoint(request: Request) -> Response:
    """GET shows the form; POST (a form or JSON `{"email": ...}`) sends a reset link if a user
    has the email, and answers the same whether or not one does."""
    if request.method == "GET":
        return HTMLResponse(_template("forgot_password.html").substitute(action=html.escape(FORGOT_PASSWORD_PATH)),
                            headers=_PRIVATE_PAGE)
    services = _services(request)
    wants_json = _is_json(request)
    try:
        email = await _posted_email(request, wants_json)
        await check_rate_limits(request, services, None)
        await take(services.store, [Bucket(f"reset:{account_key(email)}", RESET_EMAIL_BURST, RESET_EMAIL_PER_MINUTE)])
    except RateLimited as limited:
        return _too_many(limited, wants_json)
    except ValueError as error:
        if wants_json:
            return outcome_response(invalid(str(error), "email"))
        return _page("Password reset refused", str(error), 400)
    lifetime = timedelta(seconds=services.settings.password_reset_seconds)
    found = await request_password_reset(services.store, email, lifetime)
    # Audited in the admin project: the request proved no project (as a failed sign-in).
    audit_oauth(request, services, "password-reset", 200, None, found[0].reference if found else None,
                alt_id=email)
    task = None
    if found:
        user, token = found
        # Sent after the answer, so its time does not tell whether the email has an account.
        task = BackgroundTask(mail_sender(services.settings).send,
                              reset_mail(user, set_password_url(_base(request), token), lifetime))
    if wants_json:
        return JSONResponse({"message": RESET_ANSWER}, headers=_PRIVATE_PAGE, background=task)
    page = _template("message.html").substitute(title="Check your email", message=html.escape(RESET_ANSWER))
    return HTMLResponse(page, headers=_PRIVATE_PAGE, background=task)


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in ("application/json", "application/fhir+json")


async def _posted_email(request: Request, wants_json: bool) -> str:
    if wants_json:
        body = await request.body()
        if len(body) > 64 * 1024:
            raise ValueError("The request body is too large")
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise ValueError("The body is not JSON") from error
        email = parsed.get("email") if isinstance(parsed, dict) else None
    else:
        try:
            email = (await _form(request)).get("email")
        except OAuthError as error:
            raise ValueError(error.description) from error
    # isprintable: a NUL would reach PostgreSQL, which cannot hold it in text.
    if not isinstance(email, str) or "@" not in email or len(email) > 320 or not email.isprintable():
        raise ValueError("email must be an email address")
    return email.strip()


# --- Set password --------------------------------------------------------------------------


async def set_password_endpoint(request: Request) -> Response:
    """GET shows the form for a live link; POST sets the password and spends the link."""
    services = _services(request)
    if request.method == "GET":
        token = request.query_params.get("token", "")
        try:
            link = await open_password_link(services.store, token)
        except PasswordLinkRefused as refused:
            return _page("Link not valid", str(refused), 400, _PRIVATE_PAGE)
        return _set_password_form(token, link.user.email, "")
    try:
        fields = await _form(request)
    except OAuthError as error:
        return _page("Password not set", error.description, 400, _PRIVATE_PAGE)
    token, password = fields.get("token", ""), fields.get("password", "")
    try:
        link = await open_password_link(services.store, token)
        problem = password_problem(password, link.user.email)
        if problem is None and "confirm" in fields and fields["confirm"] != password:
            problem = "The two passwords differ"
        if problem:
            return _set_password_form(token, link.user.email, problem + ".", 400)
        link = await set_password(services.store, services.tokens.revocations, token, password)
    except PasswordLinkRefused as refused:
        audit_oauth(request, services, "password-set", 400, None)
        return _page("Link not valid", str(refused), 400, _PRIVATE_PAGE)
    audit_oauth(request, services, "password-set", 200, link.user.project_id, link.user.reference)
    return _page("Password set", f"Your password is set. Sign in with {link.user.email} and your new password.",
                 200, _PRIVATE_PAGE)


def _set_password_form(token: str, email: str, message: str, status: int = 200) -> Response:
    page = _template("set_password.html").substitute(
        action=html.escape(SET_PASSWORD_PATH),
        token=html.escape(token),
        email=html.escape(email),
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
    )
    return HTMLResponse(page, status_code=status, headers=_PRIVATE_PAGE)


def _too_many(limited: RateLimited, wants_json: bool = False) -> Response:
    headers = {"Retry-After": str(limited.retry_after)}
    if wants_json:
        return JSONResponse({"error": "too_many_requests", "retry_after": limited.retry_after}, status_code=429,
                            headers=headers)
    return _page("Too many requests", f"Try again in {limited.retry_after} seconds.", 429, headers)


def account_routes() -> list[Route]:
    return [
        Route(REGISTER_PATH, register_endpoint, methods=["GET", "POST"]),
        Route(FORGOT_PASSWORD_PATH, forgot_password_endpoint, methods=["GET", "POST"]),
        Route(SET_PASSWORD_PATH, set_password_endpoint, methods=["GET", "POST"]),
    ]

