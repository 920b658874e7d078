"""The SMART on FHIR client library `fhirclient` (PyPI, smart-on-fhir/client-py) launching an
app against a running Fireside, unchanged: discovery from the CapabilityStatement, PKCE,
the sign-in form and patient picker (a person's part, done here with httpx), the callback, a
read of the launch's Patient with the token, and a refresh.

fhirclient 4.x sends a PKCE S256 challenge on its own, so the app is a public client (no secret)."""

from __future__ import annotations

from typing import Any

import httpx
from fhirclient import client as smart_client
from fhirclient.models.patient import Patient

from tests.auth.conftest import REDIRECT_URI, Identity
from tests.auth.smart import Clinic, choose, make_clinic, open_picker, submit_password
from tests.conftest import RunningServer

APP_SCOPE = "patient/*.rs openid fhirUser offline_access"


def fhirclient_app(server: RunningServer, clinic: Clinic, **settings: Any) -> smart_client.FHIRClient:
    return smart_client.FHIRClient(settings={
        "app_id": clinic.app, "api_base": server.fhir_url, "redirect_uri": REDIRECT_URI, "scope": APP_SCOPE,
        **settings})


def test_fhirclient_performs_a_standalone_launch_and_reads_the_chosen_patient(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    app = fhirclient_app(server, clinic)
    authorize_url = app.authorize_url
    # fhirclient asks for the patient picker itself (it adds launch/patient) and names this server.
    query = httpx.URL(authorize_url).params
    assert authorize_url.startswith(server.base_url + "/oauth2/authorize?")
    assert "launch/patient" in query["scope"].split() and query["aud"] == server.fhir_url
    assert query["code_challenge_method"] == "S256"
    picker = open_picker(identity, submit_password(identity, identity.browser.get(authorize_url)))
    callback = choose(identity, picker, clinic.patients["Jones"])
    assert callback.status_code == 303 and callback.headers["location"].startswith(REDIRECT_URI)
    app.handle_callback(callback.headers["location"])
    assert app.ready and app.patient_id == clinic.patients["Jones"]
    assert app.launch_context["patient"] == clinic.patients["Jones"]
    patient = app.patient
    assert patient is not None and patient.name[0].family == "Jones"
    # The library's own refresh keeps the launch's patient.
    assert app.reauthorize() and app.launch_context["patient"] == clinic.patients["Jones"]
    assert Patient.read(clinic.patients["Jones"], app.server).id == clinic.patients["Jones"]


def test_fhirclient_performs_an_ehr_launch_with_the_ehrs_launch_handle(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    ehr_session = identity.exchange(clinic.app, identity.sign_in(clinic.app, clinic.clinician))["access_token"]
    made = httpx.post(identity.url("/oauth2/launch"), json={"patient": clinic.patients["Smith"]},
                      headers={"Authorization": f"Bearer {ehr_session}"}).json()
    # What the EHR opens: the app's launch URL with iss and launch; the app starts from them.
    app = fhirclient_app(server, clinic, api_base=made["iss"], launch_token=made["launch"])
    callback = submit_password(identity, identity.browser.get(app.authorize_url))
    assert callback.status_code == 303, callback.text
    app.handle_callback(callback.headers["location"])
    assert app.patient_id == clinic.patients["Smith"]
    assert app.patient is not None and app.patient.name[0].family == "Smith"
