import asyncio, uuid
from fireside.fhir import load_definitions, FhirError
from fireside.search import SearchEngine
from fireside.store import AccessContext, open_pool
async def main():
    pool = await open_pool("postgresql://postgres@127.0.0.1:5432/fireside_bench_scale", 1, 1)
    engine = SearchEngine(pool, load_definitions())
    ctx = AccessContext(uuid.uuid4(), "x")
    for params in ([("name", "a\x00b")], [("identifier", "\x00|x")], [("_id", "\x00")], [("subject", "Patient/\x00")],
                   [("_cursor", "\x00")], [("name:exact", "\x00")], [("code:text", "\x00")], [("_sort", "\x00")],
                   [("birthdate", "2020\x00")], [("value-quantity", "5|\x00|mg")], [("url", "\x00")], [("_lastUpdated", "ge2020-01-01T00:00:00+23:59")],
                   [("birthdate", "9999-12-31T23:59:59.9999999Z")], [("birthdate", "ap0001")], [("birthdate", "ap9999")], [("value-quantity", "1e999999999")],
                   [("value-quantity", "ap1e-999999")], [("subject", "http://\x00")]):
        rtype = "Observation" if params[0][0] in ("subject", "value-quantity", "code:text") else ("ValueSet" if params[0][0] == "url" else "Patient")
        try:
            r = await engine.search(ctx, rtype, params)
            print("ok", params, len(r.resources))
        except FhirError as e:
            print("fhir", params, e.issues[0].code, e.issues[0].diagnostics[:80])
        except Exception as e:
            print("BUG", params, type(e).__name__, str(e)[:100])
    await pool.close()
asyncio.run(main())
