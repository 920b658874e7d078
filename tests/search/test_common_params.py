"""The search parameters of every resource (https://hl7.org/fhir/R4/resource.html#search):
_tag and _security (tokens on meta), _profile and _source (uris on meta)."""

from __future__ import annotations

import pytest

from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

WORKFLOW = "http://example.org/tags"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"


async def tagged(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "a", "meta": {
            "tag": [{"system": WORKFLOW, "code": "review"}],
            "security": [{"system": CONFIDENTIALITY, "code": "R"}],
            "profile": [US_CORE], "source": "http://lab.example/feed#42"}},
        {"resourceType": "Patient", "id": "b", "meta": {
            "tag": [{"system": "http://other", "code": "review"}, {"code": "vip"}],
            "security": [{"system": CONFIDENTIALITY, "code": "N"}],
            "profile": ["http://example.org/fhir/StructureDefinition/local"], "source": "http://ehr.example"}},
        {"resourceType": "Patient", "id": "c"},
    )


async def test_tag_matches_by_code_by_system_and_code_and_without_system(searcher: Searcher) -> None:
    await tagged(searcher)
    assert await searcher.ids("Patient", "_tag=review") == {"a", "b"}
    assert await searcher.ids("Patient", f"_tag={WORKFLOW}|review") == {"a"}
    assert await searcher.ids("Patient", "_tag=|vip") == {"b"}
    assert await searcher.ids("Patient", f"_tag:not={WORKFLOW}|review") == {"b", "c"}


async def test_tag_missing_finds_untagged_resources(searcher: Searcher) -> None:
    await tagged(searcher)
    assert await searcher.ids("Patient", "_tag:missing=true") == {"c"}


async def test_security_matches_security_labels(searcher: Searcher) -> None:
    await tagged(searcher)
    assert await searcher.ids("Patient", f"_security={CONFIDENTIALITY}|R") == {"a"}
    assert await searcher.ids("Patient", "_security=N,R") == {"a", "b"}
    assert await searcher.ids("Patient", "_security=review") == set()


async def test_profile_matches_the_canonical_and_below(searcher: Searcher) -> None:
    await tagged(searcher)
    assert await searcher.ids("Patient", f"_profile={US_CORE}") == {"a"}
    assert await searcher.ids("Patient", "_profile:below=http://example.org/fhir") == {"b"}
    assert await searcher.ids("Patient", "_profile=http://example.org/fhir") == set()


async def test_source_matches_the_whole_uri(searcher: Searcher) -> None:
    await tagged(searcher)
    assert await searcher.ids("Patient", "_source=http://lab.example/feed%2342") == {"a"}
    assert await searcher.ids("Patient", "_source=http://ehr.example") == {"b"}
    assert await searcher.ids("Patient", "_source:below=http://lab.example") == {"a"}


async def test_common_parameters_apply_to_every_type(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
                        "meta": {"tag": [{"system": WORKFLOW, "code": "review"}]}})
    assert await searcher.ids("Observation", f"_tag={WORKFLOW}|review") == {"o"}
