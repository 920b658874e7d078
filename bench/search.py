"""Search at scale: the search issue's query mix over real HTTP, p50/p95 per query, and the plan
PostgreSQL chose for each.

    python -m bench.search [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
                           [--resources 1000000] [--clients 4] [--requests 200] [--reuse]

1. A database `fireside_bench_search` on the PostgreSQL at --admin-url (the machine's own by
   default), served by a `fireside serve` process this tool starts, with a client in a new
   project.
2. The sample bundles go in through `POST [base]` transactions (real validation, references and
   indexing), then are cloned in SQL until the project holds --resources resources. Each clone
   is another set of patients with their own ids, identifiers and references within the clone,
   and dates shifted by 10 days per clone; the shared Practitioners are not cloned. A clone's
   ids lead with its number (`017-<id>`), so that in id order the clones follow one another,
   as ids given out over time do; a suffix had put the 177 copies of each patient next to each
   other, a layout no real database has, which made every walk in id order meet one patient's
   copies at a time. Every index
   table (`search_*`) is cloned column by column, so tables added later come along. Then
   VACUUM ANALYZE, as autovacuum would have done by then. `--reuse` keeps a loaded database.
3. Each query runs --requests times through --clients concurrent clients (aiohttp), with
   parameter values drawn from the data; deep paging follows `next` links of a 50-per-page
   search to page 100.
4. Each query is run once more in this process through the same SearchEngine, recording the
   SQL it sends, and `EXPLAIN (ANALYZE, BUFFERS)` of each statement goes to
   `results/search-plans.txt`; the table says whether any big table was read by a sequential scan.

Results are appended to results/results.jsonl and printed as a table.

`--policy match-all|laboratory` runs the mix as a user whose ProjectMembership names an
AccessPolicy (made in the store, the token minted with the server's key): Observations limited
to `status=final` (every one of them: the worst case for the policy's SQL) or to
`category=laboratory` (a fifth of them), every other type unrestricted. The plans in
`search-plans.txt` stay those of the unrestricted search.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import aiohttp
import httpx
import psycopg
from psycopg import sql

from bench.ingest import DEFAULT_BUNDLES, RESULTS, load_bundles, own_server, percentile, run_workers, token_for

DATABASE = "fireside_bench_search"
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".fireside" / "bench-search"
PLANS = RESULTS.parent / "search-plans.txt"
MRN = "http://fireside.example/bench/mrn"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# A made-up subsumption parent for the bench: the CodeSystem fragment posted below places a
# handful of the sample Condition codes under it, so that `code:below` expands to several codes.
BENCH_PARENT = "900000000000441003"

Params = list[tuple[str, str]]


@dataclass
class Query:
    name: str
    resource_type: str
    make: Callable[[], Params]


@dataclass
class Result:
    name: str
    requests: int
    p50_ms: float
    p95_ms: float
    per_second: float
    errors: int
    matches: int | None = None
    sequential_scans: list[str] = field(default_factory=list)


# --- the database ---------------------------------------------------------------------------

def database_url(admin_url: str) -> str:
    from fireside.store import with_database

    return with_database(admin_url, DATABASE)


def database_is_loaded(admin_url: str, wanted: int) -> bool:
    try:
        with psycopg.connect(database_url(admin_url)) as conn:
            row = conn.execute("SELECT count(*) FROM resource").fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0] >= wanted)


def fresh_database(admin_url: str) -> None:
    import shutil

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    shutil.rmtree(DATA_DIR, ignore_errors=True)  # its key decrypted the old database's signing key
    DATA_DIR.mkdir(parents=True)


async def post_samples(base: str, token: str, clients: int) -> tuple[int, float]:
    """The sample bundles as transactions: resources loaded and resources/s."""
    practitioners, bundles = load_bundles(DEFAULT_BUNDLES)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json",
               "Prefer": "return=minimal"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=600)) as http:
        if practitioners:
            async with http.post(base, data=practitioners) as response:
                response.raise_for_status()

        async def send(bundle: bytes) -> bool:
            async with http.post(base, data=bundle) as response:
                await response.read()
                return response.status == 200

        _, errors, seconds = await run_workers(clients, bundles, send)
    if errors:
        raise RuntimeError(f"{errors} sample bundles failed")
    resources = sum(len(json.loads(b)["entry"]) for b in bundles)
    return resources, resources / seconds


def clone_samples(url: str, project_id: str, clones: int) -> None:
    """Copy the project's resources (but the shared Practitioners) and their index rows
    `clones` times, as described in the module docstring."""
    suffix = sql.SQL("'-' || n")
    prefix = sql.SQL("lpad(n::text, 3, '0') || '-' || ")
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_name LIKE 'search\\_%' ORDER BY 1")]
        statements = [(
            "resource",
            sql.SQL(
                "INSERT INTO resource"
                " (project_id, resource_type, id, version_id, last_updated, deleted, author, content)"
                " SELECT project_id, resource_type, {p}id, version_id, last_updated, deleted, author,"
                # content is the JSON text as stored; its id is written as orjson writes it
                " replace(content, '\"id\":\"' || id || '\"', '\"id\":\"' || {p}id || '\"')"
                " FROM resource, generate_series(1, %s) n"
                " WHERE project_id = %s AND resource_type <> 'Practitioner' AND NOT deleted"
            ).format(p=prefix),
        )]
        for table in tables:
            columns = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s"
                " AND table_schema = current_schema() ORDER BY ordinal_position", (table,)).fetchall()
            names = [sql.Identifier(name) for name, _ in columns]
            values = [_cloned_column(table, name, kind, prefix, suffix) for name, kind in columns]
            statements.append((table, sql.SQL(
                "INSERT INTO {table} ({names}) SELECT {values} FROM {table}, generate_series(1, %s) n"
                " WHERE project_id = %s AND resource_type <> 'Practitioner'"
            ).format(table=sql.Identifier(table), names=sql.SQL(", ").join(names), values=sql.SQL(", ").join(values))))
        for name, statement in statements:
            started = time.perf_counter()
            conn.execute(statement, (clones, project_id))
            print(f"  cloned {name} in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f} s", flush=True)


def _cloned_column(
    table: str, name: str, kind: str, prefix: sql.Composable, suffix: sql.Composable,
) -> sql.Composable:
    column = sql.Identifier(name)
    if name == "resource_id":
        return sql.SQL("{}{}").format(prefix, column)
    if table == "search_reference" and name == "target_id":
        # References within a patient's bundle point into the same clone; Practitioners are shared.
        return sql.SQL("CASE WHEN target_type IS NOT NULL AND target_type <> 'Practitioner'"
                       " THEN {}target_id ELSE target_id END").format(prefix)
    if table == "search_token" and name == "value":
        return sql.SQL("CASE WHEN parameter LIKE '%%identifier%%' THEN value || {} ELSE value END").format(suffix)
    if kind == "timestamp with time zone":
        return sql.SQL("{} + n * interval '10 days'").format(column)
    return column


# --- the queries ----------------------------------------------------------------------------

def sample_values(url: str, project_id: str) -> dict[str, list[str]]:
    def column(query: str, *params: Any) -> list[str]:
        return [str(row[0]) for row in conn.execute(query, (project_id, *params))]

    with psycopg.connect(url) as conn:
        return {
            "patients": column("SELECT id FROM resource WHERE project_id = %s AND resource_type = 'Patient'"
                               " ORDER BY random() LIMIT 500"),
            "family_prefixes": sorted({v[:3] for v in column(
                "SELECT DISTINCT normalized FROM search_string WHERE project_id = %s"
                " AND resource_type = 'Patient' AND parameter = 'family'")}),
            "mrns": column("SELECT value FROM search_token WHERE project_id = %s AND resource_type = 'Patient'"
                           " AND parameter = 'identifier' AND system = %s ORDER BY random() LIMIT 500", MRN),
            "observation_codes": column(
                "SELECT value FROM search_token WHERE project_id = %s AND resource_type = 'Observation'"
                " AND parameter = 'code' AND system = %s GROUP BY value ORDER BY count(*) DESC LIMIT 12", LOINC),
            # The common codes of laboratory Observations: what a caller limited to those searches for.
            "laboratory_codes": column(
                "SELECT c.value FROM search_token c JOIN search_token k ON k.project_id = c.project_id"
                " AND k.resource_type = c.resource_type AND k.resource_id = c.resource_id AND k.parameter = 'category'"
                " AND k.value = 'laboratory' WHERE c.project_id = %s AND c.resource_type = 'Observation'"
                " AND c.parameter = 'code' AND c.system = %s GROUP BY c.value ORDER BY count(*) DESC LIMIT 12", LOINC),
            "condition_codes": column(
                "SELECT value FROM search_token WHERE project_id = %s AND resource_type = 'Condition'"
                " AND parameter = 'code' AND system = %s GROUP BY value ORDER BY count(*) DESC", SNOMED),
        }


def query_mix(values: dict[str, list[str]]) -> list[Query]:
    def pick(name: str) -> str:
        return random.choice(values[name])

    def patient() -> str:
        return f"Patient/{pick('patients')}"

    def common_code() -> str:
        return f"{LOINC}|{random.choice(values['observation_codes'][:4])}"

    return [
        Query("Patient?name=<3 letters>", "Patient", lambda: [("name", pick("family_prefixes"))]),
        Query("Patient?identifier=<mrn>", "Patient", lambda: [("identifier", f"{MRN}|{pick('mrns')}")]),
        Query("Observation?subject=<p>&code=<loinc>", "Observation",
              lambda: [("subject", patient()), ("code", f"{LOINC}|{pick('observation_codes')}")]),
        Query("Observation?code=<loinc>&date=ge<d>&_sort=-date", "Observation",
              lambda: [("code", common_code()), ("date", f"ge{random.randint(2015, 2024)}-01-01"),
                       ("_sort", "-date")]),
        Query("Encounter?patient=<p>&_include=Encounter:practitioner", "Encounter",
              lambda: [("patient", patient()), ("_include", "Encounter:practitioner")]),
        Query("Condition?code:below=<snomed parent>", "Condition",
              lambda: [("code:below", f"{SNOMED}|{BENCH_PARENT}")]),
        Query("Patient?_has:Observation:patient:code=<loinc>", "Patient",
              lambda: [("_has:Observation:patient:code", f"{LOINC}|{pick('observation_codes')}")]),
    ]


async def post_code_system(base: str, token: str, condition_codes: Sequence[str]) -> None:
    """A SNOMED CT fragment placing five sample Condition codes under BENCH_PARENT, so that
    `Condition?code:below=` has a subtree to expand (the real SNOMED hierarchy is not packaged)."""
    children = [{"code": code} for code in condition_codes[1:6]]
    code_system = {
        "resourceType": "CodeSystem", "url": SNOMED, "status": "active", "content": "fragment",
        "concept": [{"code": BENCH_PARENT, "display": "Fireside bench parent", "concept": children}],
    }
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        response = await http.post(f"{base}/CodeSystem", json=code_system)
        response.raise_for_status()


async def measure(base: str, token: str, query: Query, clients: int, requests: int) -> Result:
    headers = {"Authorization": f"Bearer {token}"}
    matches: list[int] = []
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=300)) as http:
        async def send(params: Params) -> bool:
            async with http.get(f"{base}/{query.resource_type}?{urlencode(params)}") as response:
                body = await response.read()
                if response.status != 200:
                    print(f"  {query.name}: {response.status} {body[:200]!r}")
                    return False
                total = json.loads(body).get("total")
                if isinstance(total, int):
                    matches.append(total)
                return True

        # A few requests first, so that connections, caches and the token cache are warm.
        await run_workers(clients, [query.make() for _ in range(clients * 2)], send)
        matches.clear()
        latencies, errors, seconds = await run_workers(clients, [query.make() for _ in range(requests)], send)
    return Result(query.name, requests, statistics.median(latencies), percentile(latencies, 0.95),
                  requests / seconds, errors, int(statistics.median(matches)) if matches else None)


async def measure_deep_paging(base: str, token: str, values: dict[str, list[str]], clients: int,
                              pages: int) -> list[Result]:
    """Each client follows `next` links of a 50-per-page search from page 1 to `pages`."""
    headers = {"Authorization": f"Bearer {token}"}
    all_pages: list[float] = []
    last_pages: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=300)) as http:
        async def walk(code: str) -> None:
            nonlocal errors
            url: str | None = f"{base}/Observation?" + urlencode([("code", f"{LOINC}|{code}"), ("_count", "50")])
            for page in range(1, pages + 1):
                if url is None:
                    errors += 1
                    return
                started = time.perf_counter()
                async with http.get(url) as response:
                    bundle = json.loads(await response.read())
                elapsed = (time.perf_counter() - started) * 1000
                all_pages.append(elapsed)
                if page > pages - 10:
                    last_pages.append(elapsed)
                url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)

        started = time.perf_counter()
        await asyncio.gather(*(walk(values["observation_codes"][i % 4]) for i in range(clients)))
        seconds = time.perf_counter() - started
    return [
        Result(f"_count=50 paging, pages 1-{pages}", len(all_pages), statistics.median(all_pages),
               percentile(all_pages, 0.95), len(all_pages) / seconds, errors),
        Result(f"_count=50 paging, pages {max(1, pages - 9)}-{pages}", len(last_pages), statistics.median(last_pages),
               percentile(last_pages, 0.95), len(last_pages) / seconds, errors),
    ]


# --- plans ----------------------------------------------------------------------------------

class RecordingCursor(psycopg.AsyncCursor[Any]):
    """Keeps every statement the engine sends, with its values, for EXPLAIN."""

    sent: list[tuple[Any, Any]] = []

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        RecordingCursor.sent.append((query, params))
        return await super().execute(query, params, **kwargs)


async def explain_all(url: str, project_id: str, queries: list[Query]) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement each query sends; the big tables each one
    reads by a sequential scan."""
    from uuid import UUID

    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from fireside.api.wiring import build_search
    from fireside.fhir import load_definitions
    from fireside.fhir.errors import FhirError
    from fireside.store import AccessContext

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=1, open=False,
        kwargs={"row_factory": dict_row, "autocommit": True, "cursor_factory": RecordingCursor})
    await pool.open(wait=True)
    _, engine = build_search(pool, load_definitions())
    ctx = AccessContext(UUID(project_id), "Practitioner/bench")
    scans: dict[str, list[str]] = {}
    lines: list[str] = [f"# Plans of bench/search.py queries, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"]
    try:
        for query in queries:
            params = query.make()
            RecordingCursor.sent.clear()
            try:
                await engine.search(ctx, query.resource_type, params)
            except FhirError as error:
                scans[query.name] = [f"not run: {error}"]
                continue
            statements = list(RecordingCursor.sent)
            lines.append(f"\n## {query.name}\n   {query.resource_type}?{urlencode(params)}\n")
            found: list[str] = []
            async with pool.connection() as conn:
                for statement, values in statements:
                    text = statement.as_string(conn) if isinstance(statement, sql.Composable) else str(statement)
                    explain = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + sql.SQL(text)
                    async with conn.cursor(row_factory=psycopg.rows.tuple_row) as cursor:
                        await cursor.execute(explain, values, prepare=False)
                        plan = [row[0] for row in await cursor.fetchall()]
                    lines.append("\n".join(plan) + "\n")
                    found += [line.strip() for line in plan if "Seq Scan on" in line and _is_big(line)]
            scans[query.name] = found
    finally:
        await pool.close()
    PLANS.write_text("\n".join(lines))
    return scans


def _is_big(plan_line: str) -> bool:
    return any(f"Seq Scan on {table}" in plan_line for table in ("resource", "search_"))


# --- access policies -------------------------------------------------------------------------

POLICIES = {
    "match-all": "status=final",
    "laboratory": f"category={OBSERVATION_CATEGORY}|laboratory",
}


def policy_token(url: str, base: str, project_id: str, policy: str) -> str:
    """A token of a user whose membership names an AccessPolicy limiting Observations to
    `POLICIES[policy]`, every other type unrestricted."""
    from fireside.api.app import load_token_service
    from fireside.auth import TokenGrant
    from fireside.auth.projects import system_context
    from fireside.config import Settings
    from fireside.store import ResourceStore, new_resource_id, open_pool

    user = f"User/bench-{policy}"
    rules = [{"resourceType": "Observation", "criteria": f"Observation?{POLICIES[policy]}"},
             *({"resourceType": kind} for kind in ("Patient", "Encounter", "Condition", "Practitioner", "CodeSystem"))]

    async def store_membership() -> None:
        pool = await open_pool(url, min_size=1, max_size=2)
        try:
            async with ResourceStore(pool).transaction(system_context(UUID(project_id))) as unit:
                policy_id = new_resource_id()
                unit.stage_put({"resourceType": "AccessPolicy", "name": f"bench {policy}", "resource": rules},
                               policy_id, None)
                membership = {"resourceType": "ProjectMembership", "project": {"reference": f"Project/{project_id}"},
                              "user": {"reference": user},
                              "accessPolicy": [{"reference": f"AccessPolicy/{policy_id}"}]}
                unit.stage_put(membership, new_resource_id(), None)
        finally:
            await pool.close()

    asyncio.run(store_membership())
    tokens = load_token_service(Settings(data_dir=DATA_DIR, public_url=base.removesuffix("/fhir/R4")), url)
    return tokens.issue(TokenGrant(user, UUID(project_id), "bench", "openid"))


# --- running --------------------------------------------------------------------------------

def report(results: list[Result], args: argparse.Namespace, loaded: dict[str, Any]) -> None:
    print(f"\n{'query':58} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7} {'matches':>8} {'errors':>6}  seq scans")
    for r in results:
        matches = f"{r.matches:8d}" if r.matches is not None else f"{'':>8}"
        scans = "; ".join(r.sequential_scans) or "none"
        print(f"{r.name:58} {r.p50_ms:8.1f} {r.p95_ms:8.1f} {r.per_second:7.1f} {matches} {r.errors:6d}  {scans}")
    with RESULTS.open("a") as handle:
        handle.write(json.dumps({
            "at": datetime.now(UTC).isoformat(timespec="seconds"), "benchmark": "search",
            "machine": f"{platform.machine()} {os.cpu_count()} cores", "clients": args.clients,
            "requests": args.requests, "policy": args.policy, **loaded, "figures": [asdict(r) for r in results],
        }) + "\n")


def ensure_loaded(args: argparse.Namespace) -> dict[str, Any]:
    url = database_url(args.admin_url)
    if args.reuse and database_is_loaded(args.admin_url, args.resources):
        print(f"reusing {DATABASE}")
        return {}
    fresh_database(args.admin_url)
    with own_server(1, DATA_DIR, url, ("--new-project", "bench")) as (base, credentials):
        (DATA_DIR / "client.json").write_text(json.dumps(credentials))
        token = token_for(base, credentials)
        resources, rate = asyncio.run(post_samples(base + "/fhir/R4", token, args.clients))
        print(f"loaded {resources} sample resources by transaction at {rate:,.0f} resources/s")
    project_id = _project_of_client(url)
    clones = max(0, -(-(args.resources - resources) // resources))
    print(f"cloning {clones} times to reach {args.resources:,} resources", flush=True)
    clone_samples(url, project_id, clones)
    return {"sample_ingest_resources_per_second": round(rate), "resources": resources * (clones + 1)}


def _project_of_client(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT project_id FROM resource WHERE resource_type = 'Patient' LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


async def run_queries(base: str, token: str, url: str, args: argparse.Namespace) -> list[Result]:
    project_id = _project_of_client(url)
    values = sample_values(url, project_id)
    if not await _has_bench_code_system(base, token):
        await post_code_system(base, token, values["condition_codes"])
    if args.policy != "none":
        token = await asyncio.to_thread(policy_token, url, base, project_id, args.policy)
    if args.policy == "laboratory":
        values["observation_codes"] = values["laboratory_codes"]
    queries = query_mix(values)
    results = [await measure(base, token, query, args.clients, args.requests) for query in queries]
    results += await measure_deep_paging(base, token, values, args.clients, args.pages)
    scans = await explain_all(url, project_id, queries)
    for result in results:
        result.sequential_scans = scans.get(result.name, [])
    return results


async def _has_bench_code_system(base: str, token: str) -> bool:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        response = await http.get(f"{base}/CodeSystem", params={"url": SNOMED})
        return bool(response.status_code == 200 and response.json().get("total"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL",
                                                               "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="requests per query")
    parser.add_argument("--pages", type=int, default=100, help="how deep the paging run goes")
    parser.add_argument("--reuse", action="store_true", help="keep a database that is already loaded")
    parser.add_argument("--policy", choices=("none", *POLICIES), default="none",
                        help="search as a user whose AccessPolicy limits Observations")
    args = parser.parse_args()
    loaded = ensure_loaded(args)
    url = database_url(args.admin_url)
    with own_server(1, DATA_DIR, url) as (base, credentials):
        stored = json.loads((DATA_DIR / "client.json").read_text())
        token = token_for(base, stored)
        results = asyncio.run(run_queries(base + "/fhir/R4", token, url, args))
    del credentials  # the bench client of the loaded project is the one that searches
    report(results, args, loaded)
    print(f"\nplans: {PLANS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
