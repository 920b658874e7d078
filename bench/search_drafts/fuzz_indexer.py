"""Random resources with real element names through the store + SearchIndexer: no write may fail."""
import asyncio, random, sys, uuid
sys.path.insert(0, "/tmp/fireside_bench")
import ingest_store as b
from fireside.fhir import load_definitions
from fireside.store import AccessContext, ResourceStore, open_pool
from fireside.store.indexing import SearchIndexer

definitions = load_definitions()
TYPES = ["Patient", "Observation", "Encounter", "Condition", "MedicationRequest", "CarePlan", "Invoice", "ValueSet",
         "QuestionnaireResponse", "Location", "RiskAssessment", "ChargeItem", "Appointment", "Composition", "Bundle"]
LEAVES = [None, True, False, 0, -1, 2**62, 1.5, 1e300, "", "x", "\x00", "2020", "2020-13-45", "9999-12-31T23:59:59.999Z",
          "Patient/1", "http://x/Patient/1|2", "#c", "urn:uuid:1", "é\tß\n", "a" * 3000, "0001-01-01T00:00:00+14:00"]
KEYS = ["value", "system", "code", "display", "coding", "text", "reference", "start", "end", "low", "high", "unit",
        "currency", "family", "given", "line", "event", "repeat", "boundsPeriod", "type", "url", "extension", "resource"]

def value(depth, keys):
    r = random.random()
    if depth > 3 or r < 0.4:
        return random.choice(LEAVES)
    if r < 0.6:
        return [value(depth + 1, keys) for _ in range(random.randint(0, 3))]
    return {random.choice(keys): value(depth + 1, keys) for _ in range(random.randint(0, 4))}

def resource(rtype):
    sd = definitions.types[rtype]
    names = sorted({e.path.split(".")[1].replace("[x]", "") for e in sd.elements if e.path.count(".") == 1})
    choice_keys = []
    for e in sd.elements:
        if e.path.count(".") == 1 and e.path.endswith("[x]"):
            base = e.path.split(".")[1][:-3]
            choice_keys += [base + t.code[0].upper() + t.code[1:] for t in e.types]
    keys = names + choice_keys
    body = {random.choice(keys): value(0, KEYS + names) for _ in range(random.randint(1, 8))}
    body["resourceType"] = rtype
    if not isinstance(body.get("meta"), dict):  # the store itself needs meta to be an object
        body.pop("meta", None)
    return body

async def main(url, n):
    pool = await open_pool(url, 1, 2)
    store = ResourceStore(pool, index_writer=SearchIndexer(definitions))
    ctx = AccessContext(uuid.uuid4(), "fuzz")
    failures = 0
    for i in range(n):
        batch = [resource(random.choice(TYPES)) for _ in range(5)]
        try:
            async with store.transaction(ctx) as unit:
                for r in batch:
                    unit.stage_put(r, str(uuid.uuid4()), None)
        except Exception as e:
            failures += 1
            if failures < 5:
                print("FAIL", type(e).__name__, str(e)[:200], [str(r)[:300] for r in batch])
    print("batches", n, "failures", failures)
    await pool.close()

random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
url = b.fresh_database("postgresql://postgres@127.0.0.1:5432/postgres", "fireside_fuzz_indexer")
asyncio.run(main(url, 2000))
