import asyncio, sys
sys.path.insert(0, "/tmp/fireside_bench")
import ingest_store as b
asyncio.run(b.run("postgresql://postgres@127.0.0.1:5432/fireside_bench_scale", True, int(sys.argv[1]), 2))
