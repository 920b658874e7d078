"""A third-party client, fhirpy, works against Fireside: CRUD, search and paging."""

from __future__ import annotations

import pytest
from fhirpy import SyncFHIRClient

from tests.conftest import RunningServer


@pytest.fixture
def fhirpy_client(server: RunningServer) -> SyncFHIRClient:
    token = server.token(server.create_client())
    return SyncFHIRClient(server.fhir_url, authorization=f"Bearer {token}")


def test_fhirpy_creates_reads_updates_and_deletes(fhirpy_client: SyncFHIRClient) -> None:
    patient = fhirpy_client.resource("Patient", name=[{"family": "Interop", "given": ["Ada"]}], gender="female")
    patient.save()
    assert patient.id
    fetched = fhirpy_client.reference("Patient", patient.id).to_resource()
    assert fetched["name"][0]["family"] == "Interop"
    fetched["gender"] = "other"
    fetched.save()
    assert fhirpy_client.reference("Patient", patient.id).to_resource()["gender"] == "other"
    fetched.delete()
    assert fhirpy_client.resources("Patient").search(_id=patient.id).fetch() == []


def test_fhirpy_searches_with_modifiers_and_references(fhirpy_client: SyncFHIRClient) -> None:
    patient = fhirpy_client.resource("Patient", name=[{"family": "Searchable"}], birthDate="1980-05-17")
    patient.save()
    observation = fhirpy_client.resource(
        "Observation", status="final", subject=patient.to_reference(),
        code={"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    )
    observation.save()
    assert [p.id for p in fhirpy_client.resources("Patient").search(family="searchable").fetch()] == [patient.id]
    assert fhirpy_client.resources("Patient").search(birthdate__ge="1980-01-01").count() == 1
    found = fhirpy_client.resources("Observation").search(subject=patient, code="http://loinc.org|8867-4").fetch()
    assert [o.id for o in found] == [observation.id]


def test_fhirpy_pages_through_every_result(fhirpy_client: SyncFHIRClient) -> None:
    for index in range(7):
        fhirpy_client.resource("Patient", name=[{"family": f"Paged{index}"}], gender="unknown").save()
    everyone = fhirpy_client.resources("Patient").search(gender="unknown").limit(3).fetch_all()
    assert len(everyone) == 7


def test_fhirpy_searches_with_a_chained_parameter(fhirpy_client: SyncFHIRClient) -> None:
    wanted = fhirpy_client.resource("Patient", name=[{"family": "Chainwright"}])
    wanted.save()
    other = fhirpy_client.resource("Patient", name=[{"family": "Elsewhere"}])
    other.save()
    for patient in (wanted, other):
        fhirpy_client.resource("Observation", status="final", code={"text": "Heart rate"},
                               subject=patient.to_reference()).save()
    # fhirpy spells subject:Patient.name as subject__Patient__name.
    search = fhirpy_client.resources("Observation").search(subject__Patient__name="chainwright")
    assert "subject:Patient.name=chainwright" in str(search)
    found = search.fetch()
    assert [o["subject"]["reference"] for o in found] == [f"Patient/{wanted.id}"]


def test_fhirpy_searches_with_a_reverse_chain(fhirpy_client: SyncFHIRClient) -> None:
    measured = fhirpy_client.resource("Patient", name=[{"family": "Measured"}], gender="female")
    measured.save()
    fhirpy_client.resource("Patient", name=[{"family": "Unmeasured"}], gender="female").save()
    fhirpy_client.resource("Observation", status="final", subject=measured.to_reference(),
                           code={"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}).save()
    # .has() builds _has:Observation:subject:code=...
    search = fhirpy_client.resources("Patient").search(gender="female").has("Observation", "subject",
                                                                             code="http://loinc.org|8867-4")
    assert [p.id for p in search.fetch()] == [measured.id]
