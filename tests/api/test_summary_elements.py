"""_summary and _elements (https://hl7.org/fhir/R4/search.html#summary) on read, vread and search,
and _include entries in the searchset, over real HTTP; and the subsetting rules themselves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fireside.fhir import FhirError, load_definitions
from fireside.fhir.summary import SUBSETTED_SYSTEM, Subset, parse_subset, subset_resource

PATIENT = {
    "resourceType": "Patient", "id": "ana",
    "meta": {"versionId": "1", "tag": [{"system": "http://example.org/tags", "code": "vip"}]},
    "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ana</div>"},
    "extension": [{"url": "http://example.org/ext", "valueString": "x"}],
    "identifier": [{"system": "http://mrn", "value": "1"}],
    "name": [{"family": "Silva", "given": ["Ana"]}],
    "gender": "female", "birthDate": "1980-01-01", "_birthDate": {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1980-01-01T10:00:00Z"}]},
    "maritalStatus": {"text": "married"},
    "contact": [{"name": {"family": "Silva"}}],
    "communication": [{"language": {"text": "pt"}}],
}
OBSERVATION = {
    "resourceType": "Observation", "id": "o1", "status": "final", "category": [{"text": "vital-signs"}],
    "code": {"text": "blood pressure"}, "subject": {"reference": "Patient/ana"},
    "valueQuantity": {"value": 120, "unit": "mmHg"}, "interpretation": [{"text": "high"}],
    "note": [{"text": "sitting"}],
    "component": [{"code": {"text": "systolic"}, "valueQuantity": {"value": 120},
                   "interpretation": [{"text": "high"}], "referenceRange": [{"text": "< 130"}]}],
}


def subset(resource: dict[str, Any], summary: str | None = None, *elements: str) -> dict[str, Any]:
    return subset_resource(load_definitions(), resource, parse_subset(summary, elements))


def subsetted(resource: dict[str, Any]) -> bool:
    return any(t["system"] == SUBSETTED_SYSTEM and t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])


def test_summary_true_keeps_the_elements_the_definition_marks_as_summary() -> None:
    result = subset(PATIENT, "true")
    assert set(result) == {"resourceType", "id", "meta", "identifier", "name", "gender", "birthDate", "_birthDate"}
    assert subsetted(result) and {"system": "http://example.org/tags", "code": "vip"} in result["meta"]["tag"]


def test_summary_true_cuts_backbone_elements_and_keeps_choices_and_mandatory_elements() -> None:
    result = subset(OBSERVATION, "true")
    assert set(result) == {"resourceType", "id", "meta", "status", "code", "subject", "valueQuantity", "component"}
    assert result["component"] == [{"code": {"text": "systolic"}, "valueQuantity": {"value": 120}}]


def test_summary_true_keeps_data_types_whole_but_for_their_non_summary_payloads() -> None:
    document = {
        "resourceType": "DocumentReference", "id": "d1", "status": "current",
        "content": [{"attachment": {"contentType": "text/plain", "data": "aGVsbG8=", "url": "http://x/1",
                                    "extension": [{"url": "http://example.org/e", "valueString": "kept"}]}}],
    }
    result = subset(document, "true")
    assert result["content"] == [{"attachment": {"contentType": "text/plain", "url": "http://x/1",
                                                 "extension": [{"url": "http://example.org/e",
                                                                "valueString": "kept"}]}}]
    named = subset({**PATIENT, "name": [{"family": "Silva", "extension": [{"url": "http://e", "valueCode": "x"}]}]},
                   "true")
    assert named["name"] == [{"family": "Silva", "extension": [{"url": "http://e", "valueCode": "x"}]}]


def test_summary_true_keeps_modifier_extensions() -> None:
    refused = {**PATIENT, "modifierExtension": [{"url": "http://example.org/refused", "valueBoolean": True}]}
    assert subset(refused, "true")["modifierExtension"] == refused["modifierExtension"]


def test_summary_text_keeps_text_id_meta_and_mandatory_top_level_elements() -> None:
    assert set(subset(PATIENT, "text")) == {"resourceType", "id", "meta", "text"}
    assert set(subset(OBSERVATION, "text")) == {"resourceType", "id", "meta", "status", "code"}


def test_summary_data_removes_only_the_text() -> None:
    result = subset(PATIENT, "data")
    assert "text" not in result and set(PATIENT) - set(result) == {"text"} and subsetted(result)


def test_summary_false_and_nothing_asked_return_the_resource_untouched() -> None:
    assert subset(PATIENT, "false") is PATIENT
    assert subset(PATIENT) is PATIENT


def test_elements_keeps_the_named_elements_their_extensions_and_the_mandatory_ones() -> None:
    result = subset(PATIENT, None, "birthDate,Patient.gender", "name.given")
    assert set(result) == {"resourceType", "id", "meta", "birthDate", "_birthDate", "gender", "name"}
    observation = subset(OBSERVATION, None, "value")
    assert set(observation) == {"resourceType", "id", "meta", "status", "code", "valueQuantity"}
    assert subsetted(observation)


def test_an_elements_value_that_is_not_an_element_name_is_refused() -> None:
    with pytest.raises(FhirError, match="_elements"):
        parse_subset(None, ["name,1bad"])
    assert parse_subset("count", []) == Subset()


def test_the_subsetted_tag_is_added_once() -> None:
    once = subset(PATIENT, "data")
    assert subset(once, "data")["meta"]["tag"] == once["meta"]["tag"]


def put(fhir: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = fhir.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def test_read_and_vread_take_summary_and_elements(fhir: httpx.Client) -> None:
    stored = put(fhir, {k: v for k, v in PATIENT.items() if k != "meta"})
    summary = fhir.get("/Patient/ana", params={"_summary": "true"})
    assert summary.status_code == 200 and summary.headers["etag"] == 'W/"1"'
    assert "maritalStatus" not in summary.json() and summary.json()["name"] == stored["name"]
    assert subsetted(summary.json())
    elements = fhir.get("/Patient/ana/_history/1", params={"_elements": "gender"}).json()
    assert set(elements) == {"resourceType", "id", "meta", "gender"}
    assert fhir.get("/Patient/ana", params={"_summary": "false"}).json() == stored
    assert fhir.get("/Patient/ana", params={"_summary": "count"}).status_code == 400
    assert fhir.get("/Patient/ana", params={"_summary": "nope"}).status_code == 400


def test_search_subsets_matches_but_not_included_resources(fhir: httpx.Client) -> None:
    patient = put(fhir, {k: v for k, v in PATIENT.items() if k != "meta"})
    put(fhir, OBSERVATION)
    bundle = fhir.get("/Observation", params={"_id": "o1", "_elements": "subject",
                                              "_include": "Observation:subject"}).json()
    assert bundle["total"] == 1
    match, included = bundle["entry"]
    assert match["search"] == {"mode": "match"} and set(match["resource"]) == {
        "resourceType", "id", "meta", "status", "code", "subject"}
    assert included["search"] == {"mode": "include"} and included["resource"] == patient
    assert included["fullUrl"].endswith("/Patient/ana")
    text = fhir.get("/Patient", params={"_summary": "text"}).json()
    assert set(text["entry"][0]["resource"]) == {"resourceType", "id", "meta", "text"}


def test_search_reports_an_ignored_include_and_refuses_a_malformed_one(fhir: httpx.Client) -> None:
    put(fhir, OBSERVATION)
    bundle = fhir.get("/Observation", params={"_include": "Observation:nonsense"}).json()
    outcome = bundle["entry"][-1]
    assert outcome["search"] == {"mode": "outcome"}
    assert "Observation:nonsense" in outcome["resource"]["issue"][0]["diagnostics"]
    strict = fhir.get("/Observation", params={"_include": "Observation:nonsense"},
                      headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert fhir.get("/Observation", params={"_include": "foo"}).status_code == 400
