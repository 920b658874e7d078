"""SMART launch fixtures: a clinic project with patients, an app, a clinician, and the browser
steps of a launch (sign-in form, patient picker), driven by hand with httpx."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

import httpx

from tests.auth.conftest import PASSWORD, Identity, form_token
from tests.conftest import RunningServer

CLINICIAN = "doc@clinic.example"
PICKER_PATH = "/oauth2/authorize/patient"


@dataclass
class Clinic:
    project: UUID
    app: str  # a public ClientApplication (PKCE), redirect URI REDIRECT_URI
    ehr_token: str  # the project's own confidential client's token (system/*.*)
    patients: dict[str, str]  # family name -> Patient id
    clinician: str  # the email of a clinician member (password PASSWORD, profile Practitioner/dr-1)


def make_clinic(server: RunningServer, identity: Identity, families: tuple[str, ...] = ("Smith", "Jones"),
                clinician: str = CLINICIAN) -> Clinic:
    credentials = server.create_client(name="ehr", new_project=f"Clinic of {clinician}")
    project = UUID(credentials["project_id"])
    ehr_token = server.token(credentials)
    patients = {}
    with identity.fhir(ehr_token) as ehr:
        for family in families:
            created = ehr.post("/Patient", json={"resourceType": "Patient", "birthDate": "1980-02-03",
                                                 "gender": "female", "name": [{"family": family, "given": ["Ana"]}]})
            assert created.status_code == 201, created.text
            patients[family] = created.json()["id"]
    app = identity.client_application(project, name="Growth chart")
    identity.user(project, clinician, profile="Practitioner/dr-1")
    return Clinic(project, app, ehr_token, patients, clinician)


def encounter_of(identity: Identity, clinic: Clinic, patient_id: str) -> str:
    with identity.fhir(clinic.ehr_token) as ehr:
        created = ehr.post("/Encounter", json={
            "resourceType": "Encounter", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{patient_id}"}})
    assert created.status_code == 201, created.text
    encounter_id: str = created.json()["id"]
    return encounter_id


def submit_password(identity: Identity, login_page: httpx.Response, email: str = CLINICIAN) -> httpx.Response:
    """Post the sign-in form the way a browser does (the form's cookie rides along)."""
    assert login_page.status_code == 200, login_page.text
    return identity.browser.post(identity.url("/oauth2/authorize"),
                                 data={"form_token": form_token(login_page), "email": email, "password": PASSWORD})


def picker_token(page_or_redirect: httpx.Response) -> str:
    if "location" in page_or_redirect.headers:
        match = re.search(r"picker_token=([^&]+)", page_or_redirect.headers["location"])
    else:
        match = re.search(r'name="picker_token" value="([^"]+)"', page_or_redirect.text)
    assert match, page_or_redirect.text
    return httpx.URL("?picker_token=" + match.group(1)).params["picker_token"]


def listed_patients(picker_page: httpx.Response) -> list[str]:
    assert picker_page.status_code == 200, picker_page.text
    return re.findall(r'name="patient" value="([^"]+)"', picker_page.text)


def open_picker(identity: Identity, after_password: httpx.Response, name: str | None = None) -> httpx.Response:
    """Follow the sign-in's redirect to the patient picker (optionally searching by name)."""
    assert after_password.status_code == 303, after_password.text
    assert after_password.headers["location"].startswith(PICKER_PATH), after_password.headers["location"]
    params = {"picker_token": picker_token(after_password)}
    if name is not None:
        params["name"] = name
    return identity.browser.get(identity.url(PICKER_PATH), params=params)


def choose(identity: Identity, picker_page: httpx.Response, patient_id: str) -> httpx.Response:
    return identity.browser.post(identity.url(PICKER_PATH),
                                 data={"picker_token": picker_token(picker_page), "patient": patient_id})
