import asyncio, cProfile, pstats, sys, time
sys.argv = ["x"]
sys.path.insert(0, "/tmp/fireside_bench")
import ingest_store as b
admin = "postgresql://postgres@127.0.0.1:5432/postgres"
url = b.fresh_database(admin, "fireside_bench_ingest_prof")
prof = cProfile.Profile()
prof.enable()
asyncio.run(b.run(url, True, 3, 2))
prof.disable()
st = pstats.Stats(prof); st.sort_stats("tottime").print_stats(25)
