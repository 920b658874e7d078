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
@click.option("--email", envvar="FIRESIDE_EMAIL", default=None,
              help="Sign in as this user, to the application --client-id names. Env: FIRESIDE_EMAIL.")
@click.option("--password", envvar="FIRESIDE_PASSWORD", default=None,
              help="The user's password; asked for (hidden) when not given. Env: FIRESIDE_PASSWORD.")
@click.option("--totp-code", envvar="FIRESIDE_TOTP_CODE", default=None,
              help="With --email: the two-factor code, when the user has TOTP on; asked for when the server "
                   "wants one and none is given. Env: FIRESIDE_TOTP_CODE.")
@click.option("--private-key", "private_key_file", default=None, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, resolve_path=True),
              help="Sign the client in with this PEM private key (RSA or EC) instead of a secret.")
@click.option("--key-id", envvar="FIRESIDE_KEY_ID", default=None,
              help="The kid of the private key's public half in the client's jwks. Env: FIRESIDE_KEY_ID.")
@click.option("--scope", default=None, help="The scope to ask for (with --private-key: system/ scopes).")
@click.option("--token", "access_token", envvar="FIRESIDE_TOKEN", default=None,
              help="Sign in with an access token you already have (it cannot be renewed). Env: FIRESIDE_TOKEN.")
@remote_command
def login(session: Session, client_id: str | None, client_secret: str | None, email: str | None,
          password: str | None, totp_code: str | None, private_key_file: str | None, key_id: str | None,
          scope: str | None, access_token: str | None) -> None:
    """Sign in to a server and remember it for the next commands.

    \b
    As a user:      --client-id APP --email EMAIL [--password PASSWORD] [--totp-code CODE]
    With a key:     --client-id APP --private-key FILE --key-id KID
    With a secret:  --client-id APP --client-secret SECRET
    With a token:   --token JWT

    The CLI renews tokens itself when they expire: a user's sign-in with its refresh token (the
    password and two-factor code are never stored, and renewing needs neither), a client's with
    its key or secret. The sign-in is stored in the user's config directory, readable by the user
    alone.
    """
    # Chosen by --email and --private-key alone: a FIRESIDE_PASSWORD or FIRESIDE_KEY_ID left in the
    # environment must not turn a secret's login into another kind.
    if email:
        _password_login(session, client_id, client_secret, email, password, totp_code, scope)
    elif private_key_file:
        _private_key_login(session, client_id, client_secret, private_key_file, key_id, scope)
    elif client_id or client_secret:
        if not (client_id and client_secret):
            raise click.UsageError("--client-id and --client-secret go together")
        session.sign_in(StoredLogin("client_credentials", client_id=client_id, client_secret=client_secret))
    elif access_token:
        session.sign_in(StoredLogin("token", access_token=access_token.strip()))
    else:
        raise click.UsageError("Pass --client-id with --email, --private-key or --client-secret; or --token")
    claims = _claims(session)
    who = session.login.email if session.login and session.login.email else claims.get("sub", "an unknown subject")
    click.echo(f"Logged in to {session.server} as {who}; credentials saved in {session.store.path}", err=True)


def _password_login(session: Session, client_id: str | None, client_secret: str | None, email: str,
                    password: str | None, totp_code: str | None, scope: str | None) -> None:
    from fireside.client import PasswordSignIn

    if not client_id:
        raise click.UsageError("--email needs --client-id: an application of your project with a redirectUri")
    password = password or click.prompt("Password", hide_input=True)
    # Asked only when the server answers the password with the code form (the user has TOTP on).
    auth = PasswordSignIn(client_id, email, password, f"{session.server}/oauth2/token",
                          client_secret=client_secret, scope=scope or "openid",
                          totp_code=totp_code.strip() if totp_code else _ask_for_code)
    # Stored without the password: the refresh token (offline_access) keeps the user signed in.
    session.sign_in(StoredLogin("refresh_token", client_id=client_id, client_secret=client_secret, email=email),
                    auth)


def _ask_for_code() -> str:
    code: str = click.prompt("Two-factor code (from your authenticator app)")
    return code


def _private_key_login(session: Session, client_id: str | None, client_secret: str | None,
                       private_key_file: str, key_id: str | None, scope: str | None) -> None:
    if not (client_id and key_id) or client_secret:
        raise click.UsageError("--private-key goes with --key-id and --client-id, and without --client-secret")
    login = StoredLogin("private_key_jwt", client_id=client_id, private_key_file=private_key_file, key_id=key_id,
                        scope=scope)
    session.sign_in(login)


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
    # The token's claims win: userinfo's `sub` is the bare User id, the token's names the type too.
    info = {**(_userinfo(session) or {}), **_claims(session)}
    if as_json:
        print_json(info)
        return
    rows = [
        ("Server", session.server),
        ("Subject", info.get("sub")),
        ("Email", info.get("email") or session.login.email),
        ("FHIR user", info.get("fhirUser")),
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
