"""The authorization code flow with PKCE, driven by hand as a browser and a public client would."""

from __future__ import annotations

import jwt

from tests.auth.conftest import REDIRECT_URI, Identity, claims_of, form_token, pkce_pair, redirect_query


def test_a_user_signs_in_with_pkce_and_reads_their_projects_resources(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    user_id = identity.user(project, "ana@clinic.example")
    sign_in = identity.sign_in(client_id, "ana@clinic.example")
    assert sign_in.state == "xyz"
    tokens = identity.exchange(client_id, sign_in)
    assert tokens["token_type"] == "Bearer" and tokens["project"] == str(project)
    assert claims_of(tokens["access_token"])["sub"] == f"User/{user_id}"
    with identity.fhir(tokens["access_token"]) as fhir:
        created = fhir.post("/Patient", json={"resourceType": "Patient"})
        assert created.status_code == 201
        assert fhir.get(f"/Patient/{created.json()['id']}").status_code == 200


def test_the_id_token_names_the_user_their_fhir_resource_and_the_nonce(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "doc@clinic.example", profile="Practitioner/doc-1")
    tokens = identity.exchange(client_id, identity.sign_in(client_id, "doc@clinic.example", nonce="n-0S6"))
    keys = jwt.PyJWKSet.from_dict(identity.browser.get(identity.url("/oauth2/jwks")).json())
    claims = jwt.decode(tokens["id_token"], keys.keys[0].key, algorithms=["ES256"], audience=client_id)
    assert claims["nonce"] == "n-0S6"
    assert claims["fhirUser"] == identity.server.fhir_url + "/Practitioner/doc-1"
    info = identity.browser.get(identity.url("/oauth2/userinfo"),
                                headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    assert info.json()["email"] == "doc@clinic.example" and info.json()["fhirUser"] == claims["fhirUser"]


def test_an_unregistered_redirect_uri_is_shown_as_an_error_and_never_followed(identity: Identity) -> None:
    client_id = identity.client_application(identity.project("Clinic"))
    _, challenge = pkce_pair()
    page = identity.authorize(client_id, redirect_uri="https://evil.example/callback", code_challenge=challenge,
                              code_challenge_method="S256")
    assert page.status_code == 400 and "location" not in page.headers
    assert "redirect_uri is not registered" in page.text


def test_an_unknown_client_is_shown_as_an_error(identity: Identity) -> None:
    page = identity.authorize("no-such-client")
    assert page.status_code == 400 and "not a registered client" in page.text


def test_a_public_client_without_pkce_is_sent_back_an_error(identity: Identity) -> None:
    client_id = identity.client_application(identity.project("Clinic"))
    answer = identity.authorize(client_id)
    assert answer.status_code == 303
    query = redirect_query(answer)
    assert query["error"] == "invalid_request" and query["state"] == "xyz"


def test_the_plain_pkce_method_is_refused(identity: Identity) -> None:
    client_id = identity.client_application(identity.project("Clinic"))
    verifier, _ = pkce_pair()
    answer = identity.authorize(client_id, code_challenge=verifier, code_challenge_method="plain")
    assert redirect_query(answer)["error"] == "invalid_request"


def test_a_wrong_code_verifier_is_refused(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    sign_in = identity.sign_in(client_id, "ana@clinic.example")
    wrong, _ = pkce_pair()
    response = identity.token(grant_type="authorization_code", code=sign_in.code, redirect_uri=REDIRECT_URI,
                              client_id=client_id, code_verifier=wrong)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_different_redirect_uri_at_the_token_endpoint_is_refused(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project, redirectUri=[REDIRECT_URI, "https://app.example/other"])
    identity.user(project, "ana@clinic.example")
    sign_in = identity.sign_in(client_id, "ana@clinic.example")
    response = identity.token(grant_type="authorization_code", code=sign_in.code, client_id=client_id,
                              redirect_uri="https://app.example/other", code_verifier=sign_in.verifier)
    assert response.json()["error"] == "invalid_grant"


def test_a_code_used_twice_is_refused_and_revokes_what_it_gave(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    sign_in = identity.sign_in(client_id, "ana@clinic.example")
    first = identity.exchange(client_id, sign_in)
    again = identity.token(grant_type="authorization_code", code=sign_in.code, redirect_uri=REDIRECT_URI,
                           client_id=client_id, code_verifier=sign_in.verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    with identity.fhir(first["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 401
    refreshed = identity.token(grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=client_id)
    assert refreshed.json()["error"] == "invalid_grant"


def test_a_wrong_password_shows_the_form_again_without_a_code(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    _, challenge = pkce_pair()
    form = identity.authorize(client_id, code_challenge=challenge, code_challenge_method="S256")
    answer = identity.submit(form, "ana@clinic.example", "wrong password")
    assert answer.status_code == 401 and "Wrong email or password" in answer.text
    assert 'name="password"' in answer.text


def test_a_form_posted_from_another_browser_is_refused(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    _, challenge = pkce_pair()
    form = identity.authorize(client_id, code_challenge=challenge, code_challenge_method="S256")
    # No cookie: what a cross-site form post looks like (SameSite keeps the cookie back).
    import httpx

    answer = httpx.post(identity.url("/oauth2/authorize"),
                        data={"form_token": form_token(form), "email": "ana@clinic.example",
                              "password": "correct horse battery staple"})
    assert answer.status_code == 400 and "location" not in answer.headers


def test_discovery_documents_name_every_endpoint(identity: Identity) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/smart-configuration",
                 "/fhir/R4/.well-known/smart-configuration"):
        document = identity.browser.get(identity.url(path)).json()
        for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "introspection_endpoint",
                         "revocation_endpoint", "end_session_endpoint", "jwks_uri"):
            assert document[endpoint].startswith(identity.server.base_url), (path, endpoint)
        assert document["code_challenge_methods_supported"] == ["S256"]
        assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
        assert {"RS384", "ES384"} <= set(document["token_endpoint_auth_signing_alg_values_supported"])


def test_with_pkce_the_token_request_may_leave_out_the_redirect_uri(identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    sign_in = identity.sign_in(client_id, "ana@clinic.example")
    response = identity.token(grant_type="authorization_code", code=sign_in.code, client_id=client_id,
                              code_verifier=sign_in.verifier)
    assert response.status_code == 200, response.text
