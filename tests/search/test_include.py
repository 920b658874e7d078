"""_include and _revinclude (https://hl7.org/fhir/R4/search.html#include): forward and reverse,
by target type, `*`, :iterate, per page, within the project, and their errors."""

from __future__ import annotations

import uuid

import pytest
from psycopg import sql
from psycopg.rows import dict_row

from fireside.fhir import FhirError
from fireside.search import includes
from fireside.search.includes import parse_include
from fireside.store import AccessContext, StoredResource
from fireside.store.indexing import SearchParameterRegistry
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


def keys(resources: list[StoredResource]) -> set[str]:
    return {stored.reference for stored in resources}


async def clinic(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Organization", "id": "acme", "name": "Acme"},
        {"resourceType": "Patient", "id": "ana", "managingOrganization": {"reference": "Organization/acme"}},
        {"resourceType": "Patient", "id": "bob"},
        {"resourceType": "Group", "id": "team", "type": "person", "actual": True},
        {"resourceType": "Practitioner", "id": "doc"},
        {"resourceType": "Practitioner", "id": "nurse"},
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/ana"},
         "participant": [{"individual": {"reference": "Practitioner/doc"}}]},
        {"resourceType": "Encounter", "id": "e2", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/bob"},
         "participant": [{"individual": {"reference": "Practitioner/nurse"}}]},
        {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Patient/ana"}, "encounter": {"reference": "Encounter/e1"},
         "performer": [{"reference": "Practitioner/doc"}]},
        {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Group/team"}},
    )


async def test_include_adds_the_referenced_resources_as_include_entries(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.search("Encounter", "_id=e1&_include=Encounter:practitioner")
    assert keys(result.resources) == {"Encounter/e1"}
    assert keys(result.included) == {"Practitioner/doc"}
    assert result.total == 1


async def test_include_with_a_target_type_follows_only_references_to_that_type(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.search("Observation", "_include=Observation:subject:Patient")
    assert keys(result.included) == {"Patient/ana"}
    every_subject = await searcher.search("Observation", "_include=Observation:subject")
    assert keys(every_subject.included) == {"Patient/ana", "Group/team"}


async def test_include_of_a_derived_parameter_reads_the_rows_it_derives_from(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.search("Observation", "_include=Observation:patient")
    assert keys(result.included) == {"Patient/ana"}


async def test_include_star_follows_every_reference_parameter(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.search("Observation", "_id=o1&_include=Observation:*")
    assert keys(result.included) == {"Patient/ana", "Encounter/e1", "Practitioner/doc"}


async def test_revinclude_adds_the_resources_that_refer_to_the_matches(searcher: Searcher) -> None:
    await clinic(searcher)
    await searcher.put({"resourceType": "Provenance", "id": "p1", "recorded": "2024-01-01T00:00:00Z",
                        "target": [{"reference": "Patient/ana"}],
                        "agent": [{"who": {"reference": "Practitioner/doc"}}]})
    result = await searcher.search("Patient", "_revinclude=Provenance:target&_revinclude=Observation:subject")
    assert keys(result.resources) == {"Patient/ana", "Patient/bob"}
    assert keys(result.included) == {"Provenance/p1", "Observation/o1"}


async def test_an_included_resource_already_a_match_or_included_twice_appears_once(searcher: Searcher) -> None:
    await clinic(searcher)
    await searcher.put({"resourceType": "Patient", "id": "cy", "link": [
        {"other": {"reference": "Patient/ana"}, "type": "seealso"}]})
    result = await searcher.search(
        "Patient", "_include=Patient:link&_include=Patient:organization&_revinclude=Patient:link")
    assert keys(result.resources) == {"Patient/ana", "Patient/bob", "Patient/cy"}
    assert [s.reference for s in result.included] == ["Organization/acme"]
    encounters = await searcher.search("Observation", "_include=Observation:performer&_include=Observation:patient"
                                       "&_include=Observation:subject")
    assert sorted(s.reference for s in encounters.included) == ["Group/team", "Patient/ana", "Practitioner/doc"]


async def test_include_of_a_deleted_target_is_omitted(searcher: Searcher) -> None:
    await clinic(searcher)
    await searcher.delete("Practitioner", "doc")
    result = await searcher.search("Encounter", "_include=Encounter:practitioner")
    assert keys(result.included) == {"Practitioner/nurse"}


async def test_include_never_reaches_another_project(searcher: Searcher) -> None:
    await clinic(searcher)
    other = Searcher(searcher.store, searcher.engine, AccessContext(uuid.uuid4(), "Practitioner/other"))
    await other.put({"resourceType": "Practitioner", "id": "stranger"},
                    {"resourceType": "Encounter", "id": "e9", "status": "finished", "class": {"code": "AMB"},
                     "subject": {"reference": "Patient/ana"},
                     "participant": [{"individual": {"reference": "Practitioner/doc"}}]})
    await searcher.put({"resourceType": "Encounter", "id": "e3", "status": "finished", "class": {"code": "AMB"},
                        "participant": [{"individual": {"reference": "Practitioner/stranger"}}]})
    forward = await searcher.search("Encounter", "_id=e3&_include=Encounter:practitioner")
    assert forward.included == []
    reverse = await searcher.search("Patient", "_id=ana&_revinclude=Encounter:subject")
    assert keys(reverse.included) == {"Encounter/e1"}
    theirs = await other.search("Encounter", "_include=Encounter:practitioner&_include=Encounter:subject")
    assert theirs.included == []


async def test_includes_are_resolved_for_each_page(searcher: Searcher) -> None:
    await clinic(searcher)
    first = await searcher.search("Encounter", "_count=1&_include=Encounter:practitioner&_total=accurate")
    assert first.next_cursor is not None and first.total == 2
    second = await searcher.search("Encounter", f"_count=1&_include=Encounter:practitioner&_cursor={first.next_cursor}")
    by_page = {s.id: i.id for page in (first, second) for s in page.resources for i in page.included}
    assert by_page == {"e1": "doc", "e2": "nurse"}


async def test_iterate_follows_includes_of_included_resources(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.search(
        "Observation", "_id=o1&_include=Observation:patient&_include:iterate=Patient:organization")
    assert keys(result.included) == {"Patient/ana", "Organization/acme"}
    without = await searcher.search(
        "Observation", "_id=o1&_include=Observation:patient&_include=Patient:organization")
    assert keys(without.included) == {"Patient/ana"}


async def test_iterate_reaches_a_medication_through_its_request_and_recurse_is_its_alias(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Medication", "id": "aspirin", "code": {"text": "aspirin"}},
        {"resourceType": "Patient", "id": "ana"},
        {"resourceType": "MedicationRequest", "id": "rx", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/ana"}, "medicationReference": {"reference": "Medication/aspirin"}},
    )
    for modifier in ("iterate", "recurse"):
        result = await searcher.search(
            "Patient", f"_revinclude=MedicationRequest:subject&_include:{modifier}=MedicationRequest:medication")
        assert keys(result.included) == {"MedicationRequest/rx", "Medication/aspirin"}


async def test_iterate_stops_after_the_level_cap_and_says_so(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(includes, "MAX_LEVELS", 2)
    await searcher.put(*[{"resourceType": "Patient", "id": f"p{i}",
                          **({"link": [{"other": {"reference": f"Patient/p{i + 1}"}, "type": "seealso"}]}
                             if i < 4 else {})} for i in range(5)])
    result = await searcher.search("Patient", "_id=p0&_include:iterate=Patient:link")
    assert keys(result.included) == {"Patient/p1", "Patient/p2"}
    assert any("levels" in warning for warning in result.include_warnings)
    full = await searcher.search("Patient", "_id=p2&_include:iterate=Patient:link")
    assert keys(full.included) == {"Patient/p3", "Patient/p4"} and full.include_warnings == []


async def test_included_resources_are_capped_per_page_with_a_warning(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(includes, "MAX_INCLUDED", 2)
    await clinic(searcher)
    result = await searcher.search("Observation", "_id=o1&_include=Observation:*")
    assert len(result.included) == 2
    assert any("first 2" in warning for warning in result.include_warnings)


async def test_includes_do_not_count_in_the_total_nor_run_for_summary_count(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.search("Encounter", "_include=Encounter:practitioner&_total=accurate")
    assert result.total == 2 and len(result.included) == 2
    counted = await searcher.search("Encounter", "_include=Encounter:practitioner&_summary=count")
    assert counted.total == 2 and counted.included == []


async def test_an_unknown_include_parameter_is_ignored_or_refused_under_strict(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.search("Encounter", "_include=Encounter:nonsense")
    assert result.ignored == ["_include=Encounter:nonsense"] and result.included == []
    with pytest.raises(FhirError, match="nonsense"):
        await searcher.search("Encounter", "_include=Encounter:nonsense", strict=True)


@pytest.mark.parametrize("name, value", [
    ("_include", "foo"),
    ("_include", "Encounter:"),
    ("_include", "Encounter:practitioner:Practitioner:x"),
    ("_include", "Nonsense:subject"),
    ("_include", "Encounter:status"),
    ("_include", "Observation:patient:Group"),
    ("_include:deep", "Encounter:practitioner"),
    ("_revinclude", "Observation:subject:Unknown"),
])
def test_a_malformed_include_is_a_400(registry: SearchParameterRegistry, name: str, value: str) -> None:
    with pytest.raises(FhirError) as raised:
        parse_include(registry, name, value, strict=False)
    assert raised.value.http_status == 400
    assert name.partition(":")[0] in str(raised.value.outcome())


async def test_encounter_by_patient_with_practitioners_uses_the_reference_indexes(searcher: Searcher) -> None:
    """The include query of `Encounter?patient=X&_include=Encounter:practitioner` reads the page's
    rows from the resource index. Sequential scans are off: these tables hold a handful of rows,
    where a scan is cheapest; the point is that the indexes can serve the query."""
    await clinic(searcher)
    result = await searcher.search("Encounter", "patient=ana&_include=Encounter:practitioner")
    assert keys(result.included) == {"Practitioner/doc"}
    include = parse_include(searcher.engine.registry, "_include", "Encounter:practitioner", strict=False)
    reverse = parse_include(searcher.engine.registry, "_revinclude", "Provenance:target", strict=False)
    assert include is not None and reverse is not None
    query = includes.include_query(searcher.ctx.project_id, [include, reverse], result.resources,
                                   [s.key for s in result.resources], 1001)
    assert query is not None
    async with searcher.engine.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute("SET enable_seqscan = off")
        await cursor.execute(sql.SQL("EXPLAIN ") + query[0], query[1])
        plan = "\n".join(row["QUERY PLAN"] for row in await cursor.fetchall())
    # Which of the two reference indexes serves each half is the planner's choice at this size
    # (PostgreSQL 15 and 18 differ); what matters is that no half needs a scan of the table.
    assert "Seq Scan on search_reference" not in plan, plan
    assert plan.count("using search_reference_") >= 2, plan


async def test_a_system_search_resolves_includes_for_the_matches_of_each_source_type(searcher: Searcher) -> None:
    await clinic(searcher)
    result = await searcher.engine.search_system(
        searcher.ctx, [("_type", "Encounter,Observation"), ("_id", "e1,o2"),
                       ("_include", "Encounter:practitioner"), ("_include", "Observation:subject")])
    assert keys(result.resources) == {"Encounter/e1", "Observation/o2"}
    assert keys(result.included) == {"Practitioner/doc", "Group/team"}
