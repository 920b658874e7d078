"""Compartment criteria (https://hl7.org/fhir/R4/compartmentdefinition.html) applied to search."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest

from fireside.fhir import FhirError
from fireside.search.compartments import compartment_criteria
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


def observation(resource_id: str, **references: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Observation", "id": resource_id, "status": "final",
                                "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]}}
    for name, target in references.items():
        resource[name] = {"reference": target} if name == "subject" else [{"reference": target}]
    return resource


async def in_compartment(searcher: Searcher, compartment: str, resource_type: str, query: str = "") -> set[str]:
    compartment_type, _, compartment_id = compartment.partition("/")
    within = compartment_criteria(searcher.engine.registry, compartment_type, compartment_id, resource_type)
    result = await searcher.engine.search(searcher.ctx, resource_type, parse_qsl(query), restrictions=[within])
    return {stored.id for stored in result.resources}


async def records(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "1"},
        {"resourceType": "Patient", "id": "2", "link": [{"other": {"reference": "Patient/1"}, "type": "seealso"}]},
        {"resourceType": "Patient", "id": "3"},
        observation("about", subject="Patient/1"),
        observation("by", subject="Patient/3", performer="Patient/1"),
        observation("elsewhere", subject="Patient/3"),
        observation("group", subject="Group/1"),
    )


async def test_a_compartment_holds_what_any_of_its_parameters_refers_to(searcher: Searcher) -> None:
    await records(searcher)
    assert await in_compartment(searcher, "Patient/1", "Observation") == {"about", "by"}


async def test_other_criteria_narrow_the_compartment(searcher: Searcher) -> None:
    await records(searcher)
    assert await in_compartment(searcher, "Patient/1", "Observation", "subject=Patient/3") == {"by"}
    assert await in_compartment(searcher, "Patient/1", "Observation", "code=nope") == set()


async def test_the_compartment_resource_is_in_its_own_compartment(searcher: Searcher) -> None:
    await records(searcher)
    assert await in_compartment(searcher, "Patient/1", "Patient") == {"1", "2"}


async def test_a_compartment_search_counts_and_pages(searcher: Searcher) -> None:
    await records(searcher)
    within = compartment_criteria(searcher.engine.registry, "Patient", "1", "Observation")
    result = await searcher.engine.search(searcher.ctx, "Observation", [("_count", "1"), ("_total", "accurate")],
                                          restrictions=[within])
    assert result.total == 2 and len(result.resources) == 1 and result.next_cursor is not None
    rest = await searcher.engine.search(
        searcher.ctx, "Observation", [("_count", "1"), ("_cursor", result.next_cursor)], restrictions=[within])
    assert {r.id for r in [*result.resources, *rest.resources]} == {"about", "by"}


async def test_deleted_resources_are_not_in_a_compartment(searcher: Searcher) -> None:
    await records(searcher)
    await searcher.delete("Observation", "about")
    assert await in_compartment(searcher, "Patient/1", "Observation") == {"by"}


async def test_a_type_outside_the_compartment_is_invalid(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await in_compartment(searcher, "Patient/1", "Organization")
    assert raised.value.issues[0].code == "invalid" and "Organization" in raised.value.issues[0].diagnostics


async def test_a_type_without_a_compartment_is_not_found(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await in_compartment(searcher, "Observation/1", "Patient")
    assert raised.value.status == 404
