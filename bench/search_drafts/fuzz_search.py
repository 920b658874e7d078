import asyncio, random, uuid
from fireside.fhir import load_definitions, FhirError
from fireside.search import SearchEngine
from fireside.store import AccessContext, open_pool
VALUES = ["", "x", "a|b", "|", "||", "a|b|c", "\\", "\\|", "\\,", ",", "%", "_", "Patient/1", "Patient/1/_history/2", "http://x/Patient/1|2",
          "urn:uuid:1", "#c", "2020", "ge2020", "ap2020-01", "eb9999", "sa0001", "2020-01-01T10:00:00+01:00", "2020-01-01T10:00:00 01:00", "1e5", "gt-1.5",
          "5||mg", "5|http://u|mg", "ap0", "true", "false", "é", "\U0010FFFF", "\uD7FF", "a" * 500, "gt", "ne2020", "ap1e300", "0.0000001", "-0", "NaN"]
MODIFIERS = ["", ":missing", ":not", ":exact", ":contains", ":text", ":below", ":above", ":Patient", ":identifier", ":in", ":bogus", ":Patient.name"]
async def main():
    d = load_definitions()
    pool = await open_pool("postgresql://postgres@127.0.0.1:5432/fireside_fuzz_indexer", 1, 1)
    engine = SearchEngine(pool, d)
    async with pool.connection() as conn:
        project = (await (await conn.execute("SELECT project_id FROM resource LIMIT 1")).fetchone())["project_id"]
    ctx = AccessContext(project, "fuzz")
    types = ["Patient", "Observation", "Encounter", "Condition", "ValueSet", "QuestionnaireResponse", "Location", "RiskAssessment", "Invoice", "CarePlan"]
    bugs = 0; kinds = {}
    for i in range(6000):
        t = random.choice(types)
        codes = list(engine.registry.for_type(t)) + ["_count", "_sort", "_total", "_summary", "_cursor", "_include", "x"]
        params = [(random.choice(codes) + random.choice(MODIFIERS), ",".join(random.choice(VALUES) for _ in range(random.randint(1, 2)))) for _ in range(random.randint(1, 3))]
        try:
            await engine.search(ctx, t, params, base_url="http://x")
            kinds["ok"] = kinds.get("ok", 0) + 1
        except FhirError as e:
            kinds[e.issues[0].code] = kinds.get(e.issues[0].code, 0) + 1
        except Exception as e:
            bugs += 1
            if bugs < 8: print("BUG", t, params, type(e).__name__, str(e)[:150])
    print(kinds, "bugs", bugs)
    await pool.close()
random.seed(7)
asyncio.run(main())
