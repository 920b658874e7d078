"""Token modifiers that need terminology (https://hl7.org/fhir/R4/search.html#token): :in and
:not-in with R4 and project ValueSets, :below and :above over code system hierarchies."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from fireside.fhir import FhirError
from fireside.store import AccessContext
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CATEGORY_SET = "http://hl7.org/fhir/ValueSet/observation-category"
SNOMED = "http://snomed.info/sct"
LOCAL = "http://example.org/fhir/CodeSystem/findings"
LOCAL_SET = "http://example.org/fhir/ValueSet/findings"


def observation(resource_id: str, *codings: tuple[str, str]) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": resource_id, "status": "final", "code": {"text": "x"},
            "category": [{"coding": [{"system": system, "code": code} for system, code in codings]}]}


def condition(resource_id: str, *codings: tuple[str, str]) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": resource_id, "subject": {"reference": "Patient/p"},
            "code": {"coding": [{"system": system, "code": code} for system, code in codings]}}


# A small hierarchy: disorder > (lung disorder > (asthma, pneumonia), heart disorder); fever is
# a child of finding through the `parent` property rather than nesting.
FINDINGS = {
    "resourceType": "CodeSystem", "id": "findings", "url": LOCAL, "status": "active", "content": "complete",
    "hierarchyMeaning": "is-a",
    "property": [{"code": "parent", "type": "code"}, {"code": "severity", "type": "string"}],
    "concept": [
        {"code": "disorder", "concept": [
            {"code": "lung", "concept": [
                {"code": "asthma", "property": [{"code": "severity", "valueString": "chronic"}]},
                {"code": "pneumonia"}]},
            {"code": "heart"}]},
        {"code": "finding"},
        {"code": "fever", "property": [{"code": "parent", "valueCode": "finding"}]},
    ],
}


async def categorized(searcher: Searcher) -> None:
    await searcher.put(
        observation("lab", (CATEGORY, "laboratory")),
        observation("vitals", (CATEGORY, "vital-signs")),
        observation("other-system", ("http://example.org/other", "laboratory")),
        observation("mixed", ("http://example.org/other", "x"), (CATEGORY, "exam")),
        {"resourceType": "Observation", "id": "uncategorized", "status": "final", "code": {"text": "x"}},
    )


async def diagnosed(searcher: Searcher) -> None:
    await searcher.put(
        FINDINGS,
        condition("asthma", (LOCAL, "asthma")),
        condition("pneumonia", (LOCAL, "pneumonia")),
        condition("heart", (LOCAL, "heart")),
        condition("fever", (LOCAL, "fever")),
        condition("elsewhere", ("http://example.org/other", "asthma")),
        {"resourceType": "Condition", "id": "uncoded", "subject": {"reference": "Patient/p"}},
    )


async def test_in_matches_codes_of_a_packaged_r4_value_set_and_only_in_its_systems(searcher: Searcher) -> None:
    await categorized(searcher)
    assert await searcher.ids("Observation", f"category:in={CATEGORY_SET}") == {"lab", "vitals", "mixed"}


async def test_in_takes_a_canonical_with_a_version_and_several_value_sets(searcher: Searcher) -> None:
    await categorized(searcher)
    await searcher.put({"resourceType": "ValueSet", "id": "other", "url": "http://example.org/vs/other",
                        "version": "2", "status": "active",
                        "compose": {"include": [{"system": "http://example.org/other",
                                                 "concept": [{"code": "laboratory"}]}]}})
    query = f"category:in=http://example.org/vs/other|2,{CATEGORY_SET}"
    assert await searcher.ids("Observation", query) == {"lab", "vitals", "mixed", "other-system"}


async def test_not_in_matches_resources_with_no_coding_in_the_set_including_those_without_any(
    searcher: Searcher,
) -> None:
    await categorized(searcher)
    assert await searcher.ids("Observation", f"category:not-in={CATEGORY_SET}") == {"other-system", "uncategorized"}


async def test_in_a_project_value_set_with_explicit_concepts(searcher: Searcher) -> None:
    await diagnosed(searcher)
    await searcher.put({"resourceType": "ValueSet", "id": "picked", "url": LOCAL_SET, "status": "active",
                        "compose": {"include": [{"system": LOCAL,
                                                 "concept": [{"code": "asthma"}, {"code": "heart"}]}]}})
    assert await searcher.ids("Condition", f"code:in={LOCAL_SET}") == {"asthma", "heart"}
    assert await searcher.ids("Condition", "code:in=ValueSet/picked") == {"asthma", "heart"}


async def test_in_a_project_value_set_with_an_is_a_filter_and_an_exclusion(searcher: Searcher) -> None:
    await diagnosed(searcher)
    await searcher.put({"resourceType": "ValueSet", "id": "lungs", "url": LOCAL_SET, "status": "active", "compose": {
        "include": [{"system": LOCAL, "filter": [{"property": "concept", "op": "is-a", "value": "lung"}]}],
        "exclude": [{"system": LOCAL, "concept": [{"code": "pneumonia"}]}]}})
    assert await searcher.ids("Condition", f"code:in={LOCAL_SET}") == {"asthma"}


async def test_in_a_project_value_set_with_descendent_of_and_property_filters(searcher: Searcher) -> None:
    await diagnosed(searcher)
    await searcher.put(
        {"resourceType": "ValueSet", "id": "below-disorder", "url": "http://example.org/vs/d", "status": "active",
         "compose": {"include": [{"system": LOCAL, "filter": [
             {"property": "concept", "op": "descendent-of", "value": "disorder"}]}]}},
        {"resourceType": "ValueSet", "id": "chronic", "url": "http://example.org/vs/c", "status": "active",
         "compose": {"include": [{"system": LOCAL, "filter": [
             {"property": "severity", "op": "=", "value": "chronic"}]}]}},
    )
    assert await searcher.ids("Condition", "code:in=http://example.org/vs/d") == {"asthma", "pneumonia", "heart"}
    assert await searcher.ids("Condition", "code:in=http://example.org/vs/c") == {"asthma"}


async def test_in_a_value_set_of_a_whole_code_system_and_an_imported_value_set(searcher: Searcher) -> None:
    await diagnosed(searcher)
    await searcher.put(
        {"resourceType": "ValueSet", "id": "all", "url": "http://example.org/vs/all", "status": "active",
         "compose": {"include": [{"system": LOCAL}]}},
        {"resourceType": "ValueSet", "id": "imports", "url": "http://example.org/vs/imports", "status": "active",
         "compose": {"include": [{"valueSet": ["http://example.org/vs/all"]}],
                     "exclude": [{"system": LOCAL, "concept": [{"code": "fever"}]}]}},
    )
    everything = {"asthma", "pneumonia", "heart", "fever"}
    assert await searcher.ids("Condition", "code:in=http://example.org/vs/all") == everything
    assert await searcher.ids("Condition", "code:in=http://example.org/vs/imports") == everything - {"fever"}


async def test_in_a_value_set_with_an_expansion_uses_the_expansion(searcher: Searcher) -> None:
    await diagnosed(searcher)
    await searcher.put({"resourceType": "ValueSet", "id": "expanded", "url": LOCAL_SET, "status": "active",
                        "expansion": {"timestamp": "2024-01-01T00:00:00Z", "contains": [
                            {"system": LOCAL, "code": "fever"},
                            {"abstract": True, "code": "group", "contains": [{"system": LOCAL, "code": "heart"}]}]}})
    assert await searcher.ids("Condition", f"code:in={LOCAL_SET}") == {"fever", "heart"}


async def test_a_value_set_of_another_project_is_unknown(searcher: Searcher) -> None:
    other = Searcher(searcher.store, searcher.engine, AccessContext(uuid.uuid4(), "Practitioner/other"))
    await other.put({"resourceType": "ValueSet", "id": "theirs", "url": LOCAL_SET, "status": "active",
                     "compose": {"include": [{"system": LOCAL, "concept": [{"code": "asthma"}]}]}})
    await diagnosed(searcher)
    assert await other.ids("Condition", f"code:in={LOCAL_SET}") == set()
    for query in (f"code:in={LOCAL_SET}", "code:in=ValueSet/theirs"):
        with pytest.raises(FhirError) as raised:
            await searcher.ids("Condition", query)
        assert raised.value.http_status == 400
        assert "code:in" in str(raised.value)


async def test_a_value_set_that_cannot_be_listed_is_a_400(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "ValueSet", "id": "regex", "url": LOCAL_SET, "status": "active",
                        "compose": {"include": [{"system": LOCAL, "filter": [
                            {"property": "concept", "op": "regex", "value": "a.*"}]}]}})
    for query in (f"code:in={LOCAL_SET}", "code:in=http://example.org/vs/nowhere",
                  # Draws on SNOMED CT, which is not packaged.
                  "code:in=http://hl7.org/fhir/ValueSet/condition-code"):
        with pytest.raises(FhirError) as raised:
            await searcher.ids("Condition", query)
        assert raised.value.http_status == 400
        assert "code:in" in str(raised.value)


async def test_below_matches_the_code_and_everything_it_subsumes(searcher: Searcher) -> None:
    await diagnosed(searcher)
    assert await searcher.ids("Condition", f"code:below={LOCAL}|lung") == {"asthma", "pneumonia"}
    assert await searcher.ids("Condition", f"code:below={LOCAL}|disorder") == {"asthma", "pneumonia", "heart"}
    assert await searcher.ids("Condition", f"code:below={LOCAL}|finding") == {"fever"}
    assert await searcher.ids("Condition", f"code:below={LOCAL}|asthma") == {"asthma"}


async def test_above_matches_the_code_and_everything_that_subsumes_it(searcher: Searcher) -> None:
    await diagnosed(searcher)
    await searcher.put(condition("lung", (LOCAL, "lung")), condition("disorder", (LOCAL, "disorder")))
    assert await searcher.ids("Condition", f"code:above={LOCAL}|asthma") == {"asthma", "lung", "disorder"}
    assert await searcher.ids("Condition", f"code:above={LOCAL}|heart") == {"heart", "disorder"}


async def test_below_follows_a_new_version_of_the_code_system(searcher: Searcher) -> None:
    await diagnosed(searcher)
    assert await searcher.ids("Condition", f"code:below={LOCAL}|heart") == {"heart"}
    moved = {**FINDINGS, "concept": [*FINDINGS["concept"], {"code": "pneumonia",
                                                            "property": [{"code": "parent", "valueCode": "heart"}]}]}
    await searcher.put(moved)
    assert await searcher.ids("Condition", f"code:below={LOCAL}|heart") == {"heart", "pneumonia"}


async def test_below_uses_the_packaged_r4_hierarchies(searcher: Searcher) -> None:
    act_class = "http://terminology.hl7.org/CodeSystem/v3-ActClass"
    await searcher.put(
        {"resourceType": "Encounter", "id": "inpatient", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "ACUTE"}},
        {"resourceType": "Encounter", "id": "outpatient", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}},
    )
    # v3-ActCode nests ACUTE (inpatient acute) under IMP (inpatient encounter).
    act_code = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    assert await searcher.ids("Encounter", f"class:below={act_code}|IMP") == {"inpatient"}
    assert await searcher.ids("Encounter", f"class:above={act_code}|ACUTE") == {"inpatient"}
    assert await searcher.ids("Encounter", f"class:below={act_class}|IMP") == set()


async def test_below_in_a_code_system_without_a_known_hierarchy_matches_the_code_itself(searcher: Searcher) -> None:
    await searcher.put(condition("a", (SNOMED, "195662009")), condition("b", (SNOMED, "38341003")))
    assert await searcher.ids("Condition", f"code:below={SNOMED}|195662009") == {"a"}


async def test_below_and_above_need_a_system_and_a_code(searcher: Searcher) -> None:
    for query in ("code:below=asthma", f"code:above={LOCAL}|", "code:below=|asthma"):
        with pytest.raises(FhirError) as raised:
            await searcher.ids("Condition", query)
        assert raised.value.http_status == 400
        assert query.split("=")[0] in str(raised.value)


async def test_terminology_modifiers_combine_with_other_criteria(searcher: Searcher) -> None:
    await diagnosed(searcher)
    query = f"code:below={LOCAL}|disorder&code:not-in=http://example.org/vs/nowhere-else"
    with pytest.raises(FhirError):
        await searcher.ids("Condition", query)
    await searcher.put({"resourceType": "ValueSet", "id": "lungs", "url": LOCAL_SET, "status": "active",
                        "compose": {"include": [{"system": LOCAL, "filter": [
                            {"property": "concept", "op": "is-a", "value": "lung"}]}]}})
    assert await searcher.ids("Condition", f"code:below={LOCAL}|disorder&code:not-in={LOCAL_SET}") == {"heart"}


def test_over_http_a_terminology_search_answers_and_an_unknown_value_set_is_a_400(fhir: httpx.Client) -> None:
    created = fhir.put("/CodeSystem/findings", json=FINDINGS)
    assert created.status_code in (200, 201), created.text
    for resource in (condition("asthma", (LOCAL, "asthma")), condition("heart", (LOCAL, "heart"))):
        assert fhir.put(f"/Condition/{resource['id']}", json=resource).status_code in (200, 201)
    found = fhir.get("/Condition", params={"code:below": f"{LOCAL}|lung"})
    assert found.status_code == 200, found.text
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["asthma"]
    refused = fhir.get("/Condition", params={"code:in": "http://example.org/vs/nowhere"})
    assert refused.status_code == 400
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert "code:in" in refused.json()["issue"][0]["diagnostics"]


async def test_a_below_of_many_rows_is_walked_with_the_same_matches(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past WALKED_FROM_ROWS index rows, a criterion of several codes is checked on each
    Condition in id order (filters): the same matches and counts."""
    await diagnosed(searcher)
    monkeypatch.setattr("fireside.search.engine.WALKED_FROM_ROWS", 1)
    assert await searcher.ids("Condition", f"code:below={LOCAL}|disorder") == {"asthma", "pneumonia", "heart"}
    assert await searcher.ids("Condition", f"code:below={LOCAL}|asthma") == {"asthma"}
    # A first page that holds every match still says how many; one that does not, not.
    assert (await searcher.search("Condition", f"code:below={LOCAL}|lung")).total == 2
    assert (await searcher.search("Condition", f"code:below={LOCAL}|lung&_count=1")).total is None
    counted = await searcher.search("Condition", f"code:below={LOCAL}|lung&_count=1&_total=accurate")
    assert counted.total == 2
