"""Signing keys rotate: `fireside keys rotate` or the active key's age makes a new key active in
every process without a restart; earlier keys stay published and keep verifying their tokens
until those have expired, then are removed."""

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

from fireside.cli import main
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
