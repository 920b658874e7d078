"""Backend services: client_credentials with a signed client assertion (RFC 7523, SMART
Backend Services), with RS384 and ES384 keys made in the test. A `jwksUri` is fetched only over
https from public addresses, unless its host is allowed (fireside/auth/outbound.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.auth.conftest import Identity
from tests.conftest import running_server

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def key_pair(algorithm: str) -> tuple[Any, dict[str, Any]]:
    if algorithm.startswith("RS"):
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        private = ec.generate_private_key(ec.SECP384R1())
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": f"key-{algorithm}", "alg": algorithm, "use": "sig"})
    return private, jwk


def assertion(private: Any, algorithm: str, client_id: str, audience: str, **overrides: Any) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "exp": int(time.time()) + 240,
              "jti": str(uuid.uuid4()), **overrides}
    return jwt.encode(claims, private, algorithm=algorithm, headers={"kid": f"key-{algorithm}"})


def backend_client(identity: Identity, algorithm: str) -> tuple[str, Any]:
    private, jwk = key_pair(algorithm)
    client_id = identity.client_application(identity.project("Lab"), jwks=json.dumps({"keys": [jwk]}))
    return client_id, private


def request_token(identity: Identity, signed: str) -> dict[str, Any]:
    body: dict[str, Any] = identity.token(grant_type="client_credentials", client_assertion_type=ASSERTION_TYPE,
                                          client_assertion=signed, scope="system/*.rs").json()
    return body


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_a_backend_client_gets_a_token_with_a_signed_assertion(identity: Identity, algorithm: str) -> None:
    client_id, private = backend_client(identity, algorithm)
    token_url = identity.url("/oauth2/token")
    body = request_token(identity, assertion(private, algorithm, client_id, token_url))
    assert body["token_type"] == "Bearer" and body["scope"] == "system/*.rs", body
    with identity.fhir(body["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 200


def test_an_assertion_cannot_be_replayed(identity: Identity) -> None:
    client_id, private = backend_client(identity, "ES384")
    signed = assertion(private, "ES384", client_id, identity.url("/oauth2/token"))
    assert "access_token" in request_token(identity, signed)
    replayed = request_token(identity, signed)
    assert replayed["error"] == "invalid_client" and "jti" in replayed["error_description"]


def test_an_assertion_for_another_audience_is_refused(identity: Identity) -> None:
    client_id, private = backend_client(identity, "RS384")
    body = request_token(identity, assertion(private, "RS384", client_id, "https://other.example/token"))
    assert body["error"] == "invalid_client"


def test_an_assertion_signed_by_another_key_is_refused(identity: Identity) -> None:
    client_id, _ = backend_client(identity, "ES384")
    stranger, _ = key_pair("ES384")
    body = request_token(identity, assertion(stranger, "ES384", client_id, identity.url("/oauth2/token")))
    assert body["error"] == "invalid_client"


def test_an_assertion_whose_subject_is_not_the_client_is_refused(identity: Identity) -> None:
    client_id, private = backend_client(identity, "RS384")
    body = request_token(identity, assertion(private, "RS384", client_id, identity.url("/oauth2/token"),
                                             sub="someone-else"))
    assert body["error"] == "invalid_client"


def test_an_assertion_valid_for_longer_than_five_minutes_is_refused(identity: Identity) -> None:
    client_id, private = backend_client(identity, "ES384")
    body = request_token(identity, assertion(private, "ES384", client_id, identity.url("/oauth2/token"),
                                             exp=int(time.time()) + 3600))
    assert body["error"] == "invalid_client"


def test_a_public_client_cannot_use_client_credentials(identity: Identity) -> None:
    client_id = identity.client_application(identity.project("Clinic"))
    body = identity.token(grant_type="client_credentials", client_id=client_id).json()
    assert body["error"] == "unauthorized_client"


@contextmanager
def serving_keys(jwk: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """A JWK Set on a local HTTP server: its URL, and the paths requested so far."""
    document = json.dumps({"keys": [jwk]}).encode()
    requested: list[str] = []

    class JwksHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    keys_server = HTTPServer(("127.0.0.1", 0), JwksHandler)
    thread = threading.Thread(target=keys_server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{keys_server.server_address[1]}/jwks.json", requested
    finally:
        keys_server.shutdown()
        keys_server.server_close()


def test_keys_are_fetched_from_the_clients_jwks_uri(identity: Identity) -> None:
    """The test servers allow 127.0.0.1 (tests/conftest.py), over plain http too."""
    private, jwk = key_pair("RS384")
    with serving_keys(jwk) as (jwks_uri, requested):
        client_id = identity.client_application(identity.project("Lab"), jwksUri=jwks_uri)
        body = request_token(identity, assertion(private, "RS384", client_id, identity.url("/oauth2/token")))
        assert body["token_type"] == "Bearer", body
        assert requested == ["/jwks.json"]


@pytest.fixture
def strict_identity(database_url: str, tmp_path: Path) -> Iterator[Identity]:
    """A server with the production default: no host allowed beyond public https ones."""
    with running_server(database_url, tmp_path, outbound_allow_hosts=()) as running:
        helper = Identity(running)
        yield helper
        helper.browser.close()


def test_a_jwks_uri_on_a_loopback_address_is_refused_unless_allowed(strict_identity: Identity) -> None:
    identity = strict_identity
    private, jwk = key_pair("ES384")
    with serving_keys(jwk) as (jwks_uri, requested):
        client_id = identity.client_application(identity.project("Lab"), jwksUri=jwks_uri)
        answer = identity.token(grant_type="client_credentials", client_assertion_type=ASSERTION_TYPE,
                                client_assertion=assertion(private, "ES384", client_id, identity.url("/oauth2/token")))
        assert answer.status_code == 401, answer.text
        body = answer.json()
        assert body["error"] == "invalid_client" and "https" in body["error_description"], body
        assert requested == []  # refused before any request
        https_uri = jwks_uri.replace("http://", "https://")
        client_id = identity.client_application(identity.project("Lab"), jwksUri=https_uri)
        answer = identity.token(grant_type="client_credentials", client_assertion_type=ASSERTION_TYPE,
                                client_assertion=assertion(private, "ES384", client_id, identity.url("/oauth2/token")))
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", answer.text
        assert "not public (127.0.0.1)" in answer.json()["error_description"]
        assert requested == []


@pytest.mark.parametrize("jwks_uri", [
    "https://localhost/jwks.json",
    "https://169.254.169.254/latest/meta-data",  # the cloud metadata service
    "https://10.0.0.8/jwks.json",
    "https://[::1]/jwks.json",
    "https://[::ffff:127.0.0.1]/jwks.json",  # loopback inside an IPv6 address
    "file:///etc/passwd",
])
def test_a_jwks_uri_that_is_not_public_https_is_refused_with_invalid_client(
        identity: Identity, jwks_uri: str) -> None:
    private, _ = key_pair("ES384")
    client_id = identity.client_application(identity.project("Lab"), jwksUri=jwks_uri)
    answer = identity.token(grant_type="client_credentials", client_assertion_type=ASSERTION_TYPE,
                            client_assertion=assertion(private, "ES384", client_id, identity.url("/oauth2/token")))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client" and "not fetched" in answer.json()["error_description"]
