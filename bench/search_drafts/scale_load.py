"""Build a ~1M-resource database shaped like the sample bundles, for query plans and latency.

1. ingest the 60 sample bundles through ResourceStore + SearchIndexer (real rows);
2. clone them N times in SQL: every clone is another 60 patients with their own ids,
   identifiers, references within the clone, and dates shifted by 10 days per clone;
   Practitioners stay shared (as in the samples);
3. VACUUM ANALYZE (what autovacuum would have done by then).
"""
import asyncio, sys, time
sys.path.insert(0, "/tmp/fireside_bench")
import psycopg
import ingest_store as b

admin = "postgresql://postgres@127.0.0.1:5432/postgres"
clones = int(sys.argv[1]) if len(sys.argv) > 1 else 174
url = b.fresh_database(admin, "fireside_bench_scale")
asyncio.run(b.run(url, True, 1, 2))
suffix = "'-' || n"
statements = [
    f"""INSERT INTO resource SELECT project_id, resource_type, id || {suffix}, version_id, last_updated, deleted, author, content
        FROM resource r, generate_series(1, {clones}) n WHERE resource_type <> 'Practitioner'""",
    f"""INSERT INTO search_token SELECT project_id, resource_type, resource_id || {suffix}, parameter, system,
        CASE WHEN parameter = 'identifier' THEN value || {suffix} ELSE value END, text
        FROM search_token, generate_series(1, {clones}) n WHERE resource_type <> 'Practitioner'""",
    f"""INSERT INTO search_string SELECT project_id, resource_type, resource_id || {suffix}, parameter, normalized, value
        FROM search_string, generate_series(1, {clones}) n WHERE resource_type <> 'Practitioner'""",
    f"""INSERT INTO search_reference SELECT project_id, resource_type, resource_id || {suffix}, parameter, target_type,
        CASE WHEN target_type = 'Practitioner' THEN target_id ELSE target_id || {suffix} END, url
        FROM search_reference, generate_series(1, {clones}) n WHERE resource_type <> 'Practitioner'""",
    f"""INSERT INTO search_date SELECT project_id, resource_type, resource_id || {suffix}, parameter,
        low + n * interval '10 days', high + n * interval '10 days'
        FROM search_date, generate_series(1, {clones}) n WHERE resource_type <> 'Practitioner'""",
    f"""INSERT INTO search_quantity SELECT project_id, resource_type, resource_id || {suffix}, parameter, low, high, system, code, unit
        FROM search_quantity, generate_series(1, {clones}) n WHERE resource_type <> 'Practitioner'""",
    f"""INSERT INTO search_uri SELECT project_id, resource_type, resource_id || {suffix}, parameter, value
        FROM search_uri, generate_series(1, {clones}) n WHERE resource_type <> 'Practitioner'""",
]
with psycopg.connect(url, autocommit=True) as conn:
    for statement in statements:
        t = time.perf_counter()
        conn.execute(statement)
        print(f"{time.perf_counter() - t:6.1f}s {statement.split()[2]}", flush=True)
    t = time.perf_counter()
    conn.execute("VACUUM ANALYZE")
    print(f"{time.perf_counter() - t:6.1f}s VACUUM ANALYZE", flush=True)
    for row in conn.execute("""SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables
                               WHERE relname LIKE 'search_%' OR relname = 'resource' ORDER BY relname"""):
        print(row)
    for row in conn.execute("""SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes
                               WHERE relname LIKE 'search_%' OR relname = 'resource' ORDER BY 1"""):
        print(row)
