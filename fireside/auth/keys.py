"""Token signing keys: ES256 key pairs kept in `signing_key`, private halves encrypted at rest.

A key is **active** while it is the newest unretired key: it signs every token. A newer key
retires it (`retired_at`): it signs nothing more, but stays published at /oauth2/jwks and keeps
verifying what it signed. Once `KeyPolicy.retention_seconds` have passed since, every token it
signed has expired, and the key is **removed**. A new key comes from `fireside keys rotate`, or by
itself once the active key is `KeyPolicy.rotation_days` old.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from psycopg.types.json import Jsonb

from fireside.auth.encryption import seal, unseal

ALGORITHM = "ES256"
_PURPOSE = "signing-keys"
# Any fixed number, the same in every process: processes that start or re-check together make
# one key between them, not one each.
_KEY_LOCK_ID = 7351244020


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_jwk: dict[str, Any]


@dataclass(frozen=True)
class KeyPolicy:
    # The active key is replaced once it is this old; 0: only by `fireside keys rotate`.
    rotation_days: int
    # How long a retired key keeps verifying: the longest any token it signed may still be used.
    retention_seconds: int


@dataclass(frozen=True)
class KeySet:
    """The keys as one read of `signing_key` found them."""

    active: SigningKey
    # Newest first: the active key, then the retired ones still verifying.
    public_jwks: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class _KeyRow:
    kid: str
    private_key_encrypted: bytes
    public_jwk: dict[str, Any]
    retired: bool
    expired: bool  # retired longer than the retention: nothing it signed is valid any more
    due: bool  # unretired and older than the rotation age


_SELECT_KEYS = """
SELECT kid, private_key_encrypted, public_jwk, retired_at IS NOT NULL,
       coalesce(retired_at <= now() - %(retention)s, false),
       coalesce(retired_at IS NULL AND created_at <= now() - %(rotation)s::interval, false)
FROM signing_key ORDER BY created_at DESC
"""


def _public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    thumbprint_input = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    # RFC 7638 thumbprint as the key id, so the kid names exactly this key.
    jwk["kid"] = base64.urlsafe_b64encode(hashlib.sha256(thumbprint_input.encode()).digest()).decode().rstrip("=")
    jwk["alg"] = ALGORITHM
    jwk["use"] = "sig"
    return jwk


def _load_private_key(encrypted: bytes, secret_key: str) -> ec.EllipticCurvePrivateKey:
    pem = unseal(secret_key, _PURPOSE, encrypted, "token signing key")
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("signing key is not an EC key")
    return key


def _rows(conn: psycopg.Connection[Any], policy: KeyPolicy) -> list[_KeyRow]:
    rotation = timedelta(days=policy.rotation_days) if policy.rotation_days > 0 else None
    found = conn.execute(_SELECT_KEYS, {"retention": timedelta(seconds=policy.retention_seconds),
                                        "rotation": rotation}).fetchall()
    return [_KeyRow(row[0], bytes(row[1]), row[2], row[3], row[4], row[5]) for row in found]


def _needs_change(rows: list[_KeyRow]) -> bool:
    live = [row for row in rows if not row.retired]
    return not live or live[0].due or any(row.expired for row in rows)


def _add_key(conn: psycopg.Connection[Any], secret_key: str) -> None:
    """A new active key; every other key retires now."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = _public_jwk(private_key)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    conn.execute(
        "INSERT INTO signing_key (kid, algorithm, private_key_encrypted, public_jwk) VALUES (%s, %s, %s, %s)",
        [jwk["kid"], ALGORITHM, seal(secret_key, _PURPOSE, pem), Jsonb(jwk)],
    )
    conn.execute("UPDATE signing_key SET retired_at = now() WHERE retired_at IS NULL AND kid <> %s", [jwk["kid"]])


def load_signing_keys(
    conn: psycopg.Connection[Any], secret_key: str, policy: KeyPolicy, rotate: bool = False
) -> KeySet:
    """The keys to sign and verify with. Makes the first key, replaces one past its rotation age
    (or any, with `rotate`) and removes expired ones; `conn` must be in autocommit mode."""
    rows = _rows(conn, policy)
    if rotate or _needs_change(rows):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_KEY_LOCK_ID])
            rows = _rows(conn, policy)  # another process may have done it while we waited
            live = [row for row in rows if not row.retired]
            if live:
                # A key sealed with another secret than the other processes have would stop them all.
                _load_private_key(live[0].private_key_encrypted, secret_key)
            if rotate or not live or live[0].due:
                _add_key(conn, secret_key)
            conn.execute("DELETE FROM signing_key WHERE retired_at <= now() - %s",
                         [timedelta(seconds=policy.retention_seconds)])
        rows = _rows(conn, policy)
    active = next(row for row in rows if not row.retired)
    signing_key = SigningKey(active.kid, _load_private_key(active.private_key_encrypted, secret_key),
                             active.public_jwk)
    return KeySet(signing_key, tuple(row.public_jwk for row in rows if not row.expired))
