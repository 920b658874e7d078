"""The token endpoint: requests/second of `POST /oauth2/token` (client_credentials with the
secret in HTTP Basic), N concurrent clients, over real HTTP.

    python -m bench.token [--clients 4] [--requests 400]

A `fireside serve` process (1 worker, embedded PostgreSQL) on a fresh data dir. The per-IP and
per-client rate limits are raised out of the way for the run (they would otherwise answer most
requests with 429 by design, see docs/audit.md). Each request verifies the client's argon2
secret hash, signs an ES256 access token and writes an AuditEvent (token issue). Results go to
results/results.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import platform
import statistics
from datetime import UTC, datetime

import aiohttp

from bench.ingest import RESULTS, own_server, percentile, run_workers

UNLIMITED = {
    "FIRESIDE_RATE_LIMIT_IP_BURST": "1000000", "FIRESIDE_RATE_LIMIT_IP_PER_MINUTE": "1000000",
    "FIRESIDE_RATE_LIMIT_CLIENT_BURST": "1000000", "FIRESIDE_RATE_LIMIT_CLIENT_PER_MINUTE": "1000000",
}


async def measure(
    base: str, credentials: dict[str, str], clients: int, requests: int,
) -> tuple[list[float], int, float]:
    pair = f"{credentials['client_id']}:{credentials['client_secret']}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    async with aiohttp.ClientSession(headers=headers) as http:
        async def send(_: int) -> bool:
            async with http.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials"}) as response:
                await response.read()
                return response.status == 200

        await run_workers(clients, list(range(clients * 4)), send)  # warm up
        return await run_workers(clients, list(range(requests)), send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with own_server(1, extra_env=UNLIMITED) as (base, credentials):
        latencies, errors, seconds = asyncio.run(measure(base, credentials, args.clients, args.requests))
    figures = {"requests": args.requests, "per_second": args.requests / seconds, "errors": errors,
               "p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 0.95)}
    print(f"POST /oauth2/token (client_credentials), {args.clients} clients: {figures['per_second']:.0f} req/s, "
          f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, {errors} errors")
    with RESULTS.open("a") as handle:
        handle.write(json.dumps({"bench": "token", "at": datetime.now(UTC).isoformat(), "machine": platform.node(),
                                 "clients": args.clients, **figures}) + "\n")


if __name__ == "__main__":
    main()
