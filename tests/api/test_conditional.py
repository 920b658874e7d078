"""Conditional create, update and delete, and conditional references in transactions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

PATIENT = {"resourceType": "Patient", "identifier": [{"system": "http://mrn", "value": "42"}]}


def test_conditional_create_returns_the_existing_match(fhir: httpx.Client) -> None:
    first = fhir.post("/Patient", json=PATIENT, headers={"If-None-Exist": "identifier=http://mrn|42"})
    second = fhir.post("/Patient", json=PATIENT, headers={"If-None-Exist": "identifier=http://mrn|42"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def test_conditional_create_with_several_matches_is_a_412(fhir: httpx.Client) -> None:
    fhir.post("/Patient", json=PATIENT)
    fhir.post("/Patient", json=PATIENT)
    response = fhir.post("/Patient", json=PATIENT, headers={"If-None-Exist": "identifier=http://mrn|42"})
    assert response.status_code == 412


def test_conditional_update_updates_the_match_or_creates(fhir: httpx.Client) -> None:
    created = fhir.put("/Patient?identifier=http://mrn|42", json={**PATIENT, "gender": "male"})
    assert created.status_code == 201
    updated = fhir.put("/Patient?identifier=http://mrn|42", json={**PATIENT, "gender": "female"})
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"] and updated.json()["meta"]["versionId"] == "2"


def test_conditional_delete_removes_every_match(fhir: httpx.Client) -> None:
    fhir.post("/Patient", json=PATIENT)
    fhir.post("/Patient", json=PATIENT)
    assert fhir.delete("/Patient?identifier=http://mrn|42").status_code == 204
    assert fhir.get("/Patient?identifier=http://mrn|42").json()["total"] == 0


def test_conditional_interactions_refuse_unknown_criteria(fhir: httpx.Client) -> None:
    fhir.post("/Patient", json=PATIENT)
    assert fhir.delete("/Patient?shoe-size=9").status_code == 400


def test_transaction_resolves_conditional_references(fhir: httpx.Client) -> None:
    fhir.post("/Practitioner", json={"resourceType": "Practitioner",
                                     "identifier": [{"system": "http://npi", "value": "7"}]})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": {"resourceType": "Encounter", "status": "finished",
                     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                     "participant": [{"individual": {"reference": "Practitioner?identifier=http://npi|7"}}]},
        "request": {"method": "POST", "url": "Encounter"}}]}
    entry = fhir.post("", json=bundle).json()["entry"][0]
    assert entry["resource"]["participant"][0]["individual"]["reference"].startswith("Practitioner/")


def test_transaction_with_an_unresolvable_conditional_reference_fails(fhir: httpx.Client) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                     "performer": [{"reference": "Practitioner?identifier=http://npi|none"}]},
        "request": {"method": "POST", "url": "Observation"}}]}
    assert fhir.post("", json=bundle).status_code == 412


def test_the_sample_patient_bundles_load_with_references_resolved(fhir: httpx.Client, shared_dir: Path) -> None:
    bundles = shared_dir / "data" / "bundles"
    assert fhir.post("", content=(bundles / "practitioners.json").read_bytes()).status_code == 200
    sample: dict[str, Any] = json.loads((bundles / "patient-00000000.json").read_bytes())
    response = fhir.post("", json=sample)
    assert response.status_code == 200, response.text[:500]
    entries = response.json()["entry"]
    assert len(entries) == len(sample["entry"])
    patient_id = entries[0]["resource"]["id"]
    observations = fhir.get(f"/Observation?subject=Patient/{patient_id}&_count=1&_total=accurate").json()
    assert observations["total"] == sum(1 for e in sample["entry"] if e["resource"]["resourceType"] == "Observation")
    encounter = fhir.get(f"/Encounter?patient={patient_id}&_count=1").json()["entry"][0]["resource"]
    assert all(not p["individual"]["reference"].startswith("Practitioner?") for p in encounter.get("participant", []))
