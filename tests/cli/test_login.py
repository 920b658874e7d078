"""`fireside login | whoami | logout`, and the credentials file they keep."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from fireside.client import decode_token_claims
from tests.cli.conftest import Invoke
from tests.conftest import RunningServer


def credentials_file(config_home: Path) -> Path:
    return config_home / "fireside" / "credentials.json"


def test_login_stores_a_renewable_credential_readable_only_by_the_user(
        server: RunningServer, fireside: Invoke, config_home: Path) -> None:
    credentials = server.create_client()
    result = fireside("login", "--server", server.base_url, "--client-id", credentials["client_id"],
                      "--client-secret", credentials["client_secret"])
    assert result.exit_code == 0, result.output
    assert "Logged in" in result.stderr
    path = credentials_file(config_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["current"] == server.base_url
    login = stored["logins"][server.base_url]
    assert login["kind"] == "client_credentials" and login["client_secret"] == credentials["client_secret"]
    assert decode_token_claims(login["access_token"])["client_id"] == credentials["client_id"]


def test_a_rewritten_credentials_file_stays_private(server: RunningServer, logged_in: Invoke,
                                                    config_home: Path) -> None:
    path = credentials_file(config_home)
    path.chmod(0o644)
    assert logged_in("logout").exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["logins"] == {}


def test_whoami_shows_the_subject_project_scope_and_expiry(server: RunningServer, fireside: Invoke) -> None:
    credentials = server.create_client()
    fireside("login", "--server", server.base_url, "--client-id", credentials["client_id"],
             "--client-secret", credentials["client_secret"])
    result = fireside("whoami")
    assert result.exit_code == 0, result.output
    assert f"Server:      {server.base_url}" in result.stdout
    assert "Subject:     ClientApplication/" in result.stdout
    assert f"Project:     {credentials['project_id']}" in result.stdout
    assert re.search(r"Expires:     \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+ min\)", result.stdout)
    claims = json.loads(fireside("whoami", "--json").stdout)
    assert claims["client_id"] == credentials["client_id"]


def test_login_with_a_token_stores_it_as_is(server: RunningServer, fireside: Invoke, config_home: Path) -> None:
    token = server.token(server.create_client())
    assert fireside("login", "--server", server.base_url, "--token", token).exit_code == 0
    login = json.loads(credentials_file(config_home).read_text())["logins"][server.base_url]
    assert login == {"kind": "token", "access_token": token}
    assert fireside("get", "metadata").exit_code == 0


def test_login_with_a_wrong_secret_prints_the_error_and_stores_nothing(
        server: RunningServer, fireside: Invoke, config_home: Path) -> None:
    credentials = server.create_client()
    result = fireside("login", "--server", server.base_url, "--client-id", credentials["client_id"],
                      "--client-secret", "wrong")
    assert result.exit_code == 1
    assert "HTTP 401" in result.stderr and "invalid_client" in result.stderr
    assert not credentials_file(config_home).exists()


def test_login_without_credentials_is_a_usage_error(fireside: Invoke) -> None:
    result = fireside("login")
    assert result.exit_code == 2
    assert "--client-id" in result.stderr


def test_whoami_before_login_says_how_to_log_in(fireside: Invoke) -> None:
    result = fireside("whoami", "--server", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "fireside login" in result.stderr
