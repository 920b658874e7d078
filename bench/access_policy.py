"""What an access policy costs a search and a read: requests/second of one FHIR search, and of
reads by id, over HTTP without a policy, with a policy whose criteria match everything (the worst
case for the extra SQL: every row is checked and none dropped) and with a restrictive one (one
patient's Observations). The reads are of that patient's Observations, which every caller may see.

    python -m bench.access_policy [--patients 100] [--observations 20] [--requests 60] [--rounds 5]

A `fireside serve` process (1 worker, embedded PostgreSQL) on a fresh data dir; the data go in
through transaction Bundles. The restricted callers are users whose ProjectMembership names an
AccessPolicy; their tokens are minted with the server's own key (the sign-in is not measured).
Then ANALYZE, as autovacuum would have done. The variants run in interleaved rounds of
sequential requests, so that the machine's load falls on each alike; the table gives the
median round. Results go to results/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg

from bench.ingest import RESULTS, own_server, token_for
from fireside.api.app import load_token_service
from fireside.auth import TokenGrant
from fireside.config import Settings
from fireside.store import resolve_database_url

CODES = ("glucose", "sodium", "potassium", "creatinine")
LOINC = "http://loinc.org"


def load(client: httpx.Client, patients: int, observations: int) -> list[str]:
    patient_ids = []
    for start in range(0, patients, 10):
        entries: list[dict[str, Any]] = []
        for number in range(start, min(start + 10, patients)):
            reference = f"urn:uuid:00000000-0000-0000-0000-{number:012d}"
            entries.append({"fullUrl": reference, "resource": {"resourceType": "Patient", "gender": "female"},
                            "request": {"method": "POST", "url": "Patient"}})
            entries.extend(
                {"resource": {"resourceType": "Observation", "status": "final",
                              "code": {"coding": [{"system": LOINC, "code": CODES[i % len(CODES)]}]},
                              "subject": {"reference": reference}, "valueQuantity": {"value": i}},
                 "request": {"method": "POST", "url": "Observation"}}
                for i in range(observations))
        response = client.post("/", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
        response.raise_for_status()
        patient_ids += [e["response"]["location"].split("/")[1] for e in response.json()["entry"]
                        if e["response"]["location"].startswith("Patient/")]
    return patient_ids


def restricted_user(client: httpx.Client, project_id: str, criteria: str, patient: str) -> str:
    """A membership (stored by the super admin client) naming one AccessPolicy; its User id."""
    policy = client.post("/AccessPolicy", json={"resourceType": "AccessPolicy", "resource": [
        {"resourceType": "Observation", "criteria": criteria}]})
    policy.raise_for_status()
    user = f"bench-{policy.json()['id']}"
    membership = {"resourceType": "ProjectMembership", "project": {"reference": f"Project/{project_id}"},
                  "user": {"reference": f"User/{user}"},
                  "accessPolicy": [{"reference": f"AccessPolicy/{policy.json()['id']}"}],
                  "parameter": [{"name": "patient", "valueReference": {"reference": f"Patient/{patient}"}}]}
    client.post("/ProjectMembership", json=membership).raise_for_status()
    return user


def rate(client: httpx.Client, params: dict[str, str], requests: int) -> tuple[float, int]:
    started = time.perf_counter()
    total = 0
    for _ in range(requests):
        response = client.get("/Observation", params=params)
        response.raise_for_status()
        total = response.json().get("total", total)
    return requests / (time.perf_counter() - started), total


def read_rate(client: httpx.Client, ids: list[str], requests: int) -> float:
    started = time.perf_counter()
    for number in range(requests):
        client.get(f"/Observation/{ids[number % len(ids)]}").raise_for_status()
    return requests / (time.perf_counter() - started)


def observations_of(client: httpx.Client, patient: str) -> list[str]:
    bundle = client.get("/Observation", params={"subject": f"Patient/{patient}", "_count": "100"}).json()
    return [entry["resource"]["id"] for entry in bundle["entry"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--observations", type=int, default=20)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--total", choices=("accurate", "estimate", "none"), default=None,
                        help="ask for a _total too (by default the searches do not count)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fireside-bench-policy-") as scratch, \
            own_server(1, data_dir=Path(scratch)) as (base, credentials):
        headers = {"Content-Type": "application/fhir+json"}
        admin = httpx.Client(base_url=base + "/fhir/R4", timeout=120,
                             headers={**headers, "Authorization": f"Bearer {token_for(base, credentials)}"})
        patients = load(admin, args.patients, args.observations)
        project_id = credentials["project_id"]
        database_url = resolve_database_url(None, Path(scratch))
        with psycopg.connect(database_url, autocommit=True) as conn:
            # As autovacuum would have by then: on the just-loaded, unanalyzed tables the
            # planner's guesses made every variant 5-60 times slower until it caught up.
            conn.execute("ANALYZE")
        tokens = load_token_service(Settings(data_dir=Path(scratch), public_url=base), database_url)
        callers = {"no policy": admin}
        for name, criteria in (("policy matching all", "Observation?status=final"),
                               ("restrictive policy", "Observation?subject=%patient")):
            user = restricted_user(admin, project_id, criteria, patients[0])
            token = tokens.issue(TokenGrant(f"User/{user}", UUID(project_id), "bench", "openid"))
            callers[name] = httpx.Client(base_url=base + "/fhir/R4", timeout=120,
                                         headers={**headers, "Authorization": f"Bearer {token}"})
        params = {"code": f"{LOINC}|glucose", "_count": "20", **({"_total": args.total} if args.total else {})}
        readable = observations_of(admin, patients[0])
        rates: dict[str, list[float]] = {name: [] for name in callers}
        reads: dict[str, list[float]] = {name: [] for name in callers}
        totals: dict[str, int] = {}
        for caller in callers.values():  # warm up: caches, compiled policies, pool
            rate(caller, params, 10)
            read_rate(caller, readable, 10)
        for _ in range(args.rounds):
            for name, caller in callers.items():
                per_second, totals[name] = rate(caller, params, args.requests)
                rates[name].append(per_second)
                reads[name].append(read_rate(caller, readable, args.requests))
    baseline = statistics.median(rates["no policy"])
    read_baseline = statistics.median(reads["no policy"])
    asked = f"&_total={args.total}" if args.total else ""
    print(f"GET Observation?code=glucose&_count=20{asked} over {args.patients * args.observations} Observations, "
          f"{args.rounds} rounds of {args.requests} sequential requests")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:20} {median:7.1f} req/s  ({median / baseline - 1:+.1%})  total={totals[name]}"
              f"  rounds={[round(v, 1) for v in values]}")
    print(f"GET Observation/<id> of one patient's {len(readable)} Observations")
    for name, values in reads.items():
        median = statistics.median(values)
        print(f"  {name:20} {median:7.1f} req/s  ({median / read_baseline - 1:+.1%})"
              f"  rounds={[round(v, 1) for v in values]}")
    with RESULTS.open("a") as handle:
        handle.write(json.dumps({
            "bench": "access_policy", "at": datetime.now(UTC).isoformat(), "machine": platform.node(),
            "observations": args.patients * args.observations, "requests": args.requests, "rounds": args.rounds,
            "total": args.total,
            "req_per_s": {name: statistics.median(values) for name, values in rates.items()},
            "read_req_per_s": {name: statistics.median(values) for name, values in reads.items()},
            "totals": totals,
        }) + "\n")


if __name__ == "__main__":
    main()
