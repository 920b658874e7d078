"""One-time recovery codes for users with TOTP on (fireside/auth/totp.py): a lost phone must not
lock its owner out for good.

Turning TOTP on issues COUNT codes, shown once, in that answer; the user may replace the set
(fireside/auth/mfa.py), and turning TOTP off deletes it. At the sign-in's second step a recovery
code stands in for a TOTP code (fireside/auth/second_factor.py): each works once, and a wrong one
counts as a wrong code does.

A code is CODE_LENGTH characters of Crockford's base32 (60 random bits), shown as
`xxxx-xxxx-xxxx`; typing is forgiving (any case, spaces and dashes anywhere, o for 0 and i or l
for 1). Only HMAC-SHA256 of the user id and the code is stored, keyed by a key derived from the
server's secret key. Not argon2, as for passwords: a slow hash makes each guess of a secret that
people chose (a few tens of bits) some 10^5 times dearer, but these codes are random. Online,
60 bits against the lock-out is beyond reach. Offline, the table alone allows no guessing without
the secret key; and whoever has that key can decrypt the TOTP secrets themselves, which are
worth more than the codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from psycopg import AsyncConnection

COUNT = 10
CODE_LENGTH = 12
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o or u
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1"})


def looks_like_recovery_code(code: str) -> bool:
    """Whether `code` has a recovery code's shape (a TOTP code, six digits, never does)."""
    normal = _normalize(code)
    return len(normal) == CODE_LENGTH and all(character in _ALPHABET for character in normal)


async def replace_codes(conn: AsyncConnection[Any], secret_key: str, user_id: str) -> list[str]:
    """A new set of codes for `user_id`, replacing any earlier set; in the caller's transaction."""
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(COUNT)]
    await delete_codes(conn, user_id)
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO user_recovery_code (user_id, code_hash) VALUES (%s, %s)",
            [(user_id, _hash(secret_key, user_id, code)) for code in codes],
        )
    return ["-".join(code[i:i + 4] for i in range(0, CODE_LENGTH, 4)) for code in codes]


async def delete_codes(conn: AsyncConnection[Any], user_id: str) -> None:
    await conn.execute("DELETE FROM user_recovery_code WHERE user_id = %s", [user_id])


async def spend_code(conn: AsyncConnection[Any], secret_key: str, user_id: str, code: str) -> bool:
    """Whether `code` is one of the user's unused codes; it is then used up."""
    if not looks_like_recovery_code(code):
        return False
    # Conditional on used_at: of two requests racing with one code, only one spends it.
    cursor = await conn.execute(
        "UPDATE user_recovery_code SET used_at = now() WHERE user_id = %s AND code_hash = %s AND used_at IS NULL"
        " RETURNING 1", [user_id, _hash(secret_key, user_id, _normalize(code))],
    )
    return await cursor.fetchone() is not None


def _normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower().translate(_READ_AS)


def _hash(secret_key: str, user_id: str, code: str) -> str:
    key = hashlib.sha256(f"fireside-recovery-codes:{secret_key}".encode()).digest()
    return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()
