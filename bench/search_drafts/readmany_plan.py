import asyncio, sys
sys.path.insert(0, "/tmp/fireside_bench")
import psycopg
import ingest_store as b
admin = "postgresql://postgres@127.0.0.1:5432/postgres"
url = b.fresh_database(admin, "fireside_bench_readmany")
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("ALTER TABLE resource SET (autovacuum_enabled = false)")
asyncio.run(b.run(url, True, 1, 2))
with psycopg.connect(url, autocommit=True) as conn:
    rows = conn.execute("SELECT project_id, resource_type, id FROM resource WHERE resource_type='Observation' LIMIT 3").fetchall()
    p = rows[0][0]
    for q, args in [
        ("SELECT resource_type, id FROM resource WHERE project_id = %s AND NOT deleted AND (resource_type, id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))", [p, [r[1] for r in rows], [r[2] for r in rows]]),
        ("SELECT resource_type, id FROM resource WHERE project_id = %s AND resource_type = %s AND NOT deleted AND last_updated >= %s ORDER BY last_updated LIMIT 3", [p, rows[0][1], "2000-01-01"]),
        ("SELECT resource_type, id FROM resource WHERE project_id = %s AND resource_type = %s AND NOT deleted AND id = ANY(%s)", [p, rows[0][1], [r[2] for r in rows]]),
    ]:
        for line in conn.execute("EXPLAIN ANALYZE " + q, args): print(line[0])
        print()
