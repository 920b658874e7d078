"""Store-level ingest of the sample transaction bundles: resources/s with and without SearchIndexer.

    python ingest_store.py ADMIN_URL [rounds] [workers]

Each bundle becomes one store transaction: urn:uuid references rewritten to the new ids,
conditional Practitioner references resolved with SearchEngine.resolve_conditional (as the API
does), then every resource staged and flushed. No HTTP, no validation.
"""
import asyncio, glob, sys, time, uuid
from typing import Any
import orjson, psycopg
from psycopg import sql
from fireside.fhir import load_definitions
from fireside.search import SearchEngine
from fireside.store import AccessContext, ResourceStore, migrate, new_resource_id, open_pool, with_database
from fireside.store.indexing import SearchIndexer, SearchParameterRegistry
from fireside.store.resources import NoIndex

BUNDLES = sorted(glob.glob("/work/shared/data/bundles/patient-*.json"))
PRACTITIONERS = "/work/shared/data/bundles/practitioners.json"


def rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: rewrite(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite(v, ids) for v in value]
    if isinstance(value, str) and value in ids:
        return ids[value]
    return value


async def load_bundle(store: ResourceStore, engine: SearchEngine | None, ctx: AccessContext, bundle: dict[str, Any],
                      practitioner_ids: dict[str, str]) -> int:
    ids = {e["fullUrl"]: f"{e['resource']['resourceType']}/{new_resource_id()}" for e in bundle["entry"]}
    async with store.transaction(ctx) as unit:
        conditional: dict[str, str] = {}
        for entry in bundle["entry"]:
            for ref in _references(entry["resource"]):
                if "?" in ref and ref not in conditional:
                    if engine is not None:
                        found = await engine.resolve_conditional(unit.conn, ctx, ref)
                        conditional[ref] = found[0].reference
                    else:
                        conditional[ref] = practitioner_ids[ref]
        ids.update(conditional)
        for entry in bundle["entry"]:
            resource = rewrite(entry["resource"], ids)
            unit.stage_put(resource, ids[entry["fullUrl"]].split("/")[1], None)
    return len(bundle["entry"])


def _references(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str):
                found.append(v)
            else:
                found.extend(_references(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(_references(v))
    return found


async def run(url: str, indexed: bool, rounds: int, workers: int) -> None:
    definitions = load_definitions()
    registry = SearchParameterRegistry(definitions)
    pool = await open_pool(url, min_size=workers, max_size=workers + 1)
    store = ResourceStore(pool, index_writer=SearchIndexer(definitions, registry) if indexed else NoIndex())
    engine = SearchEngine(pool, definitions, registry) if indexed else None
    ctx = AccessContext(uuid.uuid4(), "Practitioner/bench")
    practitioners = orjson.loads(open(PRACTITIONERS, "rb").read())
    practitioner_ids: dict[str, str] = {}
    async with store.transaction(ctx) as unit:
        for entry in practitioners["entry"]:
            r = entry["resource"]; rid = new_resource_id()
            unit.stage_put(r, rid, None)
            ident = r["identifier"][0]
            practitioner_ids[f"Practitioner?identifier={ident['system']}|{ident['value']}"] = f"Practitioner/{rid}"
    bundles = [orjson.loads(open(p, "rb").read()) for p in BUNDLES] * rounds
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for b in bundles: queue.put_nowait(b)
    count = 0
    async def worker() -> None:
        nonlocal count
        while not queue.empty():
            b = queue.get_nowait()
            loaded = await load_bundle(store, engine, ctx, b, practitioner_ids)
            count += loaded
    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - t
    print(f"{'indexed' if indexed else 'no index'}: {count} resources in {elapsed:.1f}s = {count/elapsed:,.0f} resources/s ({workers} workers)")
    await pool.close()


def fresh_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(admin, name)
    migrate(url)
    return url


if __name__ == "__main__":
    admin = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    for indexed in (False, True):
        url = fresh_database(admin, f"fireside_bench_ingest_{'idx' if indexed else 'noidx'}")
        asyncio.run(run(url, indexed, rounds, workers))
