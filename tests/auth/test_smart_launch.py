"""SMART App Launch 2.x driven by hand with httpx: discovery, standalone launch with the patient
picker, EHR launch with a launch handle, refresh and revocation keeping the context, and
Backend Services with system scopes (https://hl7.org/fhir/smart-app-launch/)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.auth.conftest import REDIRECT_URI, Identity, claims_of, pkce_pair, redirect_query
from tests.auth.smart import (
    PICKER_PATH,
    Clinic,
    choose,
    encounter_of,
    listed_patients,
    make_clinic,
    open_picker,
    picker_token,
    submit_password,
)
from tests.auth.test_private_key_jwt import ASSERTION_TYPE, assertion, key_pair
from tests.conftest import RunningServer

STANDALONE_SCOPE = "launch/patient patient/*.rs openid fhirUser offline_access"
EHR_SCOPE = "launch patient/*.rs openid fhirUser offline_access"


def authorize(identity: Identity, clinic: Clinic, scope: str, **params: str) -> tuple[httpx.Response, str]:
    verifier, challenge = pkce_pair()
    query = {"aud": identity.server.fhir_url, "code_challenge": challenge, "code_challenge_method": "S256", **params}
    return identity.authorize(clinic.app, scope=scope, **query), verifier


def exchange(identity: Identity, clinic: Clinic, redirect: httpx.Response, verifier: str) -> dict[str, Any]:
    assert redirect.status_code == 303, redirect.text
    query = redirect_query(redirect)
    assert query.get("state") == "xyz" and "code" in query, query
    response = identity.token(grant_type="authorization_code", code=query["code"], redirect_uri=REDIRECT_URI,
                              client_id=clinic.app, code_verifier=verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def standalone_launch(identity: Identity, clinic: Clinic, family: str) -> dict[str, Any]:
    login_page, verifier = authorize(identity, clinic, STANDALONE_SCOPE)
    picker = open_picker(identity, submit_password(identity, login_page))
    return exchange(identity, clinic, choose(identity, picker, clinic.patients[family]), verifier)


def ehr_token(identity: Identity, clinic: Clinic) -> str:
    """The EHR's own session: the clinician signed in to it (no launch scopes)."""
    token: str = identity.exchange(clinic.app, identity.sign_in(clinic.app, clinic.clinician))["access_token"]
    return token


def new_launch(identity: Identity, token: str, **context: str) -> httpx.Response:
    return httpx.post(identity.url("/oauth2/launch"), json=context, headers={"Authorization": f"Bearer {token}"})


def test_smart_configuration_is_served_at_the_fhir_base_and_the_root_without_a_token(server: RunningServer) -> None:
    for path in ("/fhir/R4/.well-known/smart-configuration", "/.well-known/smart-configuration"):
        response = httpx.get(server.base_url + path)
        assert response.status_code == 200, response.text
        config = response.json()
        assert config["authorization_endpoint"] == server.base_url + "/oauth2/authorize"
        assert config["token_endpoint"] == server.base_url + "/oauth2/token"
        assert config["code_challenge_methods_supported"] == ["S256"]
        methods = set(config["token_endpoint_auth_methods_supported"])
        assert {"private_key_jwt", "client_secret_basic", "none"} <= methods
        assert {"launch", "launch/patient", "openid", "fhirUser", "offline_access"} <= set(config["scopes_supported"])
        assert {"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
                "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
                "context-standalone-patient", "permission-offline", "permission-patient", "permission-user",
                "permission-v1", "permission-v2", "sso-openid-connect", "authorize-post"} <= set(config["capabilities"])


def test_the_capability_statement_names_the_oauth_endpoints(server: RunningServer) -> None:
    statement = httpx.get(server.fhir_url + "/metadata").json()
    extension = statement["rest"][0]["security"]["extension"][0]
    assert extension["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    uris = {e["url"]: e["valueUri"] for e in extension["extension"]}
    assert uris["authorize"] == server.base_url + "/oauth2/authorize"
    assert uris["token"] == server.base_url + "/oauth2/token"


def test_standalone_launch_lets_the_user_pick_the_patient_the_token_is_for(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    login_page, verifier = authorize(identity, clinic, STANDALONE_SCOPE)
    picker = open_picker(identity, submit_password(identity, login_page))
    assert sorted(listed_patients(picker)) == sorted(clinic.patients.values())
    searched = identity.browser.get(identity.url(PICKER_PATH), params={"picker_token": picker_token(picker),
                                                                       "name": "smi"})
    assert listed_patients(searched) == [clinic.patients["Smith"]]
    body = exchange(identity, clinic, choose(identity, picker, clinic.patients["Smith"]), verifier)
    assert body["patient"] == clinic.patients["Smith"] and "encounter" not in body
    assert claims_of(body["access_token"])["patient"] == clinic.patients["Smith"]
    assert claims_of(body["id_token"])["fhirUser"] == server.fhir_url + "/Practitioner/dr-1"
    with identity.fhir(body["access_token"]) as fhir:
        assert fhir.get(f"/Patient/{clinic.patients['Smith']}").status_code == 200
        # patient/*.rs reaches the chosen patient's compartment only.
        assert fhir.get(f"/Patient/{clinic.patients['Jones']}").status_code in (403, 404)


def test_the_picker_refuses_a_patient_it_did_not_offer_and_can_be_cancelled(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    other = make_clinic(server, identity, families=("Elsewhere",), clinician="doc@elsewhere.example")
    login_page, _ = authorize(identity, clinic, STANDALONE_SCOPE)
    picker = open_picker(identity, submit_password(identity, login_page))
    refused = choose(identity, picker, other.patients["Elsewhere"])
    assert refused.status_code == 400 and "Choose one of the patients" in refused.text
    cancelled = identity.browser.post(identity.url(PICKER_PATH),
                                      data={"picker_token": picker_token(picker), "cancel": "1"})
    assert redirect_query(cancelled)["error"] == "access_denied"


def test_the_picker_is_refused_to_a_browser_without_the_sign_in_cookie(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    login_page, _ = authorize(identity, clinic, STANDALONE_SCOPE)
    picker = open_picker(identity, submit_password(identity, login_page))
    stranger = httpx.post(identity.url(PICKER_PATH),
                          data={"picker_token": picker_token(picker), "patient": clinic.patients["Smith"]})
    assert stranger.status_code == 400 and "not opened in this browser" in stranger.text


def test_a_patient_user_launching_standalone_gets_their_own_record_without_a_picker(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    identity.user(clinic.project, "ana@home.example", profile=f"Patient/{clinic.patients['Jones']}")
    login_page, verifier = authorize(identity, clinic, STANDALONE_SCOPE)
    body = exchange(identity, clinic, submit_password(identity, login_page, "ana@home.example"), verifier)
    assert body["patient"] == clinic.patients["Jones"]


def test_ehr_launch_carries_the_patient_and_encounter_the_ehr_bound(server: RunningServer, identity: Identity) -> None:
    clinic = make_clinic(server, identity)
    encounter = encounter_of(identity, clinic, clinic.patients["Jones"])
    made = new_launch(identity, ehr_token(identity, clinic), patient=clinic.patients["Jones"], encounter=encounter)
    assert made.status_code == 200, made.text
    assert made.json()["iss"] == server.fhir_url
    login_page, verifier = authorize(identity, clinic, EHR_SCOPE, launch=made.json()["launch"])
    body = exchange(identity, clinic, submit_password(identity, login_page), verifier)
    assert (body["patient"], body["encounter"]) == (clinic.patients["Jones"], encounter)
    assert claims_of(body["access_token"])["patient"] == clinic.patients["Jones"]
    with identity.fhir(body["access_token"]) as fhir:
        assert fhir.get(f"/Encounter/{encounter}").status_code == 200
    # One launch opens one sign-in.
    again, _ = authorize(identity, clinic, EHR_SCOPE, launch=made.json()["launch"])
    assert redirect_query(again)["error"] == "invalid_request"


def test_a_launch_of_an_encounter_alone_takes_its_patient(server: RunningServer, identity: Identity) -> None:
    clinic = make_clinic(server, identity)
    encounter = encounter_of(identity, clinic, clinic.patients["Smith"])
    made = new_launch(identity, ehr_token(identity, clinic), encounter=encounter)
    login_page, verifier = authorize(identity, clinic, EHR_SCOPE, launch=made.json()["launch"])
    body = exchange(identity, clinic, submit_password(identity, login_page), verifier)
    assert body["patient"] == clinic.patients["Smith"]


def test_the_launch_endpoint_refuses_strangers_and_context_the_caller_cannot_read(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    other = make_clinic(server, identity, families=("Elsewhere",), clinician="doc@elsewhere.example")
    token = ehr_token(identity, clinic)
    assert httpx.post(identity.url("/oauth2/launch"), json={"patient": clinic.patients["Smith"]}).status_code == 401
    foreign = new_launch(identity, token, patient=other.patients["Elsewhere"])
    assert foreign.status_code == 400 and foreign.json()["issue"][0]["expression"] == ["patient"]
    mismatched = new_launch(identity, token, patient=clinic.patients["Smith"],
                            encounter=encounter_of(identity, clinic, clinic.patients["Jones"]))
    assert mismatched.status_code == 400 and mismatched.json()["issue"][0]["expression"] == ["encounter"]


def test_an_ehr_launch_needs_this_servers_aud_the_launch_scope_and_a_handle_of_the_apps_project(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    other = make_clinic(server, identity, families=("Elsewhere",), clinician="doc@elsewhere.example")
    handle = new_launch(identity, ehr_token(identity, clinic), patient=clinic.patients["Smith"]).json()["launch"]
    foreign = new_launch(identity, ehr_token(identity, other), patient=other.patients["Elsewhere"]).json()["launch"]
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    cases = [
        ({"launch": handle, **pkce}, EHR_SCOPE, "invalid_request"),  # no aud
        ({"launch": handle, "aud": "https://other.example/fhir", **pkce}, EHR_SCOPE, "invalid_request"),
        ({"launch": handle, "aud": server.fhir_url, **pkce}, "patient/*.rs openid", "invalid_scope"),
        ({"aud": server.fhir_url, **pkce}, EHR_SCOPE, "invalid_request"),  # scope launch, no handle
        ({"launch": foreign, "aud": server.fhir_url, **pkce}, EHR_SCOPE, "invalid_request"),
    ]
    for params, scope, error in cases:
        answer = identity.authorize(clinic.app, scope=scope, **params)
        assert answer.status_code == 303, (params, answer.text)
        assert redirect_query(answer)["error"] == error, params
    # The handle was only looked at, not used: the right request still works.
    login_page = identity.authorize(clinic.app, scope=EHR_SCOPE, launch=handle, aud=server.fhir_url + "/", **pkce)
    body = exchange(identity, clinic, submit_password(identity, login_page), verifier)
    assert body["patient"] == clinic.patients["Smith"]


def test_refresh_keeps_the_launch_context_and_revoking_the_refresh_token_ends_it(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity)
    first = standalone_launch(identity, clinic, "Smith")
    refreshed = identity.token(grant_type="refresh_token", refresh_token=first["refresh_token"],
                               client_id=clinic.app).json()
    assert refreshed["patient"] == clinic.patients["Smith"], refreshed
    assert claims_of(refreshed["access_token"])["patient"] == clinic.patients["Smith"]
    assert claims_of(refreshed["id_token"])["fhirUser"] == server.fhir_url + "/Practitioner/dr-1"
    revoked = httpx.post(identity.url("/oauth2/revoke"), data={"token": refreshed["refresh_token"],
                                                                "client_id": clinic.app})
    assert revoked.status_code == 200
    again = identity.token(grant_type="refresh_token", refresh_token=refreshed["refresh_token"], client_id=clinic.app)
    assert again.json()["error"] == "invalid_grant"
    with identity.fhir(refreshed["access_token"]) as fhir:
        assert fhir.get(f"/Patient/{clinic.patients['Smith']}").status_code == 401


def test_an_authorization_request_may_be_posted_as_a_form(server: RunningServer, identity: Identity) -> None:
    clinic = make_clinic(server, identity, families=("Smith",))
    verifier, challenge = pkce_pair()
    posted = identity.browser.post(identity.url("/oauth2/authorize"), data={
        "response_type": "code", "client_id": clinic.app, "redirect_uri": REDIRECT_URI, "scope": STANDALONE_SCOPE,
        "state": "xyz", "aud": server.fhir_url, "code_challenge": challenge, "code_challenge_method": "S256"})
    picker = open_picker(identity, submit_password(identity, posted))
    body = exchange(identity, clinic, choose(identity, picker, clinic.patients["Smith"]), verifier)
    assert body["patient"] == clinic.patients["Smith"]


def test_backend_services_get_the_system_scopes_they_ask_for_and_no_more(
    server: RunningServer, identity: Identity
) -> None:
    clinic = make_clinic(server, identity, families=("Smith",))
    private, jwk = key_pair("RS384")
    backend = identity.client_application(clinic.project, jwks=json.dumps({"keys": [jwk]}))
    token_url = identity.url("/oauth2/token")

    def request(scope: str) -> dict[str, Any]:
        body: dict[str, Any] = identity.token(
            grant_type="client_credentials", scope=scope, client_assertion_type=ASSERTION_TYPE,
            client_assertion=assertion(private, "RS384", backend, token_url)).json()
        return body

    granted = request("system/*.rs")
    assert granted["scope"] == "system/*.rs" and "refresh_token" not in granted, granted
    with identity.fhir(granted["access_token"]) as fhir:
        assert fhir.get(f"/Patient/{clinic.patients['Smith']}").status_code == 200
        assert fhir.get("/Patient").json()["total"] == 1
        assert fhir.post("/Patient", json={"resourceType": "Patient"}).status_code == 403
    assert request("patient/*.rs")["error"] == "invalid_scope"
