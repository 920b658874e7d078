"""Ingest with index-table indexes dropped, to split heap/COPY cost from B-tree maintenance."""
import asyncio, sys
sys.path.insert(0, "/tmp/fireside_bench")
import psycopg
import ingest_store as b
admin = "postgresql://postgres@127.0.0.1:5432/postgres"
which = sys.argv[1]
url = b.fresh_database(admin, "fireside_bench_ingest_variant")
with psycopg.connect(url, autocommit=True) as conn:
    names = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename LIKE 'search_%'")]
    for n in names:
        if which == "heap-only" or (which == "no-resource-idx" and n.endswith("_resource_idx")) or (which == "no-value-idx" and not n.endswith("_resource_idx")):
            conn.execute(f"DROP INDEX {n}")
asyncio.run(b.run(url, True, 3, 2))
