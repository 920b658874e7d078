"""Number and quantity search: the search value's precision, prefixes, units, and ranges."""

from __future__ import annotations

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

UCUM = "http://unitsofmeasure.org"


async def heart_rates(searcher: Searcher) -> None:
    await searcher.put(*[
        {"resourceType": "Observation", "id": name, "status": "final", "code": {"text": "heart rate"},
         "valueQuantity": {"value": value, "unit": "beats/minute", "system": UCUM, "code": "/min"}}
        for name, value in (("slow", 60), ("mid", 100.5), ("fast", 140))
    ])


async def test_a_number_equals_values_within_its_precision(searcher: Searcher) -> None:
    await heart_rates(searcher)
    assert await searcher.ids("Observation", "value-quantity=100") == set()
    assert await searcher.ids("Observation", "value-quantity=100.5") == {"mid"}
    assert await searcher.ids("Observation", "value-quantity=1.005e2") == {"mid"}  # [100.45, 100.55)
    assert await searcher.ids("Observation", "value-quantity=1e2") == {"slow", "mid", "fast"}  # [50, 150)


async def test_prefixes_compare_with_the_value(searcher: Searcher) -> None:
    await heart_rates(searcher)
    assert await searcher.ids("Observation", "value-quantity=gt100") == {"mid", "fast"}
    assert await searcher.ids("Observation", "value-quantity=le100.5") == {"slow", "mid"}
    assert await searcher.ids("Observation", "value-quantity=ne60") == {"mid", "fast"}
    assert await searcher.ids("Observation", "value-quantity=ap130") == {"fast"}


async def test_units_match_by_system_and_code_or_by_code_or_unit(searcher: Searcher) -> None:
    await heart_rates(searcher)
    assert await searcher.ids("Observation", f"value-quantity=140|{UCUM}|/min") == {"fast"}
    assert await searcher.ids("Observation", f"value-quantity=140|{UCUM}|/s") == set()
    assert await searcher.ids("Observation", "value-quantity=140||/min") == {"fast"}
    assert await searcher.ids("Observation", "value-quantity=140||beats/minute") == {"fast"}


async def test_component_values_count_for_combo_but_not_for_value(searcher: Searcher) -> None:
    await searcher.put({
        "resourceType": "Observation", "id": "bp", "status": "final", "code": {"text": "blood pressure"},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 125, "system": UCUM, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 76, "system": UCUM, "code": "mm[Hg]"}},
        ],
    })
    assert await searcher.ids("Observation", "component-value-quantity=gt120") == {"bp"}
    assert await searcher.ids("Observation", "combo-value-quantity=76") == {"bp"}
    assert await searcher.ids("Observation", "value-quantity=76") == set()
    assert await searcher.ids("Observation", "combo-code=http://loinc.org|8462-4") == {"bp"}


async def test_a_range_value_is_matched_as_a_range(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Condition", "id": "teen", "subject": {"reference": "Patient/1"},
         "onsetRange": {"low": {"value": 13, "system": UCUM, "code": "a"},
                        "high": {"value": 19, "system": UCUM, "code": "a"}}},
        {"resourceType": "Condition", "id": "adult", "subject": {"reference": "Patient/1"},
         "onsetRange": {"low": {"value": 18, "system": UCUM, "code": "a"}}},
        {"resourceType": "Condition", "id": "exact", "subject": {"reference": "Patient/1"},
         "onsetAge": {"value": 40, "system": UCUM, "code": "a"}},
    )
    assert await searcher.ids("Condition", "onset-age=gt30") == {"adult", "exact"}
    assert await searcher.ids("Condition", "onset-age=lt15") == {"teen"}
    assert await searcher.ids("Condition", f"onset-age=40|{UCUM}|a") == {"exact"}


async def test_plain_numbers_are_searched_with_number_parameters(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "RiskAssessment", "id": "low", "status": "final", "subject": {"reference": "Patient/1"},
         "prediction": [{"probabilityDecimal": 0.02}]},
        {"resourceType": "RiskAssessment", "id": "high", "status": "final", "subject": {"reference": "Patient/1"},
         "prediction": [{"probabilityDecimal": 0.8}]},
    )
    assert await searcher.ids("RiskAssessment", "probability=gt0.5") == {"high"}
    assert await searcher.ids("RiskAssessment", "probability=0.02") == {"low"}


async def test_a_malformed_number_is_invalid_and_names_the_parameter(searcher: Searcher) -> None:
    for value in ("many", "gt", "5|mg", "NaN", "Infinity"):
        with pytest.raises(FhirError) as raised:
            await searcher.ids("Observation", f"value-quantity={value}")
        assert raised.value.issues[0].code == "invalid"
        assert "value-quantity" in raised.value.issues[0].diagnostics
