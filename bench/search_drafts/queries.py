"""Latency of the target searches on the ~1M-resource database (SearchEngine, one connection)."""
import asyncio, random, statistics, sys, time, uuid
from typing import Any
from psycopg.rows import tuple_row
from fireside.fhir import load_definitions
from fireside.search import SearchEngine
from fireside.store import AccessContext, open_pool

URL = "postgresql://postgres@127.0.0.1:5432/fireside_bench_scale"
RUNS = 40


def pct(values: list[float], q: float) -> float:
    s = sorted(values); return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def main() -> None:
    pool = await open_pool(URL, 1, 1)
    engine = SearchEngine(pool, load_definitions())
    async with pool.connection() as conn:
        project = (await (await conn.execute("SELECT project_id FROM resource LIMIT 1")).fetchone())["project_id"]
        patients = [r["id"] for r in await (await conn.execute(
            "SELECT id FROM resource WHERE resource_type='Patient' ORDER BY random() LIMIT 200")).fetchall()]
        mrns = [r["value"] for r in await (await conn.execute(
            "SELECT value FROM search_token WHERE resource_type='Patient' AND parameter='identifier' AND system='http://fireside.example/bench/mrn' ORDER BY random() LIMIT 200")).fetchall()]
        families = [r["normalized"][:3] for r in await (await conn.execute(
            "SELECT DISTINCT normalized FROM search_string WHERE resource_type='Patient' AND parameter='family'")).fetchall()]
        conditions = [r["value"] for r in await (await conn.execute(
            "SELECT DISTINCT value FROM search_token WHERE resource_type='Condition' AND parameter='code'")).fetchall()]
    ctx = AccessContext(project, "bench")
    common = ["8310-5", "8867-4", "85354-9", "29463-7", "9279-1", "2708-6"]
    cases: list[tuple[str, str, Any]] = [
        ("Patient?name=<3 letters>&_count=20", "Patient", lambda: [("name", random.choice(families))]),
        ("Patient?identifier=mrn|<one>", "Patient", lambda: [("identifier", f"http://fireside.example/bench/mrn|{random.choice(mrns)}")]),
        ("Observation?subject=Patient/<p>&code=loinc|<code>", "Observation",
         lambda: [("subject", f"Patient/{random.choice(patients)}"), ("code", f"http://loinc.org|{random.choice(common)}")]),
        ("Observation?patient=<p>&_count=20 (derived param)", "Observation", lambda: [("patient", random.choice(patients)), ("_count", "20")]),
        ("Encounter?patient=<p>", "Encounter", lambda: [("patient", random.choice(patients))]),
        ("Condition?code=<snomed>", "Condition", lambda: [("code", random.choice(conditions))]),
        ("Condition?code=<5 codes> (what :below expands to)", "Condition", lambda: [("code", ",".join(random.sample(conditions, 5)))]),
        ("Observation?code=<130k matches>&_total=none", "Observation", lambda: [("code", f"http://loinc.org|{random.choice(common[:4])}"), ("_total", "none")]),
        ("Observation?code=<130k matches> (with total)", "Observation", lambda: [("code", f"http://loinc.org|{random.choice(common[:4])}")]),
        ("Observation?code=<130k>&date=ge2025-01-01&_total=none", "Observation",
         lambda: [("code", f"http://loinc.org|{random.choice(common[:4])}"), ("date", "ge2025-01-01"), ("_total", "none")]),
        ("Observation?subject=<p>&date=ge2022&value-quantity=gt100", "Observation",
         lambda: [("subject", f"Patient/{random.choice(patients)}"), ("date", "ge2022"), ("value-quantity", "gt100")]),
        ("Observation?_lastUpdated=ge2000&_sort=-_lastUpdated&_total=none", "Observation",
         lambda: [("_lastUpdated", "ge2000"), ("_sort", "-_lastUpdated"), ("_total", "none")]),
        ("Patient?birthdate=ge1990&gender=female&_total=none", "Patient", lambda: [("birthdate", "ge1990"), ("gender", "female"), ("_total", "none")]),
    ]
    for name, rtype, make in cases:
        times = []
        for i in range(RUNS):
            params = make()
            t = time.perf_counter()
            result = await engine.search(ctx, rtype, params)
            times.append((time.perf_counter() - t) * 1000)
        print(f"{name:62s} p50 {pct(times, .5):7.2f} ms  p95 {pct(times, .95):7.2f} ms  (last: {len(result.resources)} rows, total {result.total})")
    # keyset paging deep into a 130k result
    times = []
    cursor = None
    for page in range(40):
        params = [("code", "http://loinc.org|8867-4"), ("_total", "none")] + ([("_cursor", cursor)] if cursor else [])
        t = time.perf_counter()
        result = await engine.search(ctx, "Observation", params)
        times.append((time.perf_counter() - t) * 1000)
        cursor = result.next_cursor
    print(f"{'Observation?code=<130k> pages 1-40 by _cursor':62s} p50 {pct(times, .5):7.2f} ms  p95 {pct(times, .95):7.2f} ms")
    await pool.close()

asyncio.run(main())
