"""`fireside client create` and the super admin created on first start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg

from tests.conftest import RunningServer, start_server

FIRESIDE = str(Path(sys.executable).parent / "fireside")


def test_client_create_prints_credentials_that_get_a_token(server: RunningServer, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": server.database_url}
    output = subprocess.run([FIRESIDE, "client", "create", "--data-dir", str(tmp_path), "--name", "cli"],
                            env=env, check=True, capture_output=True, text=True).stdout
    credentials = json.loads(output)
    assert set(credentials) >= {"client_id", "client_secret"}
    token = httpx.post(server.base_url + "/oauth2/token", data={"grant_type": "client_credentials"},
                       auth=(credentials["client_id"], credentials["client_secret"]))
    assert token.status_code == 200


def test_client_secrets_are_stored_only_as_argon2_hashes(server: RunningServer) -> None:
    credentials = server.create_client()
    with psycopg.connect(server.database_url) as conn:
        stored = conn.execute("SELECT secret_hash FROM client_secret WHERE client_id = %s",
                              [credentials["client_id"]]).fetchone()
        contents = conn.execute("SELECT string_agg(content, '') FROM resource").fetchone()
    assert stored is not None and stored[0].startswith("$argon2")
    assert credentials["client_secret"] not in stored[0]
    assert contents is not None and credentials["client_secret"] not in (contents[0] or "")


def test_the_super_admin_from_the_environment_is_created_on_first_start(database_url: str, tmp_path: Path) -> None:
    uvicorn_server, thread, _ = start_server(database_url, tmp_path, admin_email="Admin@Example.org",
                                             admin_password="correct horse battery staple")
    try:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT email, password_hash, super_admin FROM user_credential").fetchall()
            users = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'User'").fetchone()
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
    assert len(rows) == 1
    email, password_hash, super_admin = rows[0]
    assert email == "Admin@Example.org" and super_admin and password_hash.startswith("$argon2")
    assert users == (1,)
