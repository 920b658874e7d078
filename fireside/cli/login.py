"""`fireside login | logout | whoami`: signing the command line in to a server."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click

from fireside.cli.credentials import StoredLogin
from fireside.cli.session import Session, print_json, remote_command


@click.command()
@click.option("--client-id", envvar="FIRESIDE_CLIENT_ID", default=None,
              help="A client application's id (from `fireside client create`). Env: FIRESIDE_CLIENT_ID.")
@click.option("--client-secret", envvar="FIRESIDE_CLIENT_SECRET", default=None,
              help="Its secret. Prefer the FIRESIDE_CLIENT_SECRET variable to keep it out of shell history.")
@click.option("--token", "access_token", envvar="FIRESIDE_TOKEN", default=None,
              help="Sign in with an access token you already have (it cannot be renewed). Env: FIRESIDE_TOKEN.")
@remote_command
def login(session: Session, client_id: str | None, client_secret: str | None, access_token: str | None) -> None:
    """Sign in to a server and remember it for the next commands.

    With --client-id and --client-secret the CLI fetches tokens itself and renews them when they
    expire. The sign-in is stored in the user's config directory, readable by the user alone.
    """
    if client_id or client_secret:
        if not (client_id and client_secret):
            raise click.UsageError("--client-id and --client-secret go together")
        session.login = StoredLogin("client_credentials", client_id=client_id, client_secret=client_secret)
    elif access_token:
        session.login = StoredLogin("token", access_token=access_token.strip())
    else:
        # The identity release adds the browser sign-in (authorization code + PKCE) here.
        raise click.UsageError("Pass --client-id and --client-secret, or --token")
    session.client.sign_in()
    assert session.client.auth is not None
    session.login.remember(session.client.auth)
    session.store.save(session.server, session.login)
    claims = _claims(session)
    who = claims.get("sub", "an unknown subject")
    click.echo(f"Logged in to {session.server} as {who}; credentials saved in {session.store.path}", err=True)


@click.command()
@remote_command
def logout(session: Session) -> None:
    """Forget the stored sign-in for the server."""
    if session.store.remove(session.server):
        click.echo(f"Logged out of {session.server}", err=True)
    else:
        click.echo(f"Not logged in to {session.server}", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print every claim as JSON.")
@remote_command
def whoami(session: Session, as_json: bool) -> None:
    """Show who the stored sign-in is: subject, project, scopes and when the token expires.

    Reads the claims of the access token (a JWT) locally, without checking its signature, and
    adds what the server's userinfo endpoint says when it advertises one.
    """
    if session.login is None:
        raise click.ClickException(f"Not logged in to {session.server}: run `fireside login`")
    session.client.sign_in()
    info = {**_claims(session), **(_userinfo(session) or {})}
    if as_json:
        print_json(info)
        return
    rows = [
        ("Server", session.server),
        ("Subject", info.get("sub")),
        ("Project", info.get("fireside_project") or info.get("project")),
        ("Client", info.get("client_id")),
        ("Scope", info.get("scope")),
        ("Expires", _expiry(info.get("exp"))),
        ("Super admin", "yes" if info.get("fireside_super_admin") else None),
    ]
    for label, value in rows:
        if value:
            click.echo(f"{label + ':':<13}{value}")


def _access_token(session: Session) -> str | None:
    token = getattr(session.client.auth, "access_token", None)
    return token if isinstance(token, str) else None


def _claims(session: Session) -> dict[str, Any]:
    from fireside.client import decode_token_claims

    token = _access_token(session)
    try:
        return decode_token_claims(token) if token else {}
    except ValueError:
        return {}  # an opaque token: nothing to show locally


def _userinfo(session: Session) -> dict[str, Any] | None:
    from fireside.client import FiresideError

    try:
        configuration = session.client.request("GET", f"{session.server}/.well-known/openid-configuration").json()
        endpoint = configuration.get("userinfo_endpoint") if isinstance(configuration, dict) else None
        if not isinstance(endpoint, str):
            return None
        info = session.client.request("GET", endpoint, headers={"Accept": "application/json"}).json()
    except FiresideError:
        return None
    return info if isinstance(info, dict) else None


def _expiry(exp: Any) -> str | None:
    if not isinstance(exp, int | float):
        return None
    when = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    minutes = round((exp - time.time()) / 60)
    return f"{when} ({'in ' + str(minutes) + ' min' if minutes >= 0 else 'expired'})"
