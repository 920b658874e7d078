"""Package the codes and subsumption hierarchies of the R4 code systems, for token search
modifiers (:below, :above, :in over ValueSets that include whole systems) and, later, the
terminology operations.

    python scripts/build_terminology.py [--source ../shared/fhir-r4]

Writes `fireside/fhir/terminology/code-systems.json.gz`: for each CodeSystem url, its version,
content mode, every code, and the parent -> children links (read from concept nesting and the
parent/subsumedBy/child properties by the same function the server uses for stored CodeSystems).
About 20,000 codes of 1,060 systems, 86 KB compressed. The ValueSet expansions are built by
`build_valuesets.py` (all R4 value sets, not only the required ones).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

from build_definitions import REPO, load_bundle

from fireside.fhir.terminology.codesystems import PACKAGED_CODE_SYSTEMS, all_concepts, view_of_code_system

OUTPUT = REPO / "fireside" / "fhir" / "terminology" / PACKAGED_CODE_SYSTEMS


def build(source: Path) -> None:
    packaged: dict[str, Any] = {}
    for name in ("valuesets.json", "v3-codesystems.json", "v2-tables.json"):
        for resource in load_bundle(source / name):
            if resource["resourceType"] != "CodeSystem" or not resource.get("concept"):
                continue
            view = view_of_code_system(resource)
            packaged[resource["url"]] = {
                "version": view.version,
                "content": view.content,
                # In definition order, which `$expand` will want later.
                "codes": list(dict.fromkeys(c["code"] for c, _ in all_concepts(resource["concept"]))),
                "children": {parent: list(found) for parent, found in sorted(view.children.items())},
            }
    links = sum(len(found) for entry in packaged.values() for found in entry["children"].values())
    print(f"{len(packaged)} code systems, {links} parent links")
    payload = json.dumps(packaged, separators=(",", ":"), sort_keys=True).encode()
    OUTPUT.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "fhir-r4")
    build(parser.parse_args().source)


if __name__ == "__main__":
    main()
