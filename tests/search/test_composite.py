"""Composite search: components separated by `$`, each read as its own type, matched within one
element (https://hl7.org/fhir/R4/search.html#composite)."""

from __future__ import annotations

from typing import Any

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SYSTOLIC, DIASTOLIC, PANEL = "8480-6", "8462-4", "85354-9"


def blood_pressure(resource_id: str, systolic: float, diastolic: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": resource_id, "status": "final",
        "code": {"coding": [{"system": LOINC, "code": PANEL}]},
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": SYSTOLIC}]},
             "valueQuantity": {"value": systolic, "system": UCUM, "code": "mm[Hg]", "unit": "mmHg"}},
            {"code": {"coding": [{"system": LOINC, "code": DIASTOLIC}]},
             "valueQuantity": {"value": diastolic, "system": UCUM, "code": "mm[Hg]", "unit": "mmHg"}},
        ],
    }


def observation(resource_id: str, code: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": resource_id, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]}, **value}


async def test_components_match_only_within_the_same_observation_component(searcher: Searcher) -> None:
    # Systolic 110 with diastolic 150 has a component coded systolic and one valued 150, but no
    # one component that is both.
    await searcher.put(blood_pressure("high", 150, 90), blood_pressure("crossed", 110, 150))
    query = f"component-code-value-quantity={LOINC}|{SYSTOLIC}$gt140"
    assert await searcher.ids("Observation", query) == {"high"}


async def test_quantity_components_take_prefixes_and_units(searcher: Searcher) -> None:
    await searcher.put(blood_pressure("a", 150, 90), blood_pressure("b", 120, 70))
    assert await searcher.ids("Observation", f"component-code-value-quantity={SYSTOLIC}$le120") == {"b"}
    assert await searcher.ids(
        "Observation", f"component-code-value-quantity={LOINC}|{DIASTOLIC}$90|{UCUM}|mm[Hg]") == {"a"}
    assert await searcher.ids("Observation", f"component-code-value-quantity={SYSTOLIC}$150||kg") == set()


async def test_code_value_quantity_pairs_the_observation_code_with_its_value(searcher: Searcher) -> None:
    await searcher.put(
        observation("heavy", "29463-7", valueQuantity={"value": 90, "system": UCUM, "code": "kg"}),
        observation("light", "29463-7", valueQuantity={"value": 60, "system": UCUM, "code": "kg"}),
        observation("tall", "8302-2", valueQuantity={"value": 90, "system": UCUM, "code": "cm"}),
    )
    assert await searcher.ids("Observation", f"code-value-quantity={LOINC}|29463-7$ge80") == {"heavy"}
    assert await searcher.ids("Observation", "code-value-quantity=29463-7$lt80,8302-2$gt80") == {"light", "tall"}


async def test_combo_code_value_quantity_searches_the_observation_and_its_components(searcher: Searcher) -> None:
    await searcher.put(
        blood_pressure("panel", 150, 90),
        observation("single", SYSTOLIC, valueQuantity={"value": 145, "system": UCUM, "code": "mm[Hg]"}),
        blood_pressure("crossed", 110, 150),
    )
    assert await searcher.ids("Observation", f"combo-code-value-quantity={SYSTOLIC}$gt140") == {"panel", "single"}


async def test_date_components_take_prefixes(searcher: Searcher) -> None:
    await searcher.put(
        observation("early", "21112-8", valueDateTime="1980-05-17"),
        observation("late", "21112-8", valueDateTime="2001-02-03"),
        observation("other", "11111-1", valueDateTime="1980-05-17"),
    )
    assert await searcher.ids("Observation", "code-value-date=21112-8$lt1990") == {"early"}
    assert await searcher.ids("Observation", "code-value-date=21112-8$2001-02") == {"late"}
    assert await searcher.ids("Observation", "code-value-date=21112-8$ge1980-05-17") == {"early", "late"}


async def test_concept_and_string_components(searcher: Searcher) -> None:
    snomed = "http://snomed.info/sct"
    await searcher.put(
        observation("smoker", "72166-2", valueCodeableConcept={"coding": [{"system": snomed, "code": "77176002"}]}),
        observation("never", "72166-2", valueCodeableConcept={"coding": [{"system": snomed, "code": "266919005"}]}),
        observation("note", "8251-1", valueString="Crème brûlée allergy"),
    )
    assert await searcher.ids("Observation", f"code-value-concept=72166-2${snomed}|77176002") == {"smoker"}
    assert await searcher.ids("Observation", "code-value-string=8251-1$creme") == {"note"}
    assert await searcher.ids("Observation", "code-value-string=8251-1$allergy") == set()


async def test_an_escaped_dollar_is_part_of_the_component_value(searcher: Searcher) -> None:
    await searcher.put(observation("price", "X-1", valueString="$5 co-pay"))
    assert await searcher.ids("Observation", "code-value-string=X-1$\\$5") == {"price"}


async def test_an_element_without_the_second_component_is_not_matched(searcher: Searcher) -> None:
    await searcher.put(observation("no-value", "29463-7"),
                       observation("valued", "29463-7", valueQuantity={"value": 70}))
    assert await searcher.ids("Observation", "code-value-quantity=29463-7$70") == {"valued"}
    assert await searcher.ids("Observation", "code-value-quantity:missing=true") == {"no-value"}
    assert await searcher.ids("Observation", "code-value-quantity:missing=false") == {"valued"}


async def test_a_value_without_every_component_is_a_400_naming_the_parameter(searcher: Searcher) -> None:
    with pytest.raises(FhirError, match="code-value-quantity"):
        await searcher.ids("Observation", f"code-value-quantity={LOINC}|29463-7")
    with pytest.raises(FhirError, match="code-value-quantity"):
        await searcher.ids("Observation", "code-value-quantity=29463-7$heavy")
    with pytest.raises(FhirError, match="code-value-quantity"):
        await searcher.ids("Observation", "code-value-quantity:exact=29463-7$1")


async def test_use_context_type_and_value_are_paired_per_use_context(searcher: Searcher) -> None:
    usage = "http://terminology.hl7.org/CodeSystem/usage-context-type"
    await searcher.put({
        "resourceType": "ValueSet", "id": "vs", "status": "active",
        "useContext": [
            {"code": {"system": usage, "code": "focus"}, "valueCodeableConcept": {"coding": [{"code": "asthma"}]}},
            {"code": {"system": usage, "code": "age"},
             "valueRange": {"low": {"value": 18}, "high": {"value": 65}}},
        ],
    })
    assert await searcher.ids("ValueSet", f"context-type-value={usage}|focus$asthma") == {"vs"}
    assert await searcher.ids("ValueSet", "context-type-value=age$asthma") == set()
    assert await searcher.ids("ValueSet", "context-type-quantity=age$ge40") == {"vs"}
    assert await searcher.ids("ValueSet", "context-type-quantity=age$gt70") == set()


async def test_document_relationship_pairs_the_target_with_its_relation(searcher: Searcher) -> None:
    # R4 swaps the two components' expressions; the index reads them the right way round.
    await searcher.put({
        "resourceType": "DocumentReference", "id": "d2", "status": "current",
        "content": [{"attachment": {"url": "http://example.org/d2"}}],
        "relatesTo": [{"code": "replaces", "target": {"reference": "DocumentReference/d1"}},
                      {"code": "appends", "target": {"reference": "DocumentReference/d0"}}],
    })
    assert await searcher.ids("DocumentReference", "relationship=DocumentReference/d1$replaces") == {"d2"}
    assert await searcher.ids("DocumentReference", "relationship=DocumentReference/d1$appends") == set()


async def test_three_component_coordinates_take_the_chromosome_from_the_resource(searcher: Searcher) -> None:
    await searcher.put({
        "resourceType": "MolecularSequence", "id": "seq", "coordinateSystem": 0,
        "referenceSeq": {"chromosome": {"coding": [{"code": "1"}]}, "windowStart": 100, "windowEnd": 200},
        "variant": [{"start": 120, "end": 121}, {"start": 150, "end": 151}],
    })
    assert await searcher.ids("MolecularSequence", "chromosome-variant-coordinate=1$ge150$le151") == {"seq"}
    assert await searcher.ids("MolecularSequence", "chromosome-variant-coordinate=1$ge150$le121") == set()
    assert await searcher.ids("MolecularSequence", "chromosome-window-coordinate=1$100$200") == {"seq"}
