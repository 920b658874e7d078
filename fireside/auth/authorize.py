"""The authorization endpoint's rules (RFC 6749 section 4.1.1, OpenID Connect Core 3.1.2).

Until the client and its redirect_uri are known good, an error is shown to the user and never
redirected (section 4.1.2.1: redirecting to an unchecked URI makes the server an open redirector).
After that, errors go back to the client as `error=` on its redirect_uri.

The login form carries the request in a signed form token, bound to a random cookie (double
submit): a page on another site can neither forge the request nor post a form for the user
(login CSRF), since its own cookie never matches and SameSite keeps ours off its requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, NoReturn
from uuid import UUID

import jwt

from fireside.auth.clients import RegisteredClient, find_client
from fireside.auth.form_binding import OtherBrowser, read_bound_token, sign_bound_token
from fireside.auth.launch import (
    EHR_LAUNCH_SCOPE,
    LaunchContext,
    LaunchRefused,
    check_launch,
    is_smart_launch,
    needs_patient_choice,
    use_launch,
)
from fireside.auth.lockout import LockoutPolicy, clear_failures, is_locked, record_failure
from fireside.auth.logins import LoginRequest, start_login
from fireside.auth.memberships import Membership, UserAccount, find_user_by_password, membership_for_sign_in
from fireside.auth.pkce import CODE_CHALLENGE_METHODS, is_valid_challenge
from fireside.auth.tokens import TokenService
from fireside.auth.totp import is_enabled as totp_enabled
from fireside.store import ResourceStore

FORM_TOKEN_SECONDS = 600
FORM_AUDIENCE = "fireside:authorize-form"
DEFAULT_SCOPE = "openid"


class AuthorizationPageError(Exception):
    """An error shown on the page: the client or redirect_uri cannot be trusted."""


class AuthorizationRedirectError(Exception):
    """An error sent back to the client's (validated) redirect_uri."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.description = description


class SignInFailed(Exception):
    """Wrong email or password, or no membership in the client's project: show the form again."""

    def __init__(self, message: str, locked: bool = False) -> None:
        super().__init__(message)
        # The account is locked out (fireside.auth.lockout): audited as a major failure.
        self.locked = locked


@dataclass(frozen=True)
class SignedIn:
    # None: a standalone launch whose user picks the patient next (fireside/auth/patient_picker.py).
    code: str | None
    user_reference: str
    project_id: UUID


@dataclass(frozen=True)
class SecondFactorRequired:
    """The password was right; the user has TOTP on, so the code comes next."""

    user_id: str
    email: str  # as typed: the lock-out counts per email typed


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str | None
    nonce: str | None
    client_name: str = ""
    # SMART EHR launch: the handle the EHR gave the app (fireside/auth/launch.py).
    launch: str | None = None


async def check_authorization_request(
    store: ResourceStore, params: Mapping[str, str], fhir_base_url: str | None = None
) -> AuthorizationRequest:
    """The request, once client, redirect_uri, response_type, PKCE and SMART launch parameters
    all check out."""
    client_id = params.get("client_id")
    if not client_id:
        raise AuthorizationPageError("The request has no client_id.")
    client = await find_client(store, client_id)
    if client is None:
        raise AuthorizationPageError("The client_id is not a registered client application.")
    redirect_uri = _registered_redirect_uri(client, params.get("redirect_uri"))
    state = params.get("state")

    def fail(error: str, description: str) -> AuthorizationRedirectError:
        return AuthorizationRedirectError(redirect_uri, state, error, description)

    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "response_type must be code")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None and client.requires_pkce:
        raise fail("invalid_request", "code_challenge is required (PKCE with S256)")
    if challenge is not None and method not in CODE_CHALLENGE_METHODS:
        raise fail("invalid_request", "code_challenge_method must be S256")
    if challenge is not None and not is_valid_challenge(challenge):
        raise fail("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier")
    if challenge is None and method is not None:
        raise fail("invalid_request", "code_challenge_method without code_challenge")
    scope = params.get("scope") or DEFAULT_SCOPE
    await _check_launch_parameters(store, client, scope, params, fhir_base_url, fail)
    return AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        code_challenge=challenge,
        nonce=params.get("nonce"),
        client_name=client.name,
        launch=params.get("launch"),
    )


async def _check_launch_parameters(
    store: ResourceStore, client: RegisteredClient, scope: str, params: Mapping[str, str],
    fhir_base_url: str | None, fail: Callable[[str, str], AuthorizationRedirectError],
) -> None:
    """SMART App Launch, app-launch.html#obtain-authorization-code: `aud` names the FHIR server
    the token is for (required with launch context, and must be this server's base: a token
    for another server is not ours to give), and `launch` comes with the scope `launch`."""
    launch = params.get("launch")
    aud = params.get("aud")
    if aud is None and is_smart_launch(scope, launch):
        raise fail("invalid_request", "aud is required for a SMART launch: the FHIR base URL")
    if aud is not None and fhir_base_url is not None and aud.rstrip("/") != fhir_base_url.rstrip("/"):
        raise fail("invalid_request", f"aud must be this server's FHIR base URL, {fhir_base_url}")
    scopes = scope.split()
    if launch is not None and EHR_LAUNCH_SCOPE not in scopes:
        raise fail("invalid_scope", "a launch parameter needs the scope launch")
    if launch is None and EHR_LAUNCH_SCOPE in scopes:
        raise fail("invalid_request", "the scope launch needs the launch parameter the EHR gave the app")
    if launch is not None:
        try:
            await check_launch(store, client.project_id, launch, client.id)
        except LaunchRefused as refused:
            raise fail("invalid_request", str(refused)) from refused


def _registered_redirect_uri(client: RegisteredClient, requested: str | None) -> str:
    # RFC 6749 3.1.2.3: compared as strings, exactly; omitted only when one is registered.
    if requested is None and len(client.redirect_uris) == 1:
        return client.redirect_uris[0]
    if requested is None or requested not in client.redirect_uris:
        raise AuthorizationPageError("The redirect_uri is not registered for this client application.")
    return requested


def sign_form_token(tokens: TokenService, request: AuthorizationRequest, binding: str) -> str:
    return sign_bound_token(tokens, FORM_AUDIENCE, FORM_TOKEN_SECONDS, binding, {"request": asdict(request)})


def read_form_token(tokens: TokenService, form_token: str, binding: str | None) -> AuthorizationRequest:
    try:
        claims = read_bound_token(tokens, form_token, FORM_AUDIENCE, binding, ("request",))
    except jwt.PyJWTError as error:
        raise AuthorizationPageError("The sign-in form expired or was altered; start again from the app.") from error
    except OtherBrowser as error:
        message = "The sign-in form was not opened in this browser; start again from the app."
        raise AuthorizationPageError(message) from error
    request: dict[str, Any] = claims["request"]
    return AuthorizationRequest(**request)


async def sign_in(store: ResourceStore, request: AuthorizationRequest, email: str, password: str,
                  lockout: LockoutPolicy | None = None) -> SignedIn | SecondFactorRequired:
    """Check the lock-out, password and membership; return the authorization code for the redirect,
    or, for a user with TOTP on, that the code is asked next (fireside/auth/second_factor.py)."""
    client = await current_client(store, request)
    if lockout is not None and await is_locked(store, email):
        raise SignInFailed(lockout.message, locked=True)
    user = await find_user_by_password(store, email, password)
    if user is None:
        await count_failure(store, email, lockout, "Wrong email or password.")
    if await totp_enabled(store, user.id):
        # Failures are forgiven only once the code is right too: otherwise someone who has the
        # password could guess codes forever, clearing the count with the password in between.
        return SecondFactorRequired(user.id, email)
    if lockout is not None:
        await clear_failures(store, email)
    return await finish_sign_in(store, client, request, user)


async def current_client(store: ResourceStore, request: AuthorizationRequest) -> RegisteredClient:
    client = await find_client(store, request.client_id)
    if client is None or request.redirect_uri not in client.redirect_uris:
        raise AuthorizationPageError("The client application changed; start again from the app.")
    return client


async def count_failure(store: ResourceStore, email: str, lockout: LockoutPolicy | None, message: str) -> NoReturn:
    """A wrong password or code: counted toward the lock-out of `email`, then shown."""
    if lockout is not None and await record_failure(store, email, lockout):
        raise SignInFailed(lockout.message, locked=True)
    raise SignInFailed(message)


async def finish_sign_in(
    store: ResourceStore, client: RegisteredClient, request: AuthorizationRequest, user: UserAccount
) -> SignedIn:
    """The user is who they say: check the membership and launch, and record the Login."""
    membership = await membership_for_sign_in(store, client.project_id, user)
    if membership is None:
        raise SignInFailed("This account has no access to the application's project.")
    context = LaunchContext(None, None)
    if request.launch is not None:
        try:
            context = await use_launch(store, client.project_id, request.launch, client.id)
        except LaunchRefused as refused:
            raise AuthorizationRedirectError(request.redirect_uri, request.state, "invalid_request",
                                             str(refused)) from refused
    elif needs_patient_choice(request.scope, request.launch):
        own = own_patient(membership)
        if own is None:
            return SignedIn(None, user.reference, client.project_id)
        context = LaunchContext(own, None)
    login_request = LoginRequest(request.client_id, request.redirect_uri, request.scope, request.code_challenge,
                                 request.nonce, context.patient, context.encounter)
    code = await start_login(store, client, user, membership, login_request)
    return SignedIn(code, user.reference, client.project_id)


def own_patient(membership: Membership) -> str | None:
    """A patient signing in is their own patient context: no picker (app-launch.html#launch-app-standalone-launch)."""
    profile = membership.profile or ""
    return profile.removeprefix("Patient/") if profile.startswith("Patient/") else None
