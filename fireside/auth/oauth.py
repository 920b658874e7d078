"""What the OAuth 2.0 endpoints share: their error, and how tokens are stored (hashed).

Errors follow RFC 6749 section 5.2 (`{"error": ...}`), not FHIR's OperationOutcome.
"""

from __future__ import annotations

import hashlib
import secrets


class OAuthError(Exception):
    """An RFC 6749 error: `error` is the registered code, `description` says what was wrong."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401)


def new_opaque_token() -> str:
    """256 random bits: codes and refresh tokens. So much entropy needs no slow hash."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """How codes and refresh tokens are stored: a leaked table holds nothing usable."""
    return hashlib.sha256(token.encode()).hexdigest()
