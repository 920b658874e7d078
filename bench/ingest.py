"""Ingest and request-rate benchmark: transaction Bundles, then single creates and reads.

    python -m bench.ingest [--url http://host:port --client-id ID --client-secret S]
                           [--clients 4] [--rounds 1] [--seconds 10] [--bundles ../shared/data/bundles]

Without --url it starts its own `fireside serve` (embedded PostgreSQL in a temporary directory,
or DATABASE_URL) in a separate process, so server, database and load generator share this
machine as they would on a developer's laptop. Results print as a table and are appended to
bench/results/results.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLES = ROOT.parent / "shared" / "data" / "bundles"
RESULTS = Path(__file__).resolve().parent / "results" / "results.jsonl"


@dataclass
class Figure:
    name: str
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p95_ms: float
    resources_per_second: float | None = None
    errors: int = 0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def own_server(
    workers: int, data_dir: Path | None = None, database_url: str | None = None, client_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[str, dict[str, str]]]:
    """A `fireside serve` process and a new client's credentials for it: on a fresh data dir
    and embedded PostgreSQL unless `data_dir` (which holds the key that decrypts the signing
    key) and `database_url` say otherwise."""
    with tempfile.TemporaryDirectory(prefix="fireside-bench-") as scratch:
        env = {**os.environ, "FIRESIDE_DATA_DIR": str(data_dir or scratch), **(extra_env or {})}
        if database_url:
            env["DATABASE_URL"] = database_url
        with _serving(env, workers) as base:
            output = subprocess.run([_fireside(), "client", "create", "--name", "bench", *client_args], env=env,
                                    check=True, capture_output=True, text=True).stdout
            yield base, json.loads(output)


def _fireside() -> str:
    return str(Path(sys.executable).parent / "fireside")


@contextmanager
def _serving(env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
    command = [_fireside(), "--log-level", "warning", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def token_for(base: str, credentials: dict[str, str]) -> str:
    response = httpx.post(base + "/oauth2/token", data={"grant_type": "client_credentials"},
                          auth=(credentials["client_id"], credentials["client_secret"]))
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def load_bundles(folder: Path) -> tuple[bytes | None, list[bytes]]:
    practitioners = folder / "practitioners.json"
    patients = sorted(p for p in folder.glob("*.json") if p.name != "practitioners.json")
    return (practitioners.read_bytes() if practitioners.exists() else None,
            [p.read_bytes() for p in patients])


def literal_practitioner_references(practitioners: bytes, created: dict[str, Any], bundles: list[bytes]) -> list[bytes]:
    """The bundles with each conditional `Practitioner?identifier=` reference replaced by the id
    the server gave that Practitioner: a server that writes no index rows cannot resolve them."""
    replacements: dict[bytes, bytes] = {}
    for entry, outcome in zip(json.loads(practitioners)["entry"], created["entry"], strict=True):
        identifier = entry["resource"]["identifier"][0]
        location = outcome["response"]["location"].split("/_history")[0]
        search = f"Practitioner?identifier={identifier['system']}|{identifier['value']}"
        replacements[json.dumps(search).encode()] = json.dumps(location.split("/fhir/R4/")[-1]).encode()
    rewritten = []
    for bundle in bundles:
        for search, literal in replacements.items():
            bundle = bundle.replace(search, literal)
        rewritten.append(bundle)
    return rewritten


def count_entries(bundle: bytes) -> int:
    return len(json.loads(bundle).get("entry", []))


async def run_workers(clients: int, work: list[Any], send: Any) -> tuple[list[float], int, float]:
    """Send every item of `work` through `clients` concurrent workers; latencies in ms."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            item = queue.get_nowait()
            started = time.perf_counter()
            ok = await send(item)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


async def bench_ingest(http: aiohttp.ClientSession, base: str, bundles: list[bytes], clients: int,
                       rounds: int) -> Figure:
    work = bundles * rounds
    resources = sum(count_entries(b) for b in bundles) * rounds

    async def send(bundle: bytes) -> bool:
        async with http.post(base, data=bundle, headers={"Prefer": "return=minimal"}) as response:
            body = await response.read()
            if response.status != 200:
                print("bundle failed:", response.status, body[:300], file=sys.stderr)
            return response.status == 200

    latencies, errors, seconds = await run_workers(clients, work, send)
    return Figure("transaction bundle ingest", len(work), seconds, len(work) / seconds,
                  statistics.median(latencies), percentile(latencies, 0.95),
                  resources_per_second=resources / seconds, errors=errors)


async def bench_timed(name: str, clients: int, seconds: float, send: Any) -> Figure:
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await send()
            latencies.append((time.perf_counter() - started) * 1000)
            errors += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return Figure(name, len(latencies), elapsed, len(latencies) / elapsed,
                  statistics.median(latencies), percentile(latencies, 0.95), errors=errors)


async def run(base: str, credentials: dict[str, str], args: argparse.Namespace) -> list[Figure]:
    # aiohttp for the load: it costs the shared CPU about a third of what httpx does per request,
    # and the load generator runs on the same two cores as the server.
    token = token_for(base, credentials)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    fhir = base + "/fhir/R4"
    connector = aiohttp.TCPConnector(limit=args.clients * 2)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as http:
        figures: list[Figure] = []
        practitioners, bundles = load_bundles(args.bundles)
        if bundles:
            if practitioners:
                async with http.post(fhir, data=practitioners) as response:
                    response.raise_for_status()
                    created = json.loads(await response.read())
                if args.no_index:
                    bundles = literal_practitioner_references(practitioners, created, bundles)
            figures.append(await bench_ingest(http, fhir, bundles, args.clients, args.rounds))
        patient = json.dumps({"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Ada"]}],
                              "gender": "female", "birthDate": "1970-01-01"}).encode()
        created: list[str] = []

        async def create() -> bool:
            async with http.post(fhir + "/Patient", data=patient, headers={"Prefer": "return=minimal"}) as response:
                await response.read()
                if response.status == 201:
                    created.append(response.headers["location"].split("/")[-3])
                return response.status == 201

        figures.append(await bench_timed("create Patient", args.clients, args.seconds, create))

        async def read() -> bool:
            async with http.get(f"{fhir}/Patient/{random.choice(created)}") as response:
                await response.read()
                return response.status == 200

        figures.append(await bench_timed("read Patient", args.clients, args.seconds, read))
        return figures


def report(figures: list[Figure], args: argparse.Namespace) -> None:
    print(f"\n{'benchmark':30} {'requests':>9} {'req/s':>9} {'res/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}")
    for f in figures:
        resources = f"{f.resources_per_second:9.0f}" if f.resources_per_second else f"{'':>9}"
        print(f"{f.name:30} {f.requests:9d} {f.per_second:9.1f} {resources} {f.p50_ms:8.1f} {f.p95_ms:8.1f} "
              f"{f.errors:6d}")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as handle:
        handle.write(json.dumps({
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "clients": args.clients, "workers": args.workers, "indexing": not args.no_index,
            "rounds": args.rounds, "seconds": args.seconds,
            "figures": [asdict(f) for f in figures],
        }) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an already running server (needs --client-id/--client-secret)")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--rounds", type=int, default=1, help="times to post the sample bundles")
    parser.add_argument("--seconds", type=float, default=10, help="duration of each create/read run")
    parser.add_argument("--bundles", type=Path, default=DEFAULT_BUNDLES)
    parser.add_argument("--workers", type=int, default=1, help="server processes when starting our own")
    parser.add_argument("--no-index", action="store_true",
                        help="our own server with FIRESIDE_SEARCH_INDEXING=off: what ingest costs without indexing")
    args = parser.parse_args()
    if args.url:
        credentials = {"client_id": args.client_id, "client_secret": args.client_secret}
        figures = asyncio.run(run(args.url.rstrip("/"), credentials, args))
    else:
        extra_env = {"FIRESIDE_SEARCH_INDEXING": "off"} if args.no_index else None
        with own_server(args.workers, extra_env=extra_env) as (base, credentials):
            figures = asyncio.run(run(base, credentials, args))
    report(figures, args)


if __name__ == "__main__":
    main()
