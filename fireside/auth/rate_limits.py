"""Rate limits on the sign-in form and the token endpoint: token buckets per client and per IP.

API processes share nothing but PostgreSQL, so the buckets live there: one UNLOGGED row per key,
refilled and spent by one upsert that checks every bucket of a request in a single round trip
(no read-then-write race between processes). A bucket holds at most `burst` tokens and gains
`per_minute / 60` a second; a request spends one, and a request that finds less than one is
refused with the seconds until one is back (RFC 6585 section 4: 429 with Retry-After).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fireside.store import ResourceStore

# A bucket idle this long is full again, so its row can go; one call in CLEANUP_ODDS sweeps.
IDLE_SECONDS = 3600
CLEANUP_ODDS = 1000

_TAKE = """
INSERT INTO rate_limit_bucket AS b (bucket_key, tokens, refill_per_second, allowed, updated_at)
SELECT key, burst - 1, rate, true, clock_timestamp()
FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS u(key, burst, rate)
ON CONFLICT (bucket_key) DO UPDATE SET
    tokens = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END,
    allowed = {refilled} >= 1,
    refill_per_second = excluded.refill_per_second,
    updated_at = excluded.updated_at
RETURNING bucket_key, tokens, refill_per_second, allowed
""".format(
    # excluded.tokens + 1 is the burst; the elapsed time uses the proposed row's one clock reading.
    refilled="least(excluded.tokens + 1, b.tokens"
             " + extract(epoch FROM excluded.updated_at - b.updated_at) * excluded.refill_per_second)"
)


@dataclass(frozen=True)
class Bucket:
    key: str  # "ip:203.0.113.7", "client:<id>"
    burst: int
    per_minute: int


class RateLimited(Exception):
    def __init__(self, key: str, retry_after: int) -> None:
        super().__init__(f"rate limit reached for {key.split(':')[0]}")
        self.key = key
        self.retry_after = retry_after


async def take(store: ResourceStore, buckets: Sequence[Bucket]) -> None:
    """Spend one token from each bucket; raise `RateLimited` if any was empty."""
    if not buckets:
        return
    async with store.pool.connection() as conn:
        cursor = await conn.execute(_TAKE, [
            [b.key for b in buckets],
            [float(max(b.burst, 1)) for b in buckets],
            [max(b.per_minute, 1) / 60 for b in buckets],
        ])
        rows: list[dict[str, Any]] = await cursor.fetchall()
        if random.randrange(CLEANUP_ODDS) == 0:
            await conn.execute("DELETE FROM rate_limit_bucket WHERE updated_at < now() - make_interval(secs => %s)",
                               [IDLE_SECONDS])
    refused = [row for row in rows if not row["allowed"]]
    if refused:
        worst = max(refused, key=lambda row: (1 - row["tokens"]) / row["refill_per_second"])
        wait = (1 - worst["tokens"]) / worst["refill_per_second"]
        raise RateLimited(worst["bucket_key"], max(1, math.ceil(wait)))
