"""Token signing keys: ES256 key pairs kept in `signing_key`, private halves encrypted at rest.

A key is **active** while it is the newest unretired key: it signs every token. A newer key
retires it (`retired_at`): it signs nothing more, but stays published at /oauth2/jwks and keeps
verifying what it signed. Once `KeyPolicy.retention_seconds` have passed since, every token it
signed has expired, and the key is **removed**. A new key comes from `fireside keys rotate`, or by
itself once the active key is `KeyPolicy.rotation_days` old.

Each key is also a `JsonWebKey` resource in the admin project (`signing_key.resource_id`), as
ClientApplication is beside `client_secret`: its public members, `active` and `retired`, for
super admins to read. The resource is written in the transaction that changes the row, through
the store (versioned, indexed), and is removed with it. It is only the public record: signing and
verification read `signing_key` alone, so a super admin's write to a JsonWebKey changes no key
(and is overwritten at the next change of the keys).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from psycopg.types.json import Jsonb

from fireside.auth.encryption import seal, unseal
from fireside.store import (
    AccessContext,
    ResourceStore,
    StoredResource,
    StoreTransaction,
    format_instant,
    new_resource_id,
)

ALGORITHM = "ES256"
_PURPOSE = "signing-keys"
# Any fixed number, the same in every process: processes that start or re-check together make
# one key between them, not one each.
_KEY_LOCK_ID = 7351244020
JSON_WEB_KEY = "JsonWebKey"
# The JsonWebKey elements a public JWK fills (RFC 7517, 7518 section 6.2.1).
_PUBLIC_MEMBERS = ("kid", "kty", "alg", "use", "crv", "x", "y")


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
    resource_id: str | None  # its JsonWebKey; None until published
    retired_at: datetime | None
    expired: bool  # retired longer than the retention: nothing it signed is valid any more
    due: bool  # unretired and older than the rotation age

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


_SELECT_KEYS = """
SELECT kid, private_key_encrypted, public_jwk, resource_id, retired_at,
       coalesce(retired_at <= now() - %(retention)s, false) AS expired,
       coalesce(retired_at IS NULL AND created_at <= now() - %(rotation)s::interval, false) AS due
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


async def _rows(conn: psycopg.AsyncConnection[Any], policy: KeyPolicy) -> list[_KeyRow]:
    rotation = timedelta(days=policy.rotation_days) if policy.rotation_days > 0 else None
    cursor = await conn.execute(_SELECT_KEYS, {"retention": timedelta(seconds=policy.retention_seconds),
                                               "rotation": rotation})
    return [
        _KeyRow(row["kid"], bytes(row["private_key_encrypted"]), row["public_jwk"], row["resource_id"],
                row["retired_at"], row["expired"], row["due"])
        for row in await cursor.fetchall()
    ]


def _needs_change(rows: list[_KeyRow]) -> bool:
    live = [row for row in rows if not row.retired]
    return (not live or live[0].due or any(row.expired for row in rows)
            or any(row.resource_id is None for row in rows))


async def _add_key(unit: StoreTransaction, secret_key: str) -> None:
    """A new active key; every other key retires now."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = _public_jwk(private_key)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    await unit.conn.execute(
        "INSERT INTO signing_key (kid, algorithm, private_key_encrypted, public_jwk) VALUES (%s, %s, %s, %s)",
        [jwk["kid"], ALGORITHM, seal(secret_key, _PURPOSE, pem), Jsonb(jwk)],
    )
    await unit.conn.execute("UPDATE signing_key SET retired_at = now() WHERE retired_at IS NULL AND kid <> %s",
                            [jwk["kid"]])


async def _remove_expired(unit: StoreTransaction, policy: KeyPolicy) -> None:
    cursor = await unit.conn.execute(
        "DELETE FROM signing_key WHERE retired_at <= now() - %s RETURNING resource_id",
        [timedelta(seconds=policy.retention_seconds)],
    )
    removed = [(JSON_WEB_KEY, row["resource_id"]) for row in await cursor.fetchall() if row["resource_id"]]
    for stored in (await unit.current(removed)).values():
        if not stored.deleted:
            unit.stage_delete(stored)


def _record(row: _KeyRow) -> dict[str, Any]:
    """The key's JsonWebKey resource: the public members by name, so that nothing else
    `public_jwk` might hold (least of all `d`) can reach resource content."""
    record: dict[str, Any] = {"resourceType": JSON_WEB_KEY}
    record.update({member: row.public_jwk[member] for member in _PUBLIC_MEMBERS if member in row.public_jwk})
    record["active"] = not row.retired
    if row.retired_at is not None:
        record["retired"] = format_instant(row.retired_at)
    return record


async def _publish(unit: StoreTransaction, rows: list[_KeyRow]) -> None:
    """Make each key's JsonWebKey resource say what its row says, publishing the keys that have
    none yet (made before migration 0012, or by a process that predates it). A record a super
    admin changed through the API is put back too: signing reads only `signing_key`."""
    resource_ids: dict[str, str] = {}
    for row in rows:
        if row.resource_id is None:
            resource_ids[row.kid] = new_resource_id()
            await unit.conn.execute("UPDATE signing_key SET resource_id = %s WHERE kid = %s",
                                    [resource_ids[row.kid], row.kid])
        else:
            resource_ids[row.kid] = row.resource_id
    stored = await unit.current([(JSON_WEB_KEY, resource_id) for resource_id in resource_ids.values()])
    for row in rows:
        record = _record(row)
        previous = stored.get((JSON_WEB_KEY, resource_ids[row.kid]))
        if previous is None or previous.deleted or _content(previous) != record:
            unit.stage_put(record, resource_ids[row.kid], previous)


def _content(stored: StoredResource) -> dict[str, Any]:
    return {name: value for name, value in stored.resource().items() if name not in ("id", "meta")}


async def load_signing_keys(
    store: ResourceStore, ctx: AccessContext, secret_key: str, policy: KeyPolicy, rotate: bool = False
) -> KeySet:
    """The keys to sign and verify with. Makes the first key, replaces one past its rotation age
    (or any, with `rotate`) and removes expired ones, writing their JsonWebKey resources as `ctx`
    (the admin project's system context) in the same transaction."""
    async with store.pool.connection() as conn:
        rows = await _rows(conn, policy)
    if rotate or _needs_change(rows):
        async with store.transaction(ctx) as unit:
            await unit.conn.execute("SELECT pg_advisory_xact_lock(%s)", [_KEY_LOCK_ID])
            rows = await _rows(unit.conn, policy)  # another process may have done it while we waited
            live = [row for row in rows if not row.retired]
            if live:
                # A key sealed with another secret than the other processes have would stop them all.
                _load_private_key(live[0].private_key_encrypted, secret_key)
            if rotate or not live or live[0].due:
                await _add_key(unit, secret_key)
            await _remove_expired(unit, policy)
            # What this transaction commits: read under the lock, after its own changes.
            rows = await _rows(unit.conn, policy)
            await _publish(unit, rows)
    active = next(row for row in rows if not row.retired)
    signing_key = SigningKey(active.kid, _load_private_key(active.private_key_encrypted, secret_key),
                             active.public_jwk)
    return KeySet(signing_key, tuple(row.public_jwk for row in rows if not row.expired))
