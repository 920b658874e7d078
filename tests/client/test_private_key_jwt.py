"""Signing in as a backend service with a private key (RFC 7523 client assertion), RS384 and ES384,
against the real token endpoint."""

from __future__ import annotations

import pytest

from fireside.client import FiresideClient, FiresideError, PrivateKeyJwt, decode_token_claims
from tests.auth.conftest import Identity
from tests.client.conftest import keyed_client, signing_key


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_a_private_key_signs_the_client_in_and_its_token_writes(identity: Identity, algorithm: str) -> None:
    key = signing_key(algorithm)
    client_id = keyed_client(identity, key)
    with FiresideClient(identity.server.base_url, client_id=client_id, private_key=key.pem, key_id="key-1") as client:
        created = client.create({"resourceType": "Patient", "name": [{"family": "Keyed"}]})
        assert client.read("Patient", created["id"])["name"][0]["family"] == "Keyed"
        assert isinstance(client.auth, PrivateKeyJwt) and client.auth.algorithm == algorithm
        assert client.auth.access_token is not None
        claims = decode_token_claims(client.auth.access_token)
    assert claims["sub"] == f"ClientApplication/{client_id}" and claims["scope"] == "system/*.*"


def test_each_renewal_signs_a_new_assertion_since_a_jti_is_accepted_once(identity: Identity) -> None:
    key = signing_key("ES384")
    client_id = keyed_client(identity, key)
    with FiresideClient(identity.server.fhir_url, client_id=client_id, private_key=key.pem, key_id="key-1",
                        scope="system/*.rs") as client:
        client.sign_in()
        assert isinstance(client.auth, PrivateKeyJwt)
        first = client.auth.access_token
        client.auth.access_token = "refused"  # the server answers 401, and the client renews
        assert client.search("Patient")["resourceType"] == "Bundle"
        assert client.auth.access_token not in (first, "refused")
        assert client.auth.token_response["scope"] == "system/*.rs"


def test_a_key_the_client_did_not_register_is_refused_as_invalid_client(identity: Identity) -> None:
    client_id = keyed_client(identity, signing_key("RS384"))
    stranger = signing_key("RS384")
    with FiresideClient(identity.server.base_url, client_id=client_id, private_key=stranger.pem,
                        key_id="key-1") as client, pytest.raises(FiresideError) as raised:
        client.sign_in()
    assert raised.value.status == 401 and "invalid_client" in str(raised.value)


def test_private_key_needs_a_key_id_and_no_secret() -> None:
    key = signing_key("ES384")
    with pytest.raises(ValueError, match="key_id"):
        FiresideClient("http://127.0.0.1:9", client_id="app", private_key=key.pem)
    with pytest.raises(ValueError, match="no client_secret"):
        FiresideClient("http://127.0.0.1:9", client_id="app", client_secret="s", private_key=key.pem, key_id="k")
