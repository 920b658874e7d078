"""Uri search: the whole URI, :below and :above."""

from __future__ import annotations

import pytest

from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def value_sets(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "ValueSet", "id": "a", "status": "active", "url": "http://acme.org/fhir/ValueSet/a"},
        {"resourceType": "ValueSet", "id": "b", "status": "active", "url": "http://acme.org/fhir/ValueSet/b"},
        {"resourceType": "ValueSet", "id": "root", "status": "active", "url": "http://acme.org/fhir"},
        {"resourceType": "ValueSet", "id": "other", "status": "active", "url": "http://other.org/fhir/ValueSet/a"},
    )


async def test_a_uri_matches_exactly(searcher: Searcher) -> None:
    await value_sets(searcher)
    assert await searcher.ids("ValueSet", "url=http://acme.org/fhir/ValueSet/a") == {"a"}
    assert await searcher.ids("ValueSet", "url=http://acme.org/fhir/ValueSet") == set()


async def test_below_matches_uris_under_the_value(searcher: Searcher) -> None:
    await value_sets(searcher)
    assert await searcher.ids("ValueSet", "url:below=http://acme.org/fhir/ValueSet") == {"a", "b"}


async def test_above_matches_uris_the_value_is_under(searcher: Searcher) -> None:
    await value_sets(searcher)
    assert await searcher.ids("ValueSet", "url:above=http://acme.org/fhir/ValueSet/a/1.0") == {"a", "root"}


async def test_meta_profile_is_searchable_on_every_type(searcher: Searcher) -> None:
    profile = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
    await searcher.put({"resourceType": "Patient", "id": "p", "meta": {"profile": [profile]}},
                       {"resourceType": "Patient", "id": "q"})
    assert await searcher.ids("Patient", f"_profile={profile}") == {"p"}
