"""Proof Key for Code Exchange (RFC 7636): the client proves it started the flow it finishes.

Only S256 is accepted: `plain` would show the verifier to anyone who sees the authorization
request (RFC 9700 section 2.1.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

CODE_CHALLENGE_METHODS = ("S256",)
# RFC 7636 section 4.1: 43 to 128 unreserved characters.
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
# The base64url of a SHA-256 digest, without padding.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def is_valid_challenge(challenge: str) -> bool:
    return bool(_S256_CHALLENGE.match(challenge))


def verifier_matches(verifier: str, challenge: str) -> bool:
    if not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)
