"""Token :of-type on Identifier parameters (https://hl7.org/fhir/R4/search.html#token):
`identifier:of-type=[type system]|[type code]|[identifier value]`."""

from __future__ import annotations

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"


async def patients(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "mrn", "identifier": [
            {"system": "http://hospital/mrn", "value": "446053",
             "type": {"coding": [{"system": V2, "code": "MR"}], "text": "Medical record number"}}]},
        {"resourceType": "Patient", "id": "licence", "identifier": [
            {"system": "http://dmv", "value": "446053", "type": {"coding": [{"system": V2, "code": "DL"}]}}]},
        {"resourceType": "Patient", "id": "untyped",
         "identifier": [{"system": "http://hospital/mrn", "value": "446053"}]},
        {"resourceType": "Patient", "id": "local-type", "identifier": [
            {"value": "446053", "type": {"coding": [{"system": "http://example.org/types", "code": "MR"}]}}]},
    )


async def test_of_type_matches_the_type_coding_and_the_value(searcher: Searcher) -> None:
    await patients(searcher)
    assert await searcher.ids("Patient", f"identifier:of-type={V2}|MR|446053") == {"mrn"}
    assert await searcher.ids("Patient", f"identifier:of-type={V2}|DL|446053") == {"licence"}


async def test_of_type_does_not_match_another_value_type_or_type_system(searcher: Searcher) -> None:
    await patients(searcher)
    assert await searcher.ids("Patient", f"identifier:of-type={V2}|MR|446054") == set()
    assert await searcher.ids("Patient", f"identifier:of-type={V2}|PPN|446053") == set()
    assert await searcher.ids("Patient", "identifier:of-type=http://example.org/types|MR|446053") == {"local-type"}


async def test_of_type_with_an_empty_type_system_matches_any_type_system(searcher: Searcher) -> None:
    await patients(searcher)
    assert await searcher.ids("Patient", "identifier:of-type=|MR|446053") == {"mrn", "local-type"}


async def test_of_type_values_are_alternatives_and_escapes_are_undone(searcher: Searcher) -> None:
    await patients(searcher)
    await searcher.put({"resourceType": "Patient", "id": "barred", "identifier": [
        {"value": "A|1", "type": {"coding": [{"system": V2, "code": "MR"}]}}]})
    query = f"identifier:of-type={V2}|DL|446053,{V2}|MR|A\\|1"
    assert await searcher.ids("Patient", query) == {"licence", "barred"}


async def test_type_rows_do_not_change_plain_identifier_searches(searcher: Searcher) -> None:
    await patients(searcher)
    assert await searcher.ids("Patient", f"identifier={V2}|") == set()
    assert await searcher.ids("Patient", "identifier=MR|446053") == set()
    assert await searcher.ids("Patient", "identifier=446053") == {"mrn", "licence", "untyped", "local-type"}
    assert await searcher.ids("Patient", "identifier:text=medical") == {"mrn"}


async def test_of_type_follows_updates(searcher: Searcher) -> None:
    await patients(searcher)
    await searcher.put({"resourceType": "Patient", "id": "mrn", "identifier": [
        {"system": "http://hospital/mrn", "value": "446053", "type": {"coding": [{"system": V2, "code": "PI"}]}}]})
    assert await searcher.ids("Patient", f"identifier:of-type={V2}|MR|446053") == set()
    assert await searcher.ids("Patient", f"identifier:of-type={V2}|PI|446053") == {"mrn"}


async def test_of_type_needs_three_parts(searcher: Searcher) -> None:
    for value in ("MR|446053", f"{V2}|MR|", f"{V2}||446053", "446053"):
        with pytest.raises(FhirError) as raised:
            await searcher.ids("Patient", f"identifier:of-type={value}")
        assert raised.value.http_status == 400
        assert "identifier:of-type" in str(raised.value)


async def test_of_type_works_on_other_resource_types_with_identifiers(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "Practitioner", "id": "doc", "identifier": [
        {"system": "http://hl7.org/fhir/sid/us-npi", "value": "123",
         "type": {"coding": [{"system": V2, "code": "NPI"}]}}]})
    assert await searcher.ids("Practitioner", f"identifier:of-type={V2}|NPI|123") == {"doc"}
