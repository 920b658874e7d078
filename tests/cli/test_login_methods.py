"""`fireside login` as a user (email and password) and with a private key: what is stored, and
how the stored sign-in renews itself in later commands."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from fireside.client import decode_token_claims
from tests.auth.conftest import PASSWORD, Identity
from tests.auth.test_mfa import code, turn_on, wrong_code
from tests.cli.conftest import Invoke
from tests.cli.test_login import credentials_file
from tests.client.conftest import keyed_client, signing_key

EMAIL = "ana@clinic.example"


def clinic_app(identity: Identity) -> tuple[str, str]:
    """A project's public app and a member of the project: (client id, user id)."""
    project = identity.project("Clinic")
    return identity.client_application(project), identity.user(project, EMAIL)


def stored_login(config_home: Path, server_url: str) -> dict[str, Any]:
    login: dict[str, Any] = json.loads(credentials_file(config_home).read_text())["logins"][server_url]
    return login


def expire_stored_token(config_home: Path) -> None:
    path = credentials_file(config_home)
    data = json.loads(path.read_text())
    for login in data["logins"].values():
        login["expires_at"] = time.time() - 1
    path.write_text(json.dumps(data))


def test_login_with_email_and_password_stores_a_refresh_token_and_never_the_password(
        identity: Identity, fireside: Invoke, config_home: Path) -> None:
    client_id, user_id = clinic_app(identity)
    result = fireside("login", "--server", identity.server.base_url, "--client-id", client_id, "--email", EMAIL,
                      "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert f"as {EMAIL}" in result.stderr
    path = credentials_file(config_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and PASSWORD not in path.read_text()
    login = stored_login(config_home, identity.server.base_url)
    assert login["kind"] == "refresh_token" and login["email"] == EMAIL and login["refresh_token"]
    assert decode_token_claims(login["access_token"])["sub"] == f"User/{user_id}"
    whoami = fireside("whoami")
    assert whoami.exit_code == 0, whoami.output
    assert f"Subject:     User/{user_id}" in whoami.stdout and f"Email:       {EMAIL}" in whoami.stdout


def test_the_password_may_come_from_the_environment_or_a_hidden_prompt(
        identity: Identity, fireside: Invoke, config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id, _ = clinic_app(identity)
    prompted = fireside("login", "--server", identity.server.base_url, "--client-id", client_id, "--email", EMAIL,
                        input=PASSWORD + "\n")
    assert prompted.exit_code == 0, prompted.output
    assert "Password:" in prompted.output and PASSWORD not in prompted.output
    monkeypatch.setenv("FIRESIDE_PASSWORD", PASSWORD)
    monkeypatch.setenv("FIRESIDE_EMAIL", EMAIL)
    from_environment = fireside("login", "--server", identity.server.base_url, "--client-id", client_id)
    assert from_environment.exit_code == 0, from_environment.output
    assert "Password:" not in from_environment.output


def test_a_stored_user_sign_in_renews_and_keeps_the_newest_refresh_token(
        identity: Identity, fireside: Invoke, config_home: Path) -> None:
    client_id, _ = clinic_app(identity)
    fireside("login", "--server", identity.server.base_url, "--client-id", client_id, "--email", EMAIL,
             "--password", PASSWORD)
    first = stored_login(config_home, identity.server.base_url)
    for _ in range(2):  # twice: the second renewal works only if the first kept the rotated token
        expire_stored_token(config_home)
        result = fireside("search", "Patient")
        assert result.exit_code == 0, result.output
    renewed = stored_login(config_home, identity.server.base_url)
    assert renewed["refresh_token"] != first["refresh_token"] and renewed["access_token"] != first["access_token"]
    assert renewed["expires_at"] > time.time()


def test_a_wrong_password_prints_the_forms_message_and_stores_nothing(
        identity: Identity, fireside: Invoke, config_home: Path) -> None:
    client_id, _ = clinic_app(identity)
    result = fireside("login", "--server", identity.server.base_url, "--client-id", client_id, "--email", EMAIL,
                      "--password", "wrong")
    assert result.exit_code == 1
    assert "HTTP 401" in result.stderr and "Wrong email or password" in result.stderr
    assert not credentials_file(config_home).exists()


def test_a_user_with_totp_on_is_asked_for_the_code_or_gives_it_and_renewals_need_none(
        identity: Identity, fireside: Invoke, config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id, user_id = clinic_app(identity)
    secret = turn_on(identity, client_id)
    login = ("login", "--server", identity.server.base_url, "--client-id", client_id, "--email", EMAIL)
    prompted = fireside(*login, input=f"{PASSWORD}\n{code(secret)}\n")
    assert prompted.exit_code == 0, prompted.output
    assert "Two-factor code" in prompted.output and f"as {EMAIL}" in prompted.stderr
    assert stored_login(config_home, identity.server.base_url)["kind"] == "refresh_token"
    # A code works once: the next sign-in takes the next step's (the server allows one step of drift).
    monkeypatch.setenv("FIRESIDE_TOTP_CODE", code(secret, 1))
    given = fireside(*login, "--password", PASSWORD)
    assert given.exit_code == 0, given.output
    assert "Two-factor code" not in given.output
    expire_stored_token(config_home)
    whoami = fireside("whoami")
    assert whoami.exit_code == 0 and f"Subject:     User/{user_id}" in whoami.stdout


def test_a_wrong_code_at_login_prints_the_forms_message_and_stores_nothing(
        identity: Identity, fireside: Invoke, config_home: Path) -> None:
    client_id, _ = clinic_app(identity)
    secret = turn_on(identity, client_id)
    result = fireside("login", "--server", identity.server.base_url, "--client-id", client_id, "--email", EMAIL,
                      "--password", PASSWORD, "--totp-code", wrong_code(secret))
    assert result.exit_code == 1
    assert "HTTP 401" in result.stderr and "Wrong or already used code" in result.stderr
    assert not credentials_file(config_home).exists()


def test_email_without_a_client_id_is_a_usage_error(fireside: Invoke) -> None:
    result = fireside("login", "--email", EMAIL, "--password", PASSWORD)
    assert result.exit_code == 2 and "--client-id" in result.stderr


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_login_with_a_private_key_stores_its_path_and_renews_with_it(
        identity: Identity, fireside: Invoke, config_home: Path, tmp_path: Path, algorithm: str) -> None:
    key = signing_key(algorithm, key_id="cli-key")
    client_id = keyed_client(identity, key)
    key_file = tmp_path / "key.pem"
    key_file.write_text(key.pem)
    result = fireside("login", "--server", identity.server.base_url, "--client-id", client_id,
                      "--private-key", str(key_file), "--key-id", "cli-key")
    assert result.exit_code == 0, result.output
    login = stored_login(config_home, identity.server.base_url)
    assert login["kind"] == "private_key_jwt" and login["private_key_file"] == str(key_file.resolve())
    assert "PRIVATE KEY" not in credentials_file(config_home).read_text()
    expire_stored_token(config_home)
    assert fireside("post", "Patient", "-", input='{"resourceType": "Patient"}').exit_code == 0
    assert stored_login(config_home, identity.server.base_url)["access_token"] != login["access_token"]
    assert "Subject:     ClientApplication/" in fireside("whoami").stdout


def test_a_private_key_without_a_key_id_is_a_usage_error(fireside: Invoke, tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(signing_key("ES384").pem)
    result = fireside("login", "--client-id", "app", "--private-key", str(key_file))
    assert result.exit_code == 2 and "--key-id" in result.stderr


def test_a_client_created_with_a_redirect_uri_serves_a_users_password_login(
        identity: Identity, fireside: Invoke, config_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A new project's first app for its users comes from `client create --public --redirect-uri`,
    since no member of the project can sign in before an app exists."""
    project = identity.project("Clinic")
    user_id = identity.user(project, EMAIL)
    monkeypatch.setenv("DATABASE_URL", identity.server.database_url)
    created = fireside("client", "create", "--data-dir", str(tmp_path), "--name", "cli", "--project", str(project),
                       "--redirect-uri", "http://127.0.0.1/callback", "--public")
    assert created.exit_code == 0, created.output
    client_id = json.loads(created.stdout)["client_id"]
    assert json.loads(created.stdout)["client_secret"] is None
    result = fireside("login", "--server", identity.server.base_url, "--client-id", client_id, "--email", EMAIL,
                      "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    login = stored_login(config_home, identity.server.base_url)
    assert decode_token_claims(login["access_token"])["sub"] == f"User/{user_id}"
