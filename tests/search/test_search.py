"""Search semantics per parameter type, against PostgreSQL over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"}


@pytest.fixture
def people(fhir: httpx.Client) -> httpx.Client:
    patients: list[dict[str, Any]] = [
        {"id": "ana", "name": [{"family": "Álvarez", "given": ["Ana"]}], "gender": "female", "birthDate": "1980-05-17",
         "identifier": [{"system": "http://mrn", "value": "1001"}], "active": True},
        {"id": "bob", "name": [{"family": "Alvarado", "given": ["Bob"]}], "gender": "male", "birthDate": "1980",
         "identifier": [{"system": "http://other", "value": "1001"}]},
        {"id": "cy", "name": [{"family": "Chen", "given": ["Cy"]}], "gender": "other", "birthDate": "2001-02-03",
         "identifier": [{"value": "1001"}]},
    ]
    for patient in patients:
        fhir.put(f"/Patient/{patient['id']}", json={"resourceType": "Patient", **patient}).raise_for_status()
    return fhir


def search(client: httpx.Client, query: str) -> dict[str, Any]:
    response = client.get("/Patient?" + query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_string_search_matches_the_start_ignoring_case_and_accents(people: httpx.Client) -> None:
    assert ids(search(people, "name=alva")) == {"ana", "bob"}
    assert ids(search(people, "family=ALVAREZ")) == {"ana"}


def test_string_exact_and_contains_modifiers(people: httpx.Client) -> None:
    assert ids(search(people, "family:exact=Álvarez")) == {"ana"}
    assert ids(search(people, "family:exact=alvarez")) == set()
    assert ids(search(people, "name:contains=hen")) == {"cy"}


def test_token_forms_code_system_code_bar_code_and_system_bar(people: httpx.Client) -> None:
    assert ids(search(people, "identifier=1001")) == {"ana", "bob", "cy"}
    assert ids(search(people, "identifier=http://mrn|1001")) == {"ana"}
    assert ids(search(people, "identifier=|1001")) == {"cy"}
    assert ids(search(people, "identifier=http://other|")) == {"bob"}
    assert ids(search(people, "gender=female,male")) == {"ana", "bob"}
    assert ids(search(people, "gender:not=female")) == {"bob", "cy"}


def test_repeated_parameters_must_all_match(people: httpx.Client) -> None:
    assert ids(search(people, "identifier=1001&gender=male")) == {"bob"}


def test_partial_dates_are_ranges(people: httpx.Client) -> None:
    assert ids(search(people, "birthdate=1980")) == {"ana", "bob"}
    assert ids(search(people, "birthdate=1980-05")) == {"ana"}
    assert ids(search(people, "birthdate=ge2000-01-01")) == {"cy"}
    assert ids(search(people, "birthdate=lt1980-06")) == {"ana", "bob"}
    # bob's birthDate is all of 1980, which does not start after March 1980
    assert ids(search(people, "birthdate=sa1980-03")) == {"ana", "cy"}


def test_missing_modifier(people: httpx.Client) -> None:
    assert ids(search(people, "active:missing=true")) == {"bob", "cy"}
    assert ids(search(people, "active:missing=false")) == {"ana"}


def test_id_and_last_updated(people: httpx.Client) -> None:
    assert ids(search(people, "_id=ana,cy")) == {"ana", "cy"}
    assert ids(search(people, "_lastUpdated=gt2000-01-01")) == {"ana", "bob", "cy"}
    assert ids(search(people, "_lastUpdated=lt2000-01-01")) == set()


def test_a_malformed_date_is_a_400_naming_the_parameter(people: httpx.Client) -> None:
    response = people.get("/Patient?birthdate=yesterday")
    assert response.status_code == 400
    assert "birthdate" in response.json()["issue"][0]["diagnostics"]


def test_unknown_parameters_are_ignored_and_reported_unless_strict(people: httpx.Client) -> None:
    bundle = search(people, "shoe-size=9")
    assert ids(bundle) == {"ana", "bob", "cy"}
    assert bundle["entry"][-1]["search"]["mode"] == "outcome"
    strict = people.get("/Patient?shoe-size=9", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400


def test_paging_follows_next_links_to_every_result(people: httpx.Client) -> None:
    seen: list[str] = []
    url: str | None = "/Patient?_count=2"
    while url:
        bundle = people.get(url).json()
        # More matches than a page: no total unless asked (see _total).
        assert "total" not in bundle
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert sorted(seen) == ["ana", "bob", "cy"]


def test_post_search_takes_a_form_body(people: httpx.Client) -> None:
    response = people.post("/Patient/_search", content=b"gender=male",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert ids(response.json()) == {"bob"}


def test_reference_and_quantity_search(fhir: httpx.Client) -> None:
    fhir.put("/Patient/p", json={"resourceType": "Patient", "id": "p"})
    for value in (60, 100.5, 140):
        fhir.post("/Observation", json={
            "resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/p"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": "/min"},
        })
    def count(query: str) -> int:
        return len(fhir.get("/Observation?" + query).json().get("entry", []))
    assert count("subject=Patient/p") == 3
    assert count("patient=p") == 3
    assert count("subject:Patient=p&code=http://loinc.org|8867-4") == 3
    assert count("value-quantity=gt100") == 2
    assert count("value-quantity=100") == 0
    assert count("value-quantity=100.5|http://unitsofmeasure.org|/min") == 1


def test_search_never_crosses_projects(server: Any) -> None:
    first, second = server.fhir_client(new_project="A"), server.fhir_client(new_project="B")
    first.post("/Patient", json={"resourceType": "Patient", "gender": "male"})
    assert second.get("/Patient?gender=male").json()["total"] == 0
