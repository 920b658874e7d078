import asyncio, sys, uuid
from psycopg import sql
from psycopg.rows import tuple_row
from fireside.fhir import load_definitions
from fireside.search import SearchEngine, parse_search
from fireside.search.paging import plan_page
from fireside.store import AccessContext, open_pool

async def main(url: str, resource_type: str, query: str, project: str | None) -> None:
    from urllib.parse import parse_qsl
    pool = await open_pool(url, 1, 1)
    engine = SearchEngine(pool, load_definitions())
    async with pool.connection() as conn:
        if project is None:
            row = await (await conn.execute("SELECT project_id FROM resource LIMIT 1")).fetchone()
            project = str(row["project_id"])
        ctx = AccessContext(uuid.UUID(project), "x")
        request = parse_search(engine.registry, resource_type, parse_qsl(query))
        compiled = engine.compile(ctx, request)
        # The page's first statement (paging.py: a second runs only when the first comes up short).
        segment = plan_page(compiled, request).segments[0]
        q = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) {}").format(segment.query)
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(q, (*segment.params, request.count + 1))
            for (line,) in await cur.fetchall(): print(line)
    await pool.close()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None))
