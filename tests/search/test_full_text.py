"""_text (the narrative) and _content (every string of the resource) as full-text queries
(https://hl7.org/fhir/R4/search.html#text): whole words, AND by default, `or`, "phrases",
-exclusions, without regard to case, in any script."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


def narrative(html: str) -> dict[str, Any]:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html}</div>'}


async def conditions(searcher: Searcher) -> None:
    await searcher.put(
        {"resourceType": "Condition", "id": "diabetes", "subject": {"reference": "Patient/p"},
         "text": narrative("<p>Type 2 <b>diabetes</b> mellitus, poorly controlled</p>"),
         "code": {"text": "Diabetes mellitus type 2"}},
        {"resourceType": "Condition", "id": "asthma", "subject": {"reference": "Patient/p"},
         "text": narrative("<p>Childhood asthma &amp; eczema</p>"), "code": {"text": "Asthma"}},
        {"resourceType": "Condition", "id": "silent", "subject": {"reference": "Patient/p"},
         "code": {"text": "Hypertension"}, "note": [{"text": "Diabetes was ruled out"}]},
        {"resourceType": "Condition", "id": "french", "subject": {"reference": "Patient/p"},
         "text": narrative("<p>Créatinine élevée — insuffisance rénale, Ἀθῆναι</p>")},
    )


async def text_search(searcher: Searcher, parameter: str, value: str) -> set[str]:
    return await searcher.ids("Condition", urlencode({parameter: value}))


async def test_text_finds_a_word_of_the_narrative_ignoring_tags_and_case(searcher: Searcher) -> None:
    await conditions(searcher)
    assert await text_search(searcher, "_text", "DIABETES") == {"diabetes"}
    assert await text_search(searcher, "_text", "eczema") == {"asthma"}


async def test_text_reads_only_the_narrative_and_content_reads_every_string(searcher: Searcher) -> None:
    await conditions(searcher)
    assert await text_search(searcher, "_text", "hypertension") == set()
    assert await text_search(searcher, "_content", "hypertension") == {"silent"}
    assert await text_search(searcher, "_content", "diabetes") == {"diabetes", "silent"}


async def test_words_must_all_occur_unless_joined_by_or(searcher: Searcher) -> None:
    await conditions(searcher)
    assert await text_search(searcher, "_text", "diabetes controlled") == {"diabetes"}
    assert await text_search(searcher, "_text", "diabetes eczema") == set()
    assert await text_search(searcher, "_text", "diabetes or eczema") == {"diabetes", "asthma"}


async def test_a_quoted_phrase_needs_its_words_together_and_in_order(searcher: Searcher) -> None:
    await conditions(searcher)
    assert await text_search(searcher, "_text", '"diabetes mellitus"') == {"diabetes"}
    assert await text_search(searcher, "_text", '"mellitus diabetes"') == set()
    assert await text_search(searcher, "_content", '"ruled out"') == {"silent"}


async def test_a_minus_excludes_a_word(searcher: Searcher) -> None:
    await conditions(searcher)
    assert await text_search(searcher, "_content", "diabetes -ruled") == {"diabetes"}


async def test_words_are_matched_whole(searcher: Searcher) -> None:
    await conditions(searcher)
    assert await text_search(searcher, "_text", "diab") == set()


async def test_accented_and_non_latin_words_match_in_any_case(searcher: Searcher) -> None:
    await conditions(searcher)
    assert await text_search(searcher, "_text", "CRÉATININE") == {"french"}
    assert await text_search(searcher, "_text", "\"créatinine élevée\" rénale") == {"french"}
    assert await text_search(searcher, "_text", "ἀθῆναι") == {"french"}


async def test_accents_are_significant(searcher: Searcher) -> None:
    # The 'simple' configuration keeps accents (see migration 0004).
    await conditions(searcher)
    assert await text_search(searcher, "_text", "creatinine") == set()


async def test_deleted_resources_are_not_found(searcher: Searcher) -> None:
    await conditions(searcher)
    await searcher.delete("Condition", "asthma")
    assert await text_search(searcher, "_text", "asthma") == set()


async def test_full_text_combines_with_other_criteria(searcher: Searcher) -> None:
    await conditions(searcher)
    query = urlencode({"_content": "diabetes", "_id": "silent"})
    assert await searcher.ids("Condition", query) == {"silent"}


async def test_a_query_without_words_or_with_a_modifier_is_refused(searcher: Searcher) -> None:
    with pytest.raises(FhirError) as raised:
        await text_search(searcher, "_text", "!!")
    assert raised.value.issues[0].code == "invalid" and "_text" in raised.value.issues[0].diagnostics
    with pytest.raises(FhirError) as raised:
        await text_search(searcher, "_content:exact", "asthma")
    assert "_content:exact" in raised.value.issues[0].diagnostics


async def test_a_resource_holding_an_escaped_nul_is_searchable_and_breaks_no_search(searcher: Searcher) -> None:
    # jsonb cannot hold NUL: the text of such a resource must still index and be scanned.
    await conditions(searcher)
    await searcher.put(
        {"resourceType": "Condition", "id": "nul", "subject": {"reference": "Patient/p"},
         "text": narrative("<p>Gout\u0000 flare, path C:\\\\u0000</p>"), "code": {"text": "Gout\u0000"}},
    )
    assert await text_search(searcher, "_text", "gout") == {"nul"}
    assert await text_search(searcher, "_content", "gout") == {"nul"}
    assert await text_search(searcher, "_content", "diabetes") == {"diabetes", "silent"}
