"""Conditional URLs, unknown parameters (ignored, or refused when strict) and project isolation."""

from __future__ import annotations

import uuid

import pytest

from fireside.fhir import FhirError
from fireside.store import AccessContext
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def practitioners(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Practitioner", "id": "p7", "identifier": [{"system": "http://npi", "value": "7"}]},
        {"resourceType": "Practitioner", "id": "p8", "identifier": [{"system": "http://npi", "value": "8"}]},
        {"resourceType": "Practitioner", "id": "p8b", "identifier": [{"system": "http://npi", "value": "8"}]},
    )


async def test_a_conditional_url_resolves_to_its_matches(searcher: Searcher) -> None:
    await practitioners(searcher)
    found = await searcher.engine.resolve_conditional(None, searcher.ctx, "Practitioner?identifier=http://npi|7")
    assert [r.id for r in found] == ["p7"]
    several = await searcher.engine.resolve_conditional(None, searcher.ctx, "Practitioner?identifier=8")
    assert len(several) == 2
    assert await searcher.engine.resolve_conditional(None, searcher.ctx, "Practitioner?identifier=9") == []


async def test_a_conditional_url_sees_writes_of_its_own_transaction(searcher: Searcher) -> None:
    async with searcher.store.transaction(searcher.ctx) as unit:
        unit.stage_put({"resourceType": "Patient", "identifier": [{"system": "http://mrn", "value": "42"}]},
                       "new", None)
        await unit.flush()
        found = await searcher.engine.resolve_conditional(unit.conn, searcher.ctx, "Patient?identifier=http://mrn|42")
    assert [r.id for r in found] == ["new"]


async def test_a_conditional_url_with_an_unknown_parameter_is_refused(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.engine.resolve_conditional(None, searcher.ctx, "Patient?shoe-size=9")
    assert raised.value.issues[0].code == "not-supported" and "shoe-size" in raised.value.issues[0].diagnostics


async def test_a_conditional_url_must_name_a_type_and_criteria(searcher: Searcher) -> None:
    with pytest.raises(FhirError):
        await searcher.engine.resolve_conditional(None, searcher.ctx, "identifier=1")


async def test_unknown_and_unsupported_parameters_are_ignored_and_listed(searcher: Searcher) -> None:
    await practitioners(searcher)
    result = await searcher.search(
        "Practitioner", "shoe-size=9&organization.name=x&_contained=true"
        "&_include=Practitioner:organization&_sort=shoe-size")
    assert {r.id for r in result.resources} == {"p7", "p8", "p8b"}
    assert result.ignored == ["shoe-size", "organization.name", "_contained",
                              "_include=Practitioner:organization", "_sort=shoe-size"]


async def test_known_parameters_not_supported_yet_are_refused_under_strict_handling(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.search("Observation", "_contained=true", strict=True)
    assert "is not supported yet" in raised.value.issues[0].diagnostics
    # Composites are supported (test_composite.py), strict or not.
    await searcher.search("Observation", "code-value-quantity=http://loinc.org|8867-4$gt100", strict=True)


async def test_a_search_never_sees_another_projects_resources(searcher: Searcher) -> None:
    await practitioners(searcher)
    elsewhere = AccessContext(uuid.uuid4(), "Practitioner/other")
    result = await searcher.engine.search(elsewhere, "Practitioner", [("identifier", "8")])
    assert result.resources == [] and result.total == 0
    assert await searcher.engine.resolve_conditional(None, elsewhere, "Practitioner?identifier=7") == []
