"""Secret hashing: argon2id for passwords and client secrets (never stored in clear)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Client secrets are 256 random bits, so a slow hash buys nothing against guessing; a lighter
# argon2 setting keeps the token endpoint fast. Passwords get argon2's default cost.
_password_hasher = PasswordHasher()
_secret_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


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
