import asyncio, sys, uuid
from psycopg import sql
from psycopg.rows import tuple_row
from fireside.fhir import load_definitions
from fireside.search import SearchEngine, parse_search
from fireside.search.paging import ordering
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
        order = ordering(request)
        q = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) SELECT r.id FROM resource r WHERE {} AND NOT r.deleted{} ORDER BY {} LIMIT %s").format(compiled.where, order.after_cursor, order.order_by)
        async with conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(q, (*compiled.params, *order.params, request.count + 1))
            for (line,) in await cur.fetchall(): print(line)
    await pool.close()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None))
