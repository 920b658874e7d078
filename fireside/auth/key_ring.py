"""The signing keys one API process uses, kept in step with `signing_key` in PostgreSQL.

API processes share nothing but the database, so each re-reads the keys every
`recheck_seconds` (one small query, in a worker thread: the read may also rotate or remove keys,
fireside/auth/keys.py). A key made by another process or by `fireside keys rotate` is therefore
signing here within that time, and a token carrying a kid this process does not know makes it
re-read at once (at most once a second, so made-up kids cannot turn into a query each).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from jwt.algorithms import ECAlgorithm

from fireside.auth.encryption import SecretKeyMismatch
from fireside.auth.keys import KeyPolicy, KeySet, SigningKey, load_signing_keys

RECHECK_SECONDS = 10.0
_UNKNOWN_KID_RECHECK_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Loaded:
    keys: KeySet
    verification: dict[str, Any]  # kid -> public key object


class SigningKeyRing:
    def __init__(self, database_url: str, secret_key: str, policy: KeyPolicy,
                 recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.database_url = database_url
        self.secret_key = secret_key
        self.policy = policy
        self.recheck_seconds = recheck_seconds
        self._reload_lock = threading.Lock()
        self._last_unknown_kid_reload = float("-inf")
        self._loaded: _Loaded | None = None

    def reload(self, rotate: bool = False) -> None:
        """Read the keys (making, rotating or removing keys as due). Blocks: run it at start-up or
        in a thread. Raises `SecretKeyMismatch` when this process cannot open the active key."""
        with self._reload_lock, psycopg.connect(self.database_url, autocommit=True) as conn:
            keys = load_signing_keys(conn, self.secret_key, self.policy, rotate=rotate)
        previous = self._loaded.verification if self._loaded else {}
        verification = {jwk["kid"]: previous.get(jwk["kid"]) or ECAlgorithm.from_jwk(jwk) for jwk in keys.public_jwks}
        # One assignment: readers on the event loop see the old set or the new one, never a mix.
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
        await asyncio.to_thread(self._reload_keeping_old_keys_on_failure)

    async def keep_fresh(self) -> None:
        """Re-read every `recheck_seconds` until cancelled (the app's lifespan runs it)."""
        while True:
            await asyncio.sleep(self.recheck_seconds)
            await asyncio.to_thread(self._reload_keeping_old_keys_on_failure)

    def _reload_keeping_old_keys_on_failure(self) -> None:
        # The keys in memory stay good until their tokens expire: an unreachable database or a
        # key this process cannot open must not stop it from serving.
        try:
            self.reload()
        except (psycopg.Error, SecretKeyMismatch) as error:
            log.warning("signing keys not re-read: %s", type(error).__name__)
