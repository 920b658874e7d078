"""What the server returns parses with a strict R4 model library (fhirclient), so Epic-side
clients that validate responses accept it: no non-standard elements anywhere."""

from __future__ import annotations

import httpx
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.operationoutcome import OperationOutcome
from fhirclient.models.patient import Patient

from tests.conftest import RunningServer


def test_stored_patient_parses_strictly(fhir: httpx.Client) -> None:
    created = fhir.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Strict"}]}).json()
    Patient(fhir.get(f"/Patient/{created['id']}").json(), strict=True)


def test_capability_statement_parses_strictly(server: RunningServer) -> None:
    statement = CapabilityStatement(httpx.get(server.fhir_url + "/metadata").json(), strict=True)
    assert statement.fhirVersion == "4.0.1"


def test_error_outcome_parses_strictly(fhir: httpx.Client) -> None:
    OperationOutcome(fhir.get("/Patient/missing").json(), strict=True)


def test_capability_statement_lists_only_search_parameters_search_can_answer(server: RunningServer) -> None:
    statement = httpx.get(server.fhir_url + "/metadata").json()
    observation = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Observation")
    names = {p["name"] for p in observation["searchParam"]}
    assert {"code", "subject", "date", "value-quantity", "_id", "_lastUpdated"} <= names
    assert "code-value-quantity" in names  # composites are supported (tests/search/test_composite.py)
    assert "_query" not in names  # known to R4, not answered
