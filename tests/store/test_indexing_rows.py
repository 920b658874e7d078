"""Index rows extracted from real resources, per search parameter type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from fireside.fhir import load_definitions
from fireside.store import StoredResource
from fireside.store.indexing import SearchIndexer, date_range

Rows = dict[str, set[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def indexer() -> SearchIndexer:
    return SearchIndexer(load_definitions())


def rows(indexer: SearchIndexer, resource: dict[str, Any], parameter: str | None = None) -> Rows:
    """Rows by table as (parameter, values...), without the key columns."""
    stored = StoredResource(resource["resourceType"], resource.get("id", "x"), 1, datetime.now(UTC), False,
                            orjson.dumps(resource).decode())
    found: Rows = {}
    for table, table_rows in indexer.rows(stored).items():
        for row in table_rows:
            if parameter is None or row[3] == parameter:
                found.setdefault(table.name, set()).add(row[3:])
    return found


def sample(shared_dir: Path, resource_type: str) -> dict[str, Any]:
    bundle = json.loads((shared_dir / "data" / "bundles" / "patient-00000001.json").read_bytes())
    resource: dict[str, Any] = next(e["resource"] for e in bundle["entry"]
                                    if e["resource"]["resourceType"] == resource_type)
    return resource


def day(text: str) -> tuple[datetime, datetime]:
    found = date_range(text)
    assert found is not None
    return found


def test_a_sample_patient_yields_name_parts_identifiers_and_birth_date(
    indexer: SearchIndexer, shared_dir: Path
) -> None:
    found = rows(indexer, sample(shared_dir, "Patient"))
    assert {("name", "jones", "Jones"), ("name", "patricia", "Patricia"), ("name", "ms.", "Ms.")} <= found[
        "search_string"]
    assert ("family", "jones", "Jones") in found["search_string"]
    assert ("identifier", "http://hl7.org/fhir/sid/us-ssn", "999-64-4165", "social security number") in found[
        "search_token"]
    assert ("phone", "phone", "555-675-2730", None) in found["search_token"]
    assert ("birthdate", *day("1974-10-20")) in found["search_date"]
    assert ("address-city", "lowell", "Lowell") in found["search_string"]
    assert ("active", None, "true", None) in found["search_token"]


def test_a_sample_observation_yields_codes_quantities_and_its_date(indexer: SearchIndexer, shared_dir: Path) -> None:
    observation = {**sample(shared_dir, "Observation"), "subject": {"reference": "Patient/p1"}}
    found = rows(indexer, observation)
    assert ("code", "http://loinc.org", "85354-9", "blood pressure panel with all children optional") in found[
        "search_token"]
    assert ("component-code", "http://loinc.org", "8480-6", "systolic blood pressure") in found["search_token"]
    assert ("component-value-quantity", 125, 125, "http://unitsofmeasure.org", "mm[Hg]", "mm[Hg]") in found[
        "search_quantity"]
    assert ("subject", "Patient", "p1", None) in found["search_reference"]
    assert ("date", *day("2019-01-20T15:15:00Z")) in found["search_date"]
    assert not any(row[0] in ("patient", "combo-code") for table in found.values() for row in table)


def test_a_period_open_at_one_end_reaches_infinity(indexer: SearchIndexer) -> None:
    encounter = {"resourceType": "Encounter", "status": "in-progress", "class": {"code": "IMP"},
                 "period": {"start": "2020-03"}}
    assert rows(indexer, encounter, "date")["search_date"] == {("date", day("2020-03")[0], "infinity")}
    encounter["period"] = {"end": "2020"}
    assert rows(indexer, encounter, "date")["search_date"] == {("date", "-infinity", day("2020")[1])}


def test_a_timing_counts_by_its_outer_limits(indexer: SearchIndexer) -> None:
    timing = {"event": ["2020-01-05", "2020-01-02"], "repeat": {"boundsPeriod": {"end": "2020-02-01"}}}
    plan: dict[str, Any] = {"resourceType": "CarePlan", "status": "active", "intent": "plan",
                            "subject": {"reference": "Patient/1"},
                            "activity": [{"detail": {"status": "scheduled", "scheduledTiming": timing}}]}
    assert rows(indexer, plan, "activity-date")["search_date"] == {
        ("activity-date", "-infinity", day("2020-02-01")[1])}
    plan["activity"][0]["detail"]["scheduledTiming"] = {"event": ["2020-01-05", "2020-01-02T10:00:00Z"]}
    assert rows(indexer, plan, "activity-date")["search_date"] == {
        ("activity-date", day("2020-01-02T10:00:00Z")[0], day("2020-01-05")[1])}


def test_a_range_is_a_quantity_with_open_ends_at_infinity(indexer: SearchIndexer) -> None:
    age = {"value": 5, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "onsetRange": {"high": age}}
    assert rows(indexer, condition, "onset-age")["search_quantity"] == {
        ("onset-age", "-Infinity", 5, "http://unitsofmeasure.org", "a", "years")}


def test_money_is_a_quantity_in_its_currency(indexer: SearchIndexer) -> None:
    invoice = {"resourceType": "Invoice", "status": "issued", "totalGross": {"value": 12.5, "currency": "EUR"}}
    assert rows(indexer, invoice, "totalgross")["search_quantity"] == {
        ("totalgross", 12.5, 12.5, "urn:iso:std:iso:4217", "EUR", None)}


def test_canonical_references_keep_the_url_and_version(indexer: SearchIndexer) -> None:
    response = {"resourceType": "QuestionnaireResponse", "status": "completed",
                "questionnaire": "http://forms.example/Questionnaire/phq9|2.0"}
    assert rows(indexer, response, "questionnaire")["search_reference"] == {
        ("questionnaire", "Questionnaire", "http://forms.example/Questionnaire/phq9",
         "http://forms.example/Questionnaire/phq9|2.0")}


def test_contained_and_logical_references_give_no_rows(indexer: SearchIndexer) -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "#p"}, "performer": [{"identifier": {"value": "7"}}]}
    found = rows(indexer, observation)
    assert "search_reference" not in found


def test_values_of_the_wrong_shape_are_skipped_not_fatal(indexer: SearchIndexer) -> None:
    odd = {"resourceType": "Patient", "name": "Smith", "birthDate": "not a date", "telecom": [{"value": 5}],
           "identifier": [{"system": 7, "value": "1"}], "active": "yes", "gender": "male"}
    found = rows(indexer, odd)
    assert ("gender", None, "male", None) in found["search_token"]
    assert ("identifier", None, "1", None) in found["search_token"]
    assert "search_date" not in found


def test_text_is_cut_and_nul_characters_dropped(indexer: SearchIndexer) -> None:
    found = rows(indexer, {"resourceType": "Patient", "name": [{"family": "A\u0000b" + "c" * 500}]}, "family")
    (row,) = found["search_string"]
    assert row[1] == "ab" + "c" * 254 and len(row[2]) == 256


def test_the_deceased_expression_is_interpreted_by_fhirpath(indexer: SearchIndexer) -> None:
    assert rows(indexer, {"resourceType": "Patient", "deceasedDateTime": "2020"}, "deceased") == {
        "search_token": {("deceased", None, "true", None)}}
    assert rows(indexer, {"resourceType": "Patient"}, "deceased") == {
        "search_token": {("deceased", None, "false", None)}}


def test_meta_tags_and_profiles_are_indexed_on_every_type(indexer: SearchIndexer) -> None:
    found = rows(indexer, {"resourceType": "Basic", "code": {"text": "x"},
                           "meta": {"tag": [{"system": "http://t", "code": "a"}], "profile": ["http://p"]}})
    assert ("_tag", "http://t", "a", None) in found["search_token"]
    assert ("_profile", "http://p") in found["search_uri"]


def test_a_deletion_has_no_rows(indexer: SearchIndexer) -> None:
    deletion = StoredResource("Patient", "gone", 2, datetime.now(UTC), True, None)
    assert indexer.rows(deletion) == {}
