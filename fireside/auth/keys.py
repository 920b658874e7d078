"""Token signing keys: ES256 key pairs kept in `signing_key`, private halves encrypted at rest."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from psycopg.types.json import Jsonb

ALGORITHM = "ES256"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_jwk: dict[str, Any]


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(("fireside-signing-keys:" + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    thumbprint_input = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    # RFC 7638 thumbprint as the key id, so the kid names exactly this key.
    jwk["kid"] = base64.urlsafe_b64encode(hashlib.sha256(thumbprint_input.encode()).digest()).decode().rstrip("=")
    jwk["alg"] = ALGORITHM
    jwk["use"] = "sig"
    return jwk


class SecretKeyMismatch(RuntimeError):
    """The signing keys were encrypted with another secret key than this process has."""


def _load_private_key(encrypted: bytes, secret_key: str) -> ec.EllipticCurvePrivateKey:
    try:
        pem = _fernet(secret_key).decrypt(encrypted)
    except InvalidToken as error:
        raise SecretKeyMismatch(
            "The token signing key in the database was encrypted with a different secret key: set "
            "FIRESIDE_SECRET_KEY to the one this deployment started with (or the data dir's secret.key)"
        ) from error
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("signing key is not an EC key")
    return key


def active_signing_key(conn: psycopg.Connection[Any], secret_key: str) -> SigningKey:
    """The newest unretired key, created on first use. Runs at start-up, before serving."""
    conn.execute("SELECT pg_advisory_xact_lock(7351244020)")
    row = conn.execute(
        "SELECT kid, private_key_encrypted, public_jwk FROM signing_key"
        " WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    if row:
        kid, encrypted, jwk = row
        return SigningKey(kid, _load_private_key(bytes(encrypted), secret_key), jwk)
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = _public_jwk(private_key)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    conn.execute(
        "INSERT INTO signing_key (kid, algorithm, private_key_encrypted, public_jwk) VALUES (%s, %s, %s, %s)",
        [jwk["kid"], ALGORITHM, _fernet(secret_key).encrypt(pem), Jsonb(jwk)],
    )
    return SigningKey(jwk["kid"], private_key, jwk)


def public_keys(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every key that may still have signed a live token (retired keys stay until tokens expire)."""
    rows = conn.execute("SELECT public_jwk FROM signing_key ORDER BY created_at DESC").fetchall()
    return [row[0] for row in rows]
