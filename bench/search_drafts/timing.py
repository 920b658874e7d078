import asyncio, sys, time
sys.path.insert(0, "/tmp/fireside_bench")
import ingest_store as b
from fireside.search import SearchEngine
from fireside.store.indexing import SearchIndexer
spent = {"resolve": 0.0, "index": 0.0, "n": 0}
orig_resolve = SearchEngine.resolve_conditional
async def resolve(self, *a, **k):
    t = time.perf_counter(); r = await orig_resolve(self, *a, **k); spent["resolve"] += time.perf_counter() - t; spent["n"] += 1; return r
SearchEngine.resolve_conditional = resolve
orig_write = SearchIndexer.write
async def write(self, *a, **k):
    t = time.perf_counter(); r = await orig_write(self, *a, **k); spent["index"] += time.perf_counter() - t; return r
SearchIndexer.write = write
admin = "postgresql://postgres@127.0.0.1:5432/postgres"
url = b.fresh_database(admin, "fireside_bench_ingest_timing")
asyncio.run(b.run(url, True, 3, int(sys.argv[1]) if len(sys.argv) > 1 else 2))
print({k: round(v, 2) for k, v in spent.items()})
