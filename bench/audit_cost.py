"""What auditing and rate limiting cost per request: a quick sequential loop, not a load test.

    python -m bench.audit_cost [--reads 400] [--rounds 3]

1. An embedded PostgreSQL in a temporary directory, a migrated database, and two Fireside servers
   on it in this process: one with `audit=store`, one with `audit=off`.
2. Sequential reads of one Patient through each server, alternating in rounds (so background
   load on a shared machine hits both alike); the median per-read latency of each.
3. The rate-limit upsert (`fireside.auth.rate_limits.take`, two buckets as the token endpoint
   spends) timed alone, against `SELECT 1` on the same pool, and a sequential loop of
   client_credentials token requests (argon2 secret check included) for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn

from fireside.api import create_app
from fireside.auth.rate_limits import Bucket, take
from fireside.config import Settings
from fireside.store import ResourceStore, migrate, open_pool, with_database
from fireside.store.database import start_embedded_postgres


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


def serve(url: str, data_dir: Path, audit: str) -> tuple[_Server, str]:
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="bench", audit=audit,
                        rate_limit_ip_burst=1_000_000, rate_limit_client_burst=1_000_000)
    server = _Server(uvicorn.Config(create_app(settings, url), host="127.0.0.1", port=0, log_level="warning",
                                    lifespan="on", ws="none"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


def client_token(url: str, base: str) -> tuple[str, tuple[str, str]]:
    from fireside.cli.main import _create_client

    credentials = asyncio.run(_create_client(url, "bench", None, "Bench"))
    auth = (credentials.client_id, credentials.client_secret)
    token = httpx.post(base + "/oauth2/token", data={"grant_type": "client_credentials"}, auth=auth)
    return token.json()["access_token"], auth


def read_latencies(base: str, token: str, patient: str, reads: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=base + "/fhir/R4", headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(reads):
            started = time.perf_counter()
            client.get(patient).raise_for_status()
            timings.append(time.perf_counter() - started)
    return timings


async def upsert_latencies(url: str, count: int) -> tuple[float, float]:
    pool = await open_pool(url, max_size=2)
    store = ResourceStore(pool)
    try:
        buckets = [Bucket("ip:127.0.0.1", 1_000_000, 1_000_000), Bucket("client:bench", 1_000_000, 1_000_000)]
        spent, baseline = [], []
        for _ in range(count):
            started = time.perf_counter()
            await take(store, buckets)
            spent.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
            baseline.append(time.perf_counter() - started)
        return statistics.median(spent), statistics.median(baseline)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fireside-bench-") as directory:
        admin = start_embedded_postgres(Path(directory) / "pg")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE fireside_audit_bench")
        url = with_database(admin, "fireside_audit_bench")
        migrate(url)
        servers: dict[str, Any] = {}
        for audit in ("store", "off"):
            servers[audit] = serve(url, Path(directory) / audit, audit)
        token, auth = client_token(url, servers["store"][1])
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            created = client.post(servers["store"][1] + "/fhir/R4/Patient", json={"resourceType": "Patient"}).json()
        patient = f"/Patient/{created['id']}"
        results: dict[str, list[float]] = {"store": [], "off": []}
        for _ in range(args.rounds):
            for audit in ("store", "off"):
                results[audit] += read_latencies(servers[audit][1], token, patient, args.reads)
        for audit, timings in results.items():
            print(f"audit={audit}: median read {statistics.median(timings) * 1000:.2f} ms "
                  f"({len(timings) / sum(timings):.0f} reads/s sequential)")
        upsert, select_one = asyncio.run(upsert_latencies(url, 500))
        print(f"rate-limit upsert (2 buckets): median {upsert * 1000:.3f} ms; SELECT 1: {select_one * 1000:.3f} ms")
        token_times = []
        for _ in range(30):
            started = time.perf_counter()
            httpx.post(servers["off"][1] + "/oauth2/token", data={"grant_type": "client_credentials"},
                       auth=auth).raise_for_status()
            token_times.append(time.perf_counter() - started)
        print(f"token request (client_credentials): median {statistics.median(token_times) * 1000:.1f} ms")
        for server, _ in servers.values():
            server.should_exit = True
        time.sleep(1)


if __name__ == "__main__":
    main()
