"""Signed tokens that a browser page carries, bound to a random cookie (double submit): the
sign-in form (fireside/auth/authorize.py), the patient picker, the second factor's code form and
the registration form.

A page on another site can neither forge such a token nor post one for the user (login CSRF):
its own cookie never matches, and SameSite keeps ours off its requests. The token holds only the
SHA-256 of the cookie's value.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from fireside.auth.tokens import TokenService


class OtherBrowser(Exception):
    """The token is good, but the browser's cookie is not the one it was issued with."""


def new_form_binding() -> str:
    """The random value kept in the browser's cookie for one form."""
    return secrets.token_urlsafe(32)


def sign_bound_token(tokens: TokenService, audience: str, lifetime: int, binding: str,
                     claims: dict[str, Any]) -> str:
    now = int(time.time())
    return tokens.sign({"iss": tokens.issuer, "aud": audience, "iat": now, "exp": now + lifetime,
                        "binding": _binding_hash(binding), **claims})


def read_bound_token(tokens: TokenService, token: str, audience: str, binding: str | None,
                     required: tuple[str, ...]) -> dict[str, Any]:
    """The claims of `token`; `jwt.PyJWTError` when it expired or was altered, `OtherBrowser`
    when `binding` (the cookie's value) is not the one it was signed with."""
    claims = tokens.decode(token, audience, required=("binding", *required))
    if binding is None or not hmac.compare_digest(claims["binding"], _binding_hash(binding)):
        raise OtherBrowser
    return claims


def _binding_hash(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()
