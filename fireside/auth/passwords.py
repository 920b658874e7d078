"""Secret hashing: argon2id for passwords and client secrets (never stored in clear)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Client secrets are 256 random bits, so a slow hash buys nothing against guessing; a lighter
# argon2 setting keeps the token endpoint fast. Passwords get argon2's default cost.
_password_hasher = PasswordHasher()
_secret_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


# NIST SP 800-63B 5.1.1.2: at least 8 characters, and allow long passphrases; the upper bound
# only keeps one argon2 call from hashing megabytes.
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


def password_problem(password: str, email: str) -> str | None:
    """Why `password` may not be chosen by the user with `email`, or None when it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must have at most {MAX_PASSWORD_LENGTH} characters"
    if password.strip().lower() == email.strip().lower():
        return "The password must not be the email address"
    return None


def unusable_password_hash() -> str:
    """The hash of a random secret nobody knows: an account that has no password yet (an invite
    waiting for its link) still costs a sign-in attempt one real argon2 check, like any other."""
    return hash_password(secrets.token_urlsafe(32))


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    return _secret_hasher.hash(secret)


def verify_client_secret(secret_hash: str, secret: str) -> bool:
    try:
        return _secret_hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
