"""Signing in: client credentials against the real token endpoint, renewal, static tokens."""

from __future__ import annotations

import time

import pytest

from fireside.client import ClientCredentials, FiresideClient, FiresideError, decode_token_claims
from tests.conftest import RunningServer


def test_client_credentials_fetch_a_token_whose_claims_name_the_project(server: RunningServer,
                                                                        credentials: dict[str, str]) -> None:
    with FiresideClient(server.base_url, client_id=credentials["client_id"],
                        client_secret=credentials["client_secret"]) as client:
        client.sign_in()
        assert isinstance(client.auth, ClientCredentials) and client.auth.access_token
        claims = decode_token_claims(client.auth.access_token)
    assert claims["fireside_project"] == credentials["project_id"]
    assert claims["client_id"] == credentials["client_id"]


def test_a_wrong_secret_raises_401_with_the_oauth_error(server: RunningServer, credentials: dict[str, str]) -> None:
    with FiresideClient(server.base_url, client_id=credentials["client_id"], client_secret="wrong") as client, \
            pytest.raises(FiresideError) as raised:
        client.read("Patient", "1")
    assert raised.value.status == 401
    assert "invalid_client" in str(raised.value)


def test_a_refused_token_is_renewed_once_and_the_request_retried(server: RunningServer,
                                                                credentials: dict[str, str]) -> None:
    with FiresideClient(server.base_url, client_id=credentials["client_id"],
                        client_secret=credentials["client_secret"], access_token="revoked") as client:
        created = client.create({"resourceType": "Patient"})
        assert created["id"]
        assert isinstance(client.auth, ClientCredentials) and client.auth.access_token != "revoked"


def test_an_expired_token_is_replaced_before_it_is_sent(server: RunningServer, credentials: dict[str, str]) -> None:
    token_url = server.base_url + "/oauth2/token"
    auth = ClientCredentials(credentials["client_id"], credentials["client_secret"], token_url,
                             access_token="stale", expires_at=time.time() - 1)
    with FiresideClient(server.base_url, auth=auth) as client:
        client.create({"resourceType": "Patient"})
    assert auth.access_token != "stale"
    assert auth.expires_at is not None and auth.expires_at > time.time() + 60


def test_a_refused_static_token_raises_401_without_renewing(server: RunningServer) -> None:
    with FiresideClient(server.fhir_url, access_token="forged") as client, pytest.raises(FiresideError) as raised:
        client.read("Patient", "1")
    assert raised.value.status == 401
    assert raised.value.issues[0]["code"] == "login"


def test_the_base_url_may_be_the_server_or_its_fhir_base(server: RunningServer) -> None:
    for given in (server.base_url, server.fhir_url, server.fhir_url + "/"):
        with FiresideClient(given, access_token="x") as client:
            assert (client.base_url, client.fhir_url) == (server.base_url, server.fhir_url)


def test_next_links_to_another_host_are_refused_so_the_token_stays_home(client: FiresideClient) -> None:
    with pytest.raises(FiresideError) as raised:
        client.request("GET", "http://attacker.example/fhir/R4/Patient")
    assert raised.value.issues[0]["code"] == "security"
