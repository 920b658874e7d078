"""Fixtures for the SDK tests: a client signed in to a real server, a capability probe, and the
users, applications and keys the sign-in tests need (made in the database, as tests/auth does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from fireside.client import FiresideClient
from tests.auth import conftest as auth_fixtures
from tests.auth.conftest import Identity
from tests.conftest import RunningServer


def require(server: RunningServer, interaction: str) -> None:
    """Skip unless the server's CapabilityStatement claims `interaction` (it lists only what is wired)."""
    statement = httpx.get(server.fhir_url + "/metadata").json()
    rest = statement["rest"][0]
    codes = {i["code"] for i in rest.get("interaction", [])}
    codes |= {i["code"] for resource in rest.get("resource", []) for i in resource.get("interaction", [])}
    if interaction not in codes:
        pytest.skip(f"the server does not support {interaction} yet")


@pytest.fixture
def credentials(server: RunningServer) -> dict[str, str]:
    return server.create_client()


@pytest.fixture
def client(server: RunningServer, credentials: dict[str, str]) -> Iterator[FiresideClient]:
    with FiresideClient(server.base_url, client_id=credentials["client_id"],
                        client_secret=credentials["client_secret"]) as signed_in:
        yield signed_in


# Users, applications and memberships made in the database; the SMTP sink and a server that
# mails to it (for the invite tests): as tests/auth has them.
identity = auth_fixtures.identity
mail_sink = auth_fixtures.mail_sink
mail_server = auth_fixtures.mail_server


@dataclass(frozen=True)
class SigningKey:
    pem: str  # the private key, PKCS#8 PEM, as a file would hold it
    jwk: dict[str, Any]  # its public half, as the ClientApplication registers it


def signing_key(algorithm: str, key_id: str = "key-1") -> SigningKey:
    private: Any = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if algorithm.startswith("RS")
                    else ec.generate_private_key(ec.SECP384R1()))
    jwk = json.loads((RSAAlgorithm if algorithm.startswith("RS") else ECAlgorithm).to_jwk(private.public_key()))
    jwk.update({"kid": key_id, "alg": algorithm, "use": "sig"})
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return SigningKey(pem, jwk)


def keyed_client(identity: Identity, key: SigningKey, project: str = "Lab") -> str:
    """A backend ClientApplication that signs in with `key` (private_key_jwt); returns its id."""
    return identity.client_application(identity.project(project), jwks=json.dumps({"keys": [key.jwk]}))
