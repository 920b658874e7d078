"""Compartment search over HTTP: GET [base]/Patient/1/Observation (https://hl7.org/fhir/R4/http.html#vsearch)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningServer


def observation(subject: str, code: str = "1234-5") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": subject},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}


def test_compartment_search_returns_a_searchset_of_the_compartment(fhir: httpx.Client) -> None:
    fhir.put("/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    mine = fhir.post("/Observation", json=observation("Patient/p1")).json()["id"]
    fhir.post("/Observation", json=observation("Patient/p2"))
    bundle = fhir.get("/Patient/p1/Observation").json()
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    assert [e["resource"]["id"] for e in bundle["entry"]] == [mine]


def test_compartment_search_links_stay_at_the_compartment_url(fhir: httpx.Client) -> None:
    for _ in range(3):
        fhir.post("/Observation", json=observation("Patient/p1"))
    bundle = fhir.get("/Patient/p1/Observation", params={"code": "1234-5", "_count": "2"}).json()
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert links["self"].endswith("/Patient/p1/Observation?code=1234-5&_count=2")
    assert "/Patient/p1/Observation?" in links["next"]
    rest = httpx.get(links["next"], headers=fhir.headers).json()
    assert len(rest["entry"]) == 1 and "total" not in bundle


def test_compartment_search_of_a_type_outside_the_compartment_is_400(fhir: httpx.Client) -> None:
    response = fhir.get("/Patient/p1/Organization")
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"


def test_compartment_search_of_a_type_that_has_no_compartment_is_404(fhir: httpx.Client) -> None:
    assert fhir.get("/Observation/o1/Patient").status_code == 404


def test_compartment_search_never_shows_another_projects_resources(server: RunningServer) -> None:
    first = server.fhir_client(new_project="First")
    second = server.fhir_client(new_project="Second")
    second.post("/Observation", json=observation("Patient/shared"))
    assert "entry" not in first.get("/Patient/shared/Observation").json()
    assert len(second.get("/Patient/shared/Observation").json()["entry"]) == 1


def test_the_capability_statement_declares_the_compartments(fhir: httpx.Client) -> None:
    statement = fhir.get("/metadata").json()
    assert "http://hl7.org/fhir/CompartmentDefinition/patient" in statement["rest"][0]["compartment"]
    codes = {i["code"] for r in statement["rest"][0]["resource"] for i in r["interaction"]}
    assert "search-compartment" not in codes
