"""Where `fireside login` keeps the sign-in: one JSON file in the user's config directory
(`click.get_app_dir("fireside")`, ~/.config/fireside on Linux), readable by the user alone.

The file holds a login per server plus the server last signed in to:

    {"current": "http://127.0.0.1:8103",
     "logins": {"http://127.0.0.1:8103": {"kind": "client_credentials", "client_id": "...",
                                          "client_secret": "...", "access_token": "...", "expires_at": 1.7e9}}}

A login's `kind` says how to renew it. Each kind maps to an Authenticator in `AUTHENTICATORS`;
the browser (authorization code + PKCE) login of the identity release adds a kind that stores a
refresh token, and nothing else here changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

if TYPE_CHECKING:
    from fireside.client import Authenticator

FILE_NAME = "credentials.json"


@dataclass
class StoredLogin:
    kind: str  # "client_credentials" or "token"
    access_token: str | None = None
    expires_at: float | None = None
    client_id: str | None = None
    client_secret: str | None = None

    def authenticator(self, server: str) -> Authenticator:
        make = AUTHENTICATORS.get(self.kind)
        if make is None:
            raise click.ClickException(f"Unknown login kind {self.kind!r}: run `fireside login` again")
        return make(self, server)

    def remember(self, auth: Authenticator) -> bool:
        """Keep the token `auth` now holds (a renewed one); True when it changed."""
        from fireside.client import OAuthGrant

        if not isinstance(auth, OAuthGrant) or auth.access_token == self.access_token:
            return False
        self.access_token, self.expires_at = auth.access_token, auth.expires_at
        return True


def _client_credentials(login: StoredLogin, server: str) -> Authenticator:
    from fireside.client import ClientCredentials

    assert login.client_id and login.client_secret
    return ClientCredentials(login.client_id, login.client_secret, f"{server}/oauth2/token",
                             access_token=login.access_token, expires_at=login.expires_at)


def _token(login: StoredLogin, server: str) -> Authenticator:
    from fireside.client import StaticToken

    assert login.access_token
    return StaticToken(login.access_token)


AUTHENTICATORS: dict[str, Callable[[StoredLogin, str], Authenticator]] = {
    "client_credentials": _client_credentials,
    "token": _token,
}


def config_dir() -> Path:
    return Path(click.get_app_dir("fireside"))


class CredentialStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {"current": None, "logins": {}}
        except orjson.JSONDecodeError as error:
            raise click.ClickException(f"{self.path} is not valid JSON ({error}): fix or delete it") from error
        return data if isinstance(data, dict) else {"current": None, "logins": {}}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        # Created 0600 (never briefly world-readable), then renamed over the old file.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def current_server(self) -> str | None:
        current = self._read().get("current")
        return current if isinstance(current, str) else None

    def load(self, server: str) -> StoredLogin | None:
        raw = (self._read().get("logins") or {}).get(server)
        if not isinstance(raw, dict):
            return None
        known = StoredLogin.__dataclass_fields__
        return StoredLogin(**{key: value for key, value in raw.items() if key in known})

    def save(self, server: str, login: StoredLogin, make_current: bool = True) -> None:
        data = self._read()
        data.setdefault("logins", {})[server] = {k: v for k, v in asdict(login).items() if v is not None}
        if make_current or not data.get("current"):
            data["current"] = server
        self._write(data)

    def remove(self, server: str) -> bool:
        data = self._read()
        removed = (data.get("logins") or {}).pop(server, None) is not None
        if data.get("current") == server:
            data["current"] = next(iter(data.get("logins") or {}), None)
        self._write(data)
        return removed
