"""Signing keys rotate: `fireside keys rotate` or the active key's age makes a new key active in
every process without a restart; earlier keys stay published and keep verifying their tokens
until those have expired, then are removed. Each key is a JsonWebKey resource in the admin
project that follows those changes, and holds nothing private."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from psycopg.types.json import Jsonb

from fireside.auth.encryption import seal, unseal
from fireside.cli import main
from fireside.store import format_instant
from tests.conftest import RunningServer, running_server

StartServer = Callable[..., RunningServer]


@pytest.fixture
def start(database_url: str, tmp_path: Path) -> Iterator[StartServer]:
    """Start servers on this test's database; each re-reads the keys every 0.2 s unless told otherwise."""
    with ExitStack() as servers:
        def run(**overrides: Any) -> RunningServer:
            overrides.setdefault("key_recheck_seconds", 0.2)
            return servers.enter_context(running_server(database_url, tmp_path, **overrides))

        yield run


def rotate(database_url: str, tmp_path: Path, secret_key: str = "test-secret-key") -> Any:
    """`fireside keys rotate` on the database, as an operator runs it."""
    result = CliRunner().invoke(main, ["keys", "rotate", "--data-dir", str(tmp_path)],
                                env={"DATABASE_URL": database_url, "FIRESIDE_SECRET_KEY": secret_key})
    return result


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def published(server: RunningServer) -> list[str]:
    return [key["kid"] for key in httpx.get(server.base_url + "/oauth2/jwks").json()["keys"]]


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def reads(server: RunningServer, token: str) -> int:
    return httpx.get(server.fhir_url + "/Patient", headers={"Authorization": f"Bearer {token}"}).status_code


# What a JsonWebKey may hold: the public JWK members, active and retired, and the server's own.
RECORD_ELEMENTS = {"resourceType", "id", "meta", "kid", "kty", "alg", "use", "crv", "x", "y", "active", "retired"}


def json_web_keys(server: RunningServer) -> dict[str, dict[str, Any]]:
    """The JsonWebKey resources by kid, as a super admin (a client of the admin project) reads them."""
    response = server.fhir_client().get("/JsonWebKey")
    assert response.status_code == 200, response.text
    return {entry["resource"]["kid"]: entry["resource"] for entry in response.json().get("entry", [])}


def public_members(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items()
            if name not in ("resourceType", "id", "meta", "active", "retired")}


def test_a_token_issued_before_rotation_still_verifies_and_both_keys_are_published(
        start: StartServer, tmp_path: Path) -> None:
    server = start()
    credentials = server.create_client()
    before = server.token(credentials)
    old_kid = kid_of(before)
    result = rotate(server.database_url, tmp_path)
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.stdout)
    assert rotated["kid"] != old_kid and rotated["published"] == [rotated["kid"], old_kid]
    assert eventually(lambda: published(server) == [rotated["kid"], old_kid])
    after = server.token(credentials)
    assert kid_of(after) == rotated["kid"]
    assert reads(server, before) == 200 and reads(server, after) == 200
    keys = jwt.PyJWKSet.from_dict(httpx.get(server.base_url + "/oauth2/jwks").json())
    for token in (before, after):
        key = next(k for k in keys.keys if k.key_id == kid_of(token))
        jwt.decode(token, key.key, algorithms=["ES256"], options={"verify_aud": False})


def test_another_server_on_the_same_database_takes_up_the_new_key(start: StartServer, tmp_path: Path) -> None:
    first = start()
    # The second re-reads only every 10 s: a token with a kid it does not know makes it look at once.
    second = start(key_recheck_seconds=10.0)
    credentials = first.create_client()
    assert rotate(first.database_url, tmp_path).exit_code == 0
    assert eventually(lambda: len(published(first)) == 2)
    token = first.token(credentials)
    assert reads(second, token) == 200
    assert published(second) == published(first)
    assert kid_of(second.token(credentials)) == kid_of(token)


def test_a_token_of_a_removed_key_is_refused(start: StartServer, tmp_path: Path) -> None:
    server = start()
    credentials = server.create_client()
    before = server.token(credentials)
    assert reads(server, before) == 200  # verified once, so cached: removal must end that too
    assert rotate(server.database_url, tmp_path).exit_code == 0
    assert eventually(lambda: len(published(server)) == 2)
    with psycopg.connect(server.database_url) as conn:
        # As if the retention (the longest a token of it may be used, 30 days here) had passed.
        conn.execute("UPDATE signing_key SET retired_at = now() - interval '31 days' WHERE kid = %s",
                     [kid_of(before)])
    assert eventually(lambda: published(server) == [kid_of(server.token(credentials))])
    assert reads(server, before) == 401
    with psycopg.connect(server.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM signing_key").fetchone() == (1,)


def test_the_active_key_is_replaced_by_itself_once_older_than_the_rotation_age(start: StartServer) -> None:
    server = start(key_rotation_days=90)
    credentials = server.create_client()
    old_kid = kid_of(server.token(credentials))
    with psycopg.connect(server.database_url) as conn:
        conn.execute("UPDATE signing_key SET created_at = now() - interval '91 days'")
    assert eventually(lambda: len(published(server)) == 2)
    new_kid = kid_of(server.token(credentials))
    assert new_kid != old_kid and published(server) == [new_kid, old_kid]


def test_rotating_with_another_secret_key_is_refused(start: StartServer, tmp_path: Path) -> None:
    server = start()
    result = rotate(server.database_url, tmp_path, secret_key="another-secret")
    assert result.exit_code != 0 and "different secret key" in result.output
    assert len(published(server)) == 1
    with psycopg.connect(server.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM signing_key").fetchone() == (1,)


def test_the_active_key_is_a_json_web_key_resource_with_the_members_jwks_publishes(start: StartServer) -> None:
    server = start()
    [published_key] = httpx.get(server.base_url + "/oauth2/jwks").json()["keys"]
    [record] = json_web_keys(server).values()
    assert record["active"] is True and "retired" not in record
    assert public_members(record) == published_key
    assert kid_of(server.token(server.create_client())) == record["kid"]


def test_rotation_retires_the_old_json_web_key_and_removal_deletes_it(start: StartServer, tmp_path: Path) -> None:
    server = start()
    [old] = json_web_keys(server).values()
    result = rotate(server.database_url, tmp_path)
    assert result.exit_code == 0, result.output
    new_kid = json.loads(result.stdout)["kid"]
    # Written with the rows, by the command: no server needed to have re-read the keys yet.
    records = json_web_keys(server)
    assert set(records) == {old["kid"], new_kid}
    assert records[new_kid]["active"] is True and "retired" not in records[new_kid]
    retired = records[old["kid"]]
    assert retired["id"] == old["id"] and retired["meta"]["versionId"] == "2"
    assert retired["active"] is False and public_members(retired) == public_members(old)
    with psycopg.connect(server.database_url) as conn:
        row = conn.execute("SELECT retired_at FROM signing_key WHERE kid = %s", [old["kid"]]).fetchone()
        assert row is not None and retired["retired"] == format_instant(row[0])
    assert eventually(lambda: published(server) == [new_kid, old["kid"]])
    with psycopg.connect(server.database_url) as conn:
        conn.execute("UPDATE signing_key SET retired_at = now() - interval '31 days' WHERE kid = %s", [old["kid"]])
    assert eventually(lambda: published(server) == [new_kid])
    assert list(json_web_keys(server)) == [new_kid]
    assert server.fhir_client().get(f"/JsonWebKey/{old['id']}").status_code == 410


def test_no_json_web_key_version_holds_private_material(start: StartServer, tmp_path: Path) -> None:
    server = start()
    assert rotate(server.database_url, tmp_path).exit_code == 0
    with psycopg.connect(server.database_url) as conn:
        contents = [row[0] for row in conn.execute(
            "SELECT content FROM resource_history WHERE resource_type = 'JsonWebKey' AND NOT deleted")]
        sealed = [bytes(row[0]) for row in conn.execute("SELECT private_key_encrypted FROM signing_key")]
    assert len(contents) == 3  # the first key, made then retired, and the second
    for content in contents:
        assert set(json.loads(content)) <= RECORD_ELEMENTS
    for private in sealed:
        pem = unseal("test-secret-key", "signing-keys", private, "token signing key")
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        d = json.loads(ECAlgorithm.to_jwk(key))["d"]
        assert not any(d in content for content in contents)


def test_a_key_made_before_json_web_keys_existed_is_published_at_start(
        database_url: str, start: StartServer) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**json.loads(ECAlgorithm.to_jwk(private_key.public_key())), "kid": "legacy_key-1", "alg": "ES256",
           "use": "sig"}
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    with psycopg.connect(database_url) as conn:
        # As a server before migration 0012 made it: a row, and no resource.
        conn.execute("INSERT INTO signing_key (kid, algorithm, private_key_encrypted, public_jwk)"
                     " VALUES (%s, 'ES256', %s, %s)", [jwk["kid"], seal("test-secret-key", "signing-keys", pem),
                                                       Jsonb(jwk)])
    server = start()
    assert kid_of(server.token(server.create_client())) == "legacy_key-1"
    records = json_web_keys(server)
    assert list(records) == ["legacy_key-1"] and records["legacy_key-1"]["active"] is True
    assert public_members(records["legacy_key-1"]) == jwk
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT resource_id FROM signing_key").fetchone() == (records["legacy_key-1"]["id"],)


def test_json_web_keys_are_written_by_the_server_alone(start: StartServer, tmp_path: Path) -> None:
    server = start()
    credentials = server.create_client()
    [record] = json_web_keys(server).values()
    jwks = httpx.get(server.base_url + "/oauth2/jwks").json()
    member = server.fhir_client(new_project="Elsewhere")
    listed = member.get("/JsonWebKey")  # another project's: the admin project's records are not there
    assert listed.status_code == 200 and listed.json().get("entry", []) == []
    assert member.post("/JsonWebKey", json={**public_members(record), "resourceType": "JsonWebKey",
                                            "active": True}).status_code == 403
    # A super admin may write administrative resources, this one too: it is only the public
    # record, so the keys that sign and verify do not change, and the next change of the keys
    # puts the record back.
    edited = {**record, "active": False, "x": "not-the-key"}
    del edited["meta"]
    super_admin = server.fhir_client()
    assert super_admin.put(f"/JsonWebKey/{record['id']}", json=edited).status_code == 200
    time.sleep(0.5)  # re-reads at 0.2 s
    assert httpx.get(server.base_url + "/oauth2/jwks").json() == jwks
    token = server.token(credentials)
    assert kid_of(token) == record["kid"] and reads(server, token) == 200
    assert rotate(server.database_url, tmp_path).exit_code == 0
    restored = json_web_keys(server)[record["kid"]]
    assert restored["active"] is False and "retired" in restored
    assert public_members(restored) == public_members(record)
