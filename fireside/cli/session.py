"""What every command that talks to a server shares: which server, the stored sign-in, a
`FiresideClient`, and how failures reach the user (the OperationOutcome on stderr, exit 1).

A new command group (`fireside bot ...`, `fireside export ...`) decorates its commands with
`@remote_command` and receives a `Session`:

    @bot.command("deploy")
    @click.argument("name")
    @remote_command
    def deploy(session: Session, name: str) -> None:
        print_json(session.client.operation("deploy", resource_type="Bot", id=name))
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click
import orjson

from fireside.cli.credentials import CredentialStore, StoredLogin

if TYPE_CHECKING:
    from fireside.client import Authenticator, FiresideClient, FiresideError

DEFAULT_SERVER = "http://127.0.0.1:8103"

P = ParamSpec("P")
T = TypeVar("T")


class Session:
    """The server a command talks to, and (once asked for) a client signed in to it."""

    def __init__(self, server: str, store: CredentialStore) -> None:
        self.server = server.rstrip("/")
        self.store = store
        self.login: StoredLogin | None = store.load(self.server)
        self._client: FiresideClient | None = None

    @property
    def client(self) -> FiresideClient:
        if self._client is None:
            from fireside.client import FiresideClient

            auth = self.login.authenticator(self.server) if self.login else None
            self._client = FiresideClient(self.server, auth=auth)
        return self._client

    def sign_in(self, login: StoredLogin, auth: Authenticator | None = None) -> None:
        """Sign in afresh as `login` and store it. `auth` is for a first sign-in that needs what is
        never stored (a password); its renewable part is what `login` keeps."""
        from fireside.client import FiresideClient

        if self._client is not None:
            self._client.close()
        self.login = login
        self._client = FiresideClient(self.server, auth=auth or login.authenticator(self.server))
        self._client.sign_in()
        assert self._client.auth is not None
        login.remember(self._client.auth)
        self.store.save(self.server, login)

    def close(self) -> None:
        """Close the client, keeping any token it renewed so the next command reuses it."""
        if self._client is None:
            return
        if self.login is not None and self._client.auth is not None and self.login.remember(self._client.auth):
            self.store.save(self.server, self.login, make_current=False)
        self._client.close()


def resolve_server(server: str | None, store: CredentialStore) -> str:
    return (server or store.current_server() or DEFAULT_SERVER).rstrip("/")


server_option = click.option(
    "--server", envvar="FIRESIDE_SERVER", default=None, metavar="URL",
    help=f"The Fireside server (default: the one you last logged in to, else {DEFAULT_SERVER}).",
)


def remote_command(function: Callable[Concatenate[Session, P], T]) -> Callable[..., T]:
    """Give a click command `--server` and a `Session`; turn a FiresideError into exit status 1."""

    @server_option
    @functools.wraps(function)
    def command(server: str | None, *args: P.args, **kwargs: P.kwargs) -> T:
        from fireside.client import FiresideError

        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # httpx logs every request at INFO; the command prints what matters itself.
            logging.getLogger("httpx").setLevel(logging.WARNING)
        store = CredentialStore()
        session = Session(resolve_server(server, store), store)
        try:
            return function(session, *args, **kwargs)
        except FiresideError as error:
            report_error(error)
            sys.exit(1)
        finally:
            session.close()

    return command


def report_error(error: FiresideError) -> None:
    from fireside.client import format_outcome

    status = f"HTTP {error.status}" if error.status is not None else "No response"
    click.echo(f"Error: {status} from {error.method} {error.url}".rstrip(), err=True)
    for line in format_outcome(error.outcome).splitlines():
        click.echo(f"  {line}", err=True)


def print_json(value: Any) -> None:
    if value is not None:
        click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def read_body(source: str) -> Any:
    """JSON from a file, or from stdin when `source` is "-"."""
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as error:
        raise click.BadParameter(str(error), param_hint="FILE") from error
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        where = "stdin" if source == "-" else source
        raise click.BadParameter(f"{where} is not JSON: {error}", param_hint="FILE") from error
