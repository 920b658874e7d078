"""Fixtures for the CLI tests: a private config directory and a runner signed in to a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fireside.cli import main
from tests.auth import conftest as auth_fixtures
from tests.conftest import RunningServer

Invoke = Callable[..., Result]


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """click.get_app_dir("fireside") resolves under XDG_CONFIG_HOME on Linux."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for variable in ("FIRESIDE_SERVER", "FIRESIDE_CLIENT_ID", "FIRESIDE_CLIENT_SECRET", "FIRESIDE_TOKEN",
                     "FIRESIDE_EMAIL", "FIRESIDE_PASSWORD", "FIRESIDE_KEY_ID", "FIRESIDE_TOTP_CODE"):
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def fireside(config_home: Path) -> Invoke:
    """Run `fireside ARGS...` in-process; stdout and stderr stay apart on the result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def logged_in(server: RunningServer, fireside: Invoke) -> Invoke:
    credentials = server.create_client()
    result = fireside("login", "--server", server.base_url, "--client-id", credentials["client_id"],
                      "--client-secret", credentials["client_secret"])
    assert result.exit_code == 0, result.output
    return fireside


# Users, applications and memberships made in the database; the SMTP sink and a server that
# mails to it (for the invite tests): as tests/auth has them.
identity = auth_fixtures.identity
mail_sink = auth_fixtures.mail_sink
mail_server = auth_fixtures.mail_server
