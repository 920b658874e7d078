"""How the client signs in: an `Authenticator` supplies the Authorization header and, when it
can, the request that gets a fresh access token.

A sign-in method is one small class: it says how to ask the token endpoint for a token, and
`OAuthGrant` caches the answer until shortly before it expires.
- `StaticToken`: a token you already have.
- `ClientCredentials` (RFC 6749 section 4.4): the client's secret in HTTP Basic.
- `PrivateKeyJwt`: client_credentials with a signed client assertion instead of the secret
  (RFC 7523 section 2.2, as SMART Backend Services use it).
- `RefreshToken` (RFC 6749 section 6): keeps a signed-in user signed in.
- `PasswordSignIn`: a user's email and password (and a TOTP code, for a user with two-factor
  sign-in on) through the authorization code flow with PKCE, then its refresh tokens. Its first
  token takes several requests (the sign-in form, then the token endpoint), so it is a
  `SignInFlow`: it runs them itself as one exchange.
"""

from __future__ import annotations

import base64
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote, urlencode

import orjson

from fireside.client.errors import FiresideError, outcome_of
from fireside.client.exchange import Exchange, HttpRequest, RetryPolicy, expect_success, send_with_retries
from fireside.client.sign_in_form import CodeSource, Pkce, sign_in_with_password

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    PrivateKey = RSAPrivateKey | EllipticCurvePrivateKey

# Renew this many seconds before the server's expiry, so a token never dies in flight.
EXPIRY_MARGIN_SECONDS = 30
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# SMART Backend Services: a client assertion expires at most five minutes after it is made;
# four leave room for the server's clock running ahead of ours.
ASSERTION_SECONDS = 240
# Fireside's own sign-ins ask for no clinical scope, so the membership's access applies unnarrowed.
USER_SCOPE = "openid"
OFFLINE_ACCESS = "offline_access"


class Authenticator(Protocol):
    def authorization(self) -> str | None:
        """The Authorization header value to send, or None when a token must be fetched first."""

    def token_request(self) -> HttpRequest | None:
        """The request that gets a new access token, or None when this sign-in cannot renew."""

    def accept_token(self, token_response: dict[str, Any]) -> None:
        """Take the token endpoint's JSON answer."""


@runtime_checkable
class SignInFlow(Protocol):
    """An Authenticator whose token takes more than one request (a user's sign-in form, then the
    token endpoint): the client runs `token_exchange` instead of sending `token_request()`."""

    def token_exchange(self, retry: RetryPolicy) -> Exchange[None]:
        """Get a new access token, however many requests that takes, and accept it."""


class StaticToken:
    """An access token obtained elsewhere; it cannot be renewed, so a 401 is final."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token

    def authorization(self) -> str | None:
        return f"Bearer {self.access_token}"

    def token_request(self) -> HttpRequest | None:
        return None

    def accept_token(self, token_response: dict[str, Any]) -> None:
        raise AssertionError("a static token makes no token requests")


class OAuthGrant(ABC):
    """A grant at an OAuth 2.0 token endpoint, with the issued token cached until it expires."""

    def __init__(self, token_url: str, access_token: str | None = None, expires_at: float | None = None) -> None:
        self.token_url = token_url
        self.access_token = access_token
        self.expires_at = expires_at
        self.token_response: dict[str, Any] = {}

    def authorization(self) -> str | None:
        if self.access_token is None:
            return None
        if self.expires_at is not None and self.expires_at - EXPIRY_MARGIN_SECONDS <= time.time():
            return None
        return f"Bearer {self.access_token}"

    def token_request(self) -> HttpRequest:
        return token_endpoint_request(self.token_url, *self.grant_parameters())

    @abstractmethod
    def grant_parameters(self) -> tuple[dict[str, str], dict[str, str]]:
        """The token request's form fields and extra headers (client authentication)."""

    def accept_token(self, token_response: dict[str, Any]) -> None:
        token = token_response.get("access_token")
        if not isinstance(token, str):
            raise FiresideError(None, outcome_of("The token endpoint answered without an access_token", "login"),
                                method="POST", url=self.token_url)
        self.access_token = token
        expires_in = token_response.get("expires_in")
        self.expires_at = time.time() + float(expires_in) if isinstance(expires_in, int | float) else None
        self.token_response = token_response


def token_endpoint_request(token_url: str, form: dict[str, str], headers: dict[str, str]) -> HttpRequest:
    return HttpRequest(
        "POST", token_url,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", **headers},
        content=urlencode(form).encode(),
    )


class ClientCredentials(OAuthGrant):
    """grant_type=client_credentials with the secret sent as HTTP Basic (client_secret_basic)."""

    def __init__(self, client_id: str, client_secret: str, token_url: str, *,
                 access_token: str | None = None, expires_at: float | None = None) -> None:
        super().__init__(token_url, access_token, expires_at)
        self.client_id = client_id
        self.client_secret = client_secret

    def grant_parameters(self) -> tuple[dict[str, str], dict[str, str]]:
        return {"grant_type": "client_credentials"}, basic_authorization(self.client_id, self.client_secret)


def basic_authorization(client_id: str, client_secret: str) -> dict[str, str]:
    """client_secret_basic: RFC 6749 section 2.3.1 form-urlencodes both parts before the Basic encoding."""
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}


class PrivateKeyJwt(OAuthGrant):
    """grant_type=client_credentials, the client proving itself with a JWT signed by its private key
    (RFC 7523 section 2.2, SMART Backend Services) whose public key the server has under `key_id`.

    `private_key` is PEM text or a loaded RSA or EC key. RSA signs with RS384 and EC with ES384 on
    P-384 (ES256 or ES512 on the other curves), unless `algorithm` says otherwise. `scope` is the
    system/ scopes to ask for (the server grants system/*.* when none are asked)."""

    def __init__(self, client_id: str, private_key: str | bytes | PrivateKey, key_id: str, token_url: str, *,
                 algorithm: str | None = None, scope: str | None = None, access_token: str | None = None,
                 expires_at: float | None = None) -> None:
        super().__init__(token_url, access_token, expires_at)
        self.client_id = client_id
        self.private_key = load_private_key(private_key)
        self.key_id = key_id
        self.algorithm = algorithm or signing_algorithm(self.private_key)
        self.scope = scope

    def grant_parameters(self) -> tuple[dict[str, str], dict[str, str]]:
        form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER_ASSERTION,
                "client_assertion": self.client_assertion()}
        if self.scope:
            form["scope"] = self.scope
        return form, {}

    def client_assertion(self) -> str:
        """A new assertion for each token request: the server accepts each `jti` once."""
        import jwt  # here, not at the top: clients that sign in otherwise skip importing it

        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_url, "iat": now,
                  "exp": now + ASSERTION_SECONDS, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers={"kid": self.key_id})


def load_private_key(key: str | bytes | PrivateKey) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    loaded = load_pem_private_key(key.encode() if isinstance(key, str) else key, None) \
        if isinstance(key, str | bytes) else key
    if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("private_key_jwt needs an RSA or EC private key")
    return loaded


def signing_algorithm(key: PrivateKey) -> str:
    """SMART asks servers for RS384 and ES384; an EC key's curve fixes its algorithm (RFC 7518 3.4)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return "RS384"
    by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
    if key.curve.name not in by_curve:
        raise ValueError(f"No JWS algorithm signs with the curve {key.curve.name}; use P-384")
    return by_curve[key.curve.name]


class RefreshToken(OAuthGrant):
    """grant_type=refresh_token (RFC 6749 section 6): a user's sign-in, kept alive without their password.

    Fireside rotates refresh tokens: each answer carries a new one and spends the old, and a spent
    one presented again revokes the whole sign-in. So the newest is always the one kept (read
    `refresh_token` after the client renews, to store it). A public client sends its `client_id`;
    a confidential one its secret too."""

    def __init__(self, client_id: str, refresh_token: str | None, token_url: str, *,
                 client_secret: str | None = None, access_token: str | None = None,
                 expires_at: float | None = None) -> None:
        super().__init__(token_url, access_token, expires_at)
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token

    def grant_parameters(self) -> tuple[dict[str, str], dict[str, str]]:
        if self.refresh_token is None:
            raise FiresideError(None, outcome_of("The sign-in has no refresh token to renew it with: sign in again",
                                                 "login"), method="POST", url=self.token_url)
        return self.client_authentication({"grant_type": "refresh_token", "refresh_token": self.refresh_token})

    def client_authentication(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        if self.client_secret:
            return form, basic_authorization(self.client_id, self.client_secret)
        return {**form, "client_id": self.client_id}, {}

    def accept_token(self, token_response: dict[str, Any]) -> None:
        super().accept_token(token_response)
        refresh_token = token_response.get("refresh_token")
        if isinstance(refresh_token, str):
            self.refresh_token = refresh_token


class PasswordSignIn(RefreshToken):
    """A user's email and password, through the authorization code flow with PKCE S256.

    The client asks /oauth2/authorize for the sign-in form, posts the email and password, and
    redeems the code at the token endpoint (sign_in_form.py). With `offline_access` (the default)
    it then renews with the refresh token, rotating it; when the server refuses that (the
    sign-in's 30 days are over, or it was revoked) it signs in with the password again.

    `client_id` is a ClientApplication of the user's project with a registered redirectUri; the
    redirect is never followed, so any URI will do, and `redirect_uri` may be left out when the
    client has just one. A confidential client also gives its `client_secret`.

    A user with two-factor sign-in on also needs a code after the password: from `totp_secret`
    (the base32 secret of their enrollment; codes are computed with pyotp, for scripts) or from
    `totp_code` (a callable asked each time a code is needed, for a person at a prompt; or one
    code as a string). Only a password sign-in asks: renewing with the refresh token never does."""

    def __init__(self, client_id: str, email: str, password: str, token_url: str, *,
                 authorize_url: str | None = None, client_secret: str | None = None, scope: str = USER_SCOPE,
                 offline_access: bool = True, redirect_uri: str | None = None, refresh_token: str | None = None,
                 access_token: str | None = None, expires_at: float | None = None, totp_secret: str | None = None,
                 totp_code: str | Callable[[], str] | None = None) -> None:
        super().__init__(client_id, refresh_token, token_url, client_secret=client_secret,
                         access_token=access_token, expires_at=expires_at)
        self.email = email
        self.password = password
        self.second_factor = second_factor_source(totp_secret, totp_code)
        # The authorization endpoint beside the token endpoint, as Fireside serves them.
        self.authorize_url = authorize_url or token_url.rsplit("/", 1)[0] + "/authorize"
        scopes = scope.split()
        self.scope = " ".join([*scopes, OFFLINE_ACCESS] if offline_access and OFFLINE_ACCESS not in scopes else scopes)
        self.redirect_uri = redirect_uri

    def token_exchange(self, retry: RetryPolicy) -> Exchange[None]:
        if self.refresh_token is not None:
            request = self.token_request()
            response = yield from send_with_retries(request, retry)
            if response.status != 400:  # RFC 6749 5.2: a refused refresh token is 400 invalid_grant
                self.accept_token(expect_success(request, response).json())
                return None
            self.refresh_token = None
        pkce = Pkce.new()
        code = yield from sign_in_with_password(self.authorize_url, self.authorization_params(pkce), self.email,
                                                self.password, retry, self.second_factor)
        request = self.code_request(code, pkce)
        response = yield from send_with_retries(request, retry)
        self.accept_token(expect_success(request, response).json())
        return None

    def authorization_params(self, pkce: Pkce) -> dict[str, str]:
        params = {"response_type": "code", "client_id": self.client_id, "scope": self.scope,
                  "state": uuid.uuid4().hex, "code_challenge": pkce.challenge, "code_challenge_method": "S256"}
        if self.redirect_uri:
            params["redirect_uri"] = self.redirect_uri
        return params

    def code_request(self, code: str, pkce: Pkce) -> HttpRequest:
        """RFC 6749 4.1.3; with PKCE the redirect_uri may be left out (as in OAuth 2.1), never changed."""
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": pkce.verifier}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        return token_endpoint_request(self.token_url, *self.client_authentication(form))


def second_factor_source(totp_secret: str | None, totp_code: str | Callable[[], str] | None) -> CodeSource | None:
    """Where PasswordSignIn gets a code when the server asks for one (None: it has no way to)."""
    if totp_secret is not None and totp_code is not None:
        raise ValueError("give totp_secret or totp_code, not both")
    if totp_secret is not None:
        import pyotp  # here, not at the top: only two-factor sign-ins need it

        totp = pyotp.TOTP(totp_secret)  # RFC 6238 as Fireside uses it: 6 digits, 30 s, SHA-1
        try:
            totp.byte_secret()  # a mistyped secret fails here, not in the middle of a sign-in
        except ValueError as error:
            raise ValueError("totp_secret is not a base32 secret (the `secret` of the enrollment)") from error
        return lambda: str(totp.now())
    if isinstance(totp_code, str):
        code = totp_code
        return lambda: code
    return totp_code


def authenticator_for(base_url: str, *, client_id: str | None = None, client_secret: str | None = None,
                      access_token: str | None = None, private_key: str | bytes | PrivateKey | None = None,
                      key_id: str | None = None, email: str | None = None, password: str | None = None,
                      totp_secret: str | None = None, totp_code: str | Callable[[], str] | None = None,
                      scope: str | None = None) -> Authenticator | None:
    """The sign-in the client constructors' keyword arguments describe (None: anonymous)."""
    token_url = f"{base_url}/oauth2/token"
    if email is not None or password is not None:
        if not (email and password and client_id):
            raise ValueError("email and password go together, with the client_id of the application to sign in to")
        return PasswordSignIn(client_id, email, password, token_url, client_secret=client_secret,
                              scope=scope or USER_SCOPE, access_token=access_token, totp_secret=totp_secret,
                              totp_code=totp_code)
    if totp_secret is not None or totp_code is not None:
        raise ValueError("totp_secret and totp_code go with email and password: a user's two-factor sign-in")
    if private_key is not None or key_id is not None:
        if not (private_key and key_id and client_id) or client_secret:
            raise ValueError("private_key and key_id go together, with a client_id and no client_secret")
        return PrivateKeyJwt(client_id, private_key, key_id, token_url, scope=scope, access_token=access_token)
    if client_id is not None or client_secret is not None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret go together")
        # A given access_token is used until it expires or is refused, then renewed.
        return ClientCredentials(client_id, client_secret, token_url, access_token=access_token)
    return StaticToken(access_token) if access_token else None


def decode_token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, read without checking the signature.

    For display only (who am I, when does this expire): the server is what verifies tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT: expected three dot-separated parts")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = orjson.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(claims, dict):
        raise ValueError("the JWT payload is not a JSON object")
    return claims
