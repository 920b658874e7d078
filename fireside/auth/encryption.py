"""Secrets kept encrypted at rest with the server's secret key (FIRESIDE_SECRET_KEY): token
signing keys and TOTP secrets.

Each purpose gets its own Fernet key (AES-128-CBC with HMAC-SHA256), derived from the secret key
and the purpose's name, so a value sealed for one purpose never opens as another.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretKeyMismatch(RuntimeError):
    """A value was encrypted with another secret key than this process has."""


def _fernet(secret_key: str, purpose: str) -> Fernet:
    # "fireside-signing-keys:" is the derivation signing keys have used from the start.
    digest = hashlib.sha256(f"fireside-{purpose}:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret_key: str, purpose: str, plaintext: bytes) -> bytes:
    return _fernet(secret_key, purpose).encrypt(plaintext)


def unseal(secret_key: str, purpose: str, sealed: bytes, what: str) -> bytes:
    """The plaintext; `SecretKeyMismatch` naming `what` when this secret key cannot open it."""
    try:
        return _fernet(secret_key, purpose).decrypt(sealed)
    except InvalidToken as error:
        raise SecretKeyMismatch(
            f"The {what} in the database was encrypted with a different secret key: set "
            "FIRESIDE_SECRET_KEY to the one this deployment started with (or the data dir's secret.key)"
        ) from error
