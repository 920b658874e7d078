"""The signing keys one API process uses, kept in step with `signing_key` in PostgreSQL.

API processes share nothing but the database, so each re-reads the keys every
`recheck_seconds` (one small query on the store's pool; the read may also rotate or remove keys
and write their JsonWebKey resources, fireside/auth/keys.py). A key made by another process or by
`fireside keys rotate` is therefore signing here within that time, and a token carrying a kid
this process does not know makes it re-read at once (at most once a second, so made-up kids
cannot turn into a query each).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from jwt.algorithms import ECAlgorithm

from fireside.auth.encryption import SecretKeyMismatch
from fireside.auth.keys import KeyPolicy, KeySet, SigningKey, load_signing_keys
from fireside.store import AccessContext, ResourceStore

RECHECK_SECONDS = 10.0
_UNKNOWN_KID_RECHECK_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Loaded:
    keys: KeySet
    verification: dict[str, Any]  # kid -> public key object


class SigningKeyRing:
    def __init__(self, secret_key: str, policy: KeyPolicy, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.secret_key = secret_key
        self.policy = policy
        self.recheck_seconds = recheck_seconds
        self._reload_lock = asyncio.Lock()
        self._last_unknown_kid_reload = float("-inf")
        self._loaded: _Loaded | None = None
        self._source: tuple[ResourceStore, AccessContext] | None = None

    async def open(self, store: ResourceStore, ctx: AccessContext, rotate: bool = False) -> None:
        """Read the keys from `store`, now and at every re-read. `ctx` is the admin project's
        system context: the JsonWebKey resources are written as it."""
        self._source = (store, ctx)
        await self.reload(rotate=rotate)

    async def reload(self, rotate: bool = False) -> None:
        """Read the keys (making, rotating or removing keys as due). Raises `SecretKeyMismatch`
        when this process cannot open the active key."""
        if self._source is None:
            raise RuntimeError("the signing key ring was never opened")
        store, ctx = self._source
        # One reload at a time, so that an older read never replaces a newer one.
        async with self._reload_lock:
            keys = await load_signing_keys(store, ctx, self.secret_key, self.policy, rotate=rotate)
            previous = self._loaded.verification if self._loaded else {}
            verification = {jwk["kid"]: previous.get(jwk["kid"]) or ECAlgorithm.from_jwk(jwk)
                            for jwk in keys.public_jwks}
            # One assignment: requests see the old set or the new one, never a mix.
            self._loaded = _Loaded(keys, verification)

    @property
    def _current(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("the signing keys were never loaded")
        return self._loaded

    @property
    def active(self) -> SigningKey:
        return self._current.keys.active

    def verification_key(self, kid: Any) -> Any:
        return self._current.verification.get(kid) if isinstance(kid, str) else None

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._current.keys.public_jwks)}

    async def reload_for_unknown_kid(self) -> None:
        now = time.monotonic()
        if now - self._last_unknown_kid_reload < _UNKNOWN_KID_RECHECK_SECONDS:
            return
        self._last_unknown_kid_reload = now
        await self._reload_keeping_old_keys_on_failure()

    async def keep_fresh(self) -> None:
        """Re-read every `recheck_seconds` until cancelled (the app's lifespan runs it)."""
        while True:
            await asyncio.sleep(self.recheck_seconds)
            await self._reload_keeping_old_keys_on_failure()

    async def _reload_keeping_old_keys_on_failure(self) -> None:
        # The keys in memory stay good until their tokens expire: an unreachable database or a
        # key this process cannot open must not stop it from serving.
        try:
            await self.reload()
        except (psycopg.Error, SecretKeyMismatch) as error:
            log.warning("signing keys not re-read: %s", type(error).__name__)
