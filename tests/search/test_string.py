"""String search: starts-with ignoring case and accents, :exact, :contains, names and addresses."""

from __future__ import annotations

import pytest

from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


async def people(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Patient", "id": "ana",
         "name": [{"family": "Álvarez", "given": ["Ana", "María"], "prefix": ["Dr."]}],
         "address": [{"line": ["1 Rue de l'Église"], "city": "Zürich", "postalCode": "8001", "country": "CH"}]},
        {"resourceType": "Patient", "id": "bob", "name": [{"family": "Alvarado", "given": ["Bob"]}],
         "address": [{"city": "Boston", "state": "MA"}]},
        {"resourceType": "Patient", "id": "cy", "name": [{"text": "Chen Cy", "family": "Chen"}]},
        {"resourceType": "Patient", "id": "dag", "name": [{"family": "Straße"}]},
    )


async def test_a_string_matches_values_that_start_with_it_ignoring_case_and_accents(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "name=alva") == {"ana", "bob"}
    assert await searcher.ids("Patient", "family=ALVAREZ") == {"ana"}
    assert await searcher.ids("Patient", "family=álvarez") == {"ana"}


async def test_name_covers_family_given_prefix_and_text(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "name=maria") == {"ana"}
    assert await searcher.ids("Patient", "name=dr.") == {"ana"}
    assert await searcher.ids("Patient", "name=chen cy") == {"cy"}
    assert await searcher.ids("Patient", "given=bob") == {"bob"}


async def test_exact_matches_the_whole_value_with_its_case_and_accents(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "family:exact=Álvarez") == {"ana"}
    assert await searcher.ids("Patient", "family:exact=Alvarez") == set()
    assert await searcher.ids("Patient", "family:exact=Álvare") == set()


async def test_contains_matches_anywhere_in_the_value(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "name:contains=VAR") == {"ana", "bob"}
    assert await searcher.ids("Patient", "name:contains=hen") == {"cy"}


async def test_case_folding_matches_sharp_s_to_ss(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "family=strass") == {"dag"}


async def test_address_covers_lines_city_postal_code_and_country(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "address=1 rue de l'eglise") == {"ana"}
    assert await searcher.ids("Patient", "address=zurich") == {"ana"}
    assert await searcher.ids("Patient", "address-city=Bos") == {"bob"}
    assert await searcher.ids("Patient", "address-postalcode=8001") == {"ana"}
    assert await searcher.ids("Patient", "address-state=ma") == {"bob"}


async def test_like_wildcards_in_the_value_are_plain_characters(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "name=%") == set()
    assert await searcher.ids("Patient", "name:contains=_") == set()


async def test_a_value_beyond_the_indexed_length_is_still_found(searcher: Searcher) -> None:
    long_name = "N" * 400
    await searcher.put({"resourceType": "Patient", "id": "long", "name": [{"family": long_name}]})
    assert await searcher.ids("Patient", f"family={long_name}") == {"long"}
    assert await searcher.ids("Patient", f"family:exact={long_name}") == {"long"}


async def test_an_empty_value_is_ignored(searcher: Searcher) -> None:
    await people(searcher)
    assert await searcher.ids("Patient", "name=") == {"ana", "bob", "cy", "dag"}
