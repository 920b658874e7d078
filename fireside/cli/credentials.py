"""Where `fireside login` keeps the sign-in: one JSON file in the user's config directory
(`click.get_app_dir("fireside")`, ~/.config/fireside on Linux), readable by the user alone.

The file holds a login per server plus the server last signed in to:

    {"current": "http://127.0.0.1:8103",
     "logins": {"http://127.0.0.1:8103": {"kind": "client_credentials", "client_id": "...",
                                          "client_secret": "...", "access_token": "...", "expires_at": 1.7e9}}}

A login's `kind` says how to renew it. Each kind maps to an Authenticator in `AUTHENTICATORS`:
- `client_credentials`: the client id and secret;
- `private_key_jwt`: the client id, the key id and the path of the private key file (the key
  stays where its owner keeps it, and is read again at each renewal);
- `refresh_token`: a user's password sign-in, kept as the client id (and secret, for a
  confidential client), the email for display and the newest refresh token. The password is
  never stored; when the refresh token stops working (30 days after the sign-in, or revoked),
  `fireside login` is needed again;
- `token`: an access token as given, which cannot be renewed.
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
    kind: str  # a key of AUTHENTICATORS
    access_token: str | None = None
    expires_at: float | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    email: str | None = None
    private_key_file: str | None = None
    key_id: str | None = None
    scope: str | None = None

    def authenticator(self, server: str) -> Authenticator:
        make = AUTHENTICATORS.get(self.kind)
        if make is None:
            raise click.ClickException(f"Unknown login kind {self.kind!r}: run `fireside login` again")
        return make(self, server)

    def remember(self, auth: Authenticator) -> bool:
        """Keep the tokens `auth` now holds (renewed ones); True when they changed.

        A renewal spends the refresh token it used, so the new one must be kept: presenting the
        spent one again would revoke the whole sign-in."""
        from fireside.client import OAuthGrant, RefreshToken

        if not isinstance(auth, OAuthGrant):
            return False
        refresh_token = auth.refresh_token if isinstance(auth, RefreshToken) else self.refresh_token
        if (auth.access_token, refresh_token) == (self.access_token, self.refresh_token):
            return False
        self.access_token, self.expires_at, self.refresh_token = auth.access_token, auth.expires_at, refresh_token
        return True


def _client_credentials(login: StoredLogin, server: str) -> Authenticator:
    from fireside.client import ClientCredentials

    assert login.client_id and login.client_secret
    return ClientCredentials(login.client_id, login.client_secret, f"{server}/oauth2/token",
                             access_token=login.access_token, expires_at=login.expires_at)


def _private_key_jwt(login: StoredLogin, server: str) -> Authenticator:
    from fireside.client import PrivateKeyJwt

    assert login.client_id and login.key_id and login.private_key_file
    try:
        key = Path(login.private_key_file).read_bytes()
        return PrivateKeyJwt(login.client_id, key, login.key_id, f"{server}/oauth2/token", scope=login.scope,
                             access_token=login.access_token, expires_at=login.expires_at)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"Cannot sign with the private key {login.private_key_file}: {error}") from error


def _refresh_token(login: StoredLogin, server: str) -> Authenticator:
    from fireside.client import RefreshToken

    assert login.client_id and login.refresh_token
    return RefreshToken(login.client_id, login.refresh_token, f"{server}/oauth2/token",
                        client_secret=login.client_secret, access_token=login.access_token,
                        expires_at=login.expires_at)


def _token(login: StoredLogin, server: str) -> Authenticator:
    from fireside.client import StaticToken

    assert login.access_token
    return StaticToken(login.access_token)


AUTHENTICATORS: dict[str, Callable[[StoredLogin, str], Authenticator]] = {
    "client_credentials": _client_credentials,
    "private_key_jwt": _private_key_jwt,
    "refresh_token": _refresh_token,
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
