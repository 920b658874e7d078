"""Token search: code, system|code, |code, system|, :not, :text, comma OR."""

from __future__ import annotations

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio

LOINC = "http://loinc.org"


async def people(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "ana", "gender": "female", "active": True,
         "identifier": [{"system": "http://mrn", "value": "1001",
                         "type": {"text": "Medical record number"}}],
         "telecom": [{"system": "phone", "value": "555-0100"}, {"system": "email", "value": "ana@example.org"}]},
        {"resourceType": "Patient", "id": "bob", "gender": "male", "active": False,
         "identifier": [{"system": "http://other", "value": "1001"}]},
        {"resourceType": "Patient", "id": "cy", "gender": "other", "identifier": [{"value": "1001"}]},
    )


async def test_a_code_alone_matches_any_system(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "identifier=1001") == {"ana", "bob", "cy"}


async def test_system_bar_code_matches_that_system_only(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "identifier=http://mrn|1001") == {"ana"}


async def test_bar_code_matches_values_without_a_system(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "identifier=|1001") == {"cy"}


async def test_system_bar_matches_every_code_of_the_system(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "identifier=http://other|") == {"bob"}


async def test_comma_separated_values_are_alternatives(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "gender=female,male") == {"ana", "bob"}


async def test_not_matches_resources_without_the_code_including_those_with_no_value(searcher: Searcher) -> None:
    await people(searcher)
    await searcher.put({"resourceType": "Patient", "id": "dee"})
    assert await searcher.ids("Patient", "gender:not=female") == {"bob", "cy", "dee"}


async def test_booleans_are_tokens_true_and_false(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "active=true") == {"ana"}
    assert await searcher.ids("Patient", "active=false") == {"bob"}


async def test_contact_points_match_by_value_and_by_their_system(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "telecom=555-0100") == {"ana"}
    assert await searcher.ids("Patient", "telecom=email|ana@example.org") == {"ana"}
    assert await searcher.ids("Patient", "phone=555-0100") == {"ana"}
    assert await searcher.ids("Patient", "email=555-0100") == set()


async def test_codeable_concepts_match_any_of_their_codings(searcher: Searcher) -> None:
    await searcher.put({
        "resourceType": "Observation", "id": "bmi", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "39156-5", "display": "Body mass index"},
                            {"system": "http://snomed.info/sct", "code": "60621009"}]},
    })
    assert await searcher.ids("Observation", f"code={LOINC}|39156-5") == {"bmi"}
    assert await searcher.ids("Observation", "code=http://snomed.info/sct|60621009") == {"bmi"}
    assert await searcher.ids("Observation", f"code={LOINC}|60621009") == set()


async def test_text_matches_the_start_of_any_word_of_the_display_or_text(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Observation", "id": "bmi", "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "39156-5", "display": "Body mass index"}]}},
        {"resourceType": "Observation", "id": "hr", "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "8867-4"}], "text": "Heart rate"}},
    )
    assert await searcher.ids("Observation", "code:text=MASS") == {"bmi"}
    assert await searcher.ids("Observation", "code:text=heart ra") == {"hr"}
    assert await searcher.ids("Observation", "code:text=ass") == set()


async def test_identifier_text_is_its_type_text(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "identifier:text=medical") == {"ana"}


async def test_an_escaped_bar_is_part_of_the_code(searcher: Searcher) -> None:
    await searcher.put({"resourceType": "Patient", "id": "odd", "identifier": [{"value": "a|b"}]})
    assert await searcher.ids("Patient", "identifier=a\\|b") == {"odd"}


async def test_an_unknown_modifier_is_invalid_and_names_the_parameter(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await searcher.ids("Patient", "gender:fuzzy=male")
    assert raised.value.issues[0].code == "invalid"
    assert "gender:fuzzy" in raised.value.issues[0].diagnostics
