"""Extraction throughput on the sample bundles: index rows of every resource, no database."""
import glob, time, collections, sys
from datetime import UTC, datetime
import orjson
from fireside.fhir.definitions import load_definitions
from fireside.store.indexing import SearchIndexer
from fireside.store.resources import StoredResource

indexer = SearchIndexer(load_definitions())
versions = []
for path in sorted(glob.glob("/work/shared/data/bundles/*.json")):
    bundle = orjson.loads(open(path, "rb").read())
    for i, entry in enumerate(bundle["entry"]):
        r = entry["resource"]
        versions.append(StoredResource(r["resourceType"], f"id{len(versions)}", 1, datetime.now(UTC), False, orjson.dumps(r).decode()))
rows = collections.Counter(); per_param = collections.Counter()
for v in versions:
    for table, found in indexer.rows(v).items():
        rows[table.name] += len(found)
        for row in found: per_param[(v.resource_type, row[3])] += 1
print(len(versions), "resources,", sum(rows.values()), "rows:", dict(rows), f"{sum(rows.values())/len(versions):.1f} rows/resource")
best = 0.0
for _ in range(5):
    t = time.perf_counter()
    for v in versions:
        indexer.rows(v)
    rate = len(versions) / (time.perf_counter() - t)
    best = max(best, rate)
print(f"extraction (incl. JSON parse): {best:,.0f} resources/s (best of 5, one core)")
t = time.perf_counter()
parsed = [orjson.loads(v.content) for v in versions]
print(f"orjson.loads alone: {len(versions)/(time.perf_counter()-t):,.0f}/s")
if "-v" in sys.argv:
    for k, n in per_param.most_common(40): print(n, k)
plans = [(indexer.registry.of_type(v.resource_type).stored, r) for v, r in zip(versions, parsed)]
best = 0.0
for _ in range(5):
    t = time.perf_counter()
    for stored, resource in plans:
        for code, table, extract in stored:
            extract(resource)
    best = max(best, len(plans) / (time.perf_counter() - t))
print(f"extractors alone (parsed resources, no row assembly): {best:,.0f} resources/s")
