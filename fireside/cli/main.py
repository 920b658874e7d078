"""`fireside serve | migrate | client create | project create | keys rotate`: running and administering a server.

(`project invite` joins the `project` group here but talks to a server: fireside/cli/projects.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from uuid import UUID

import click

from fireside.cli.projects import project_invite
from fireside.cli.remote import register_remote_commands
from fireside.config import Settings

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where the embedded PostgreSQL and the secret key live (default ./.fireside or FIRESIDE_DATA_DIR).",
)


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    return settings


def _migrated_database(settings: Settings) -> str:
    from fireside.store import migrate, resolve_database_url

    url = resolve_database_url(settings.database_url, settings.data_dir)
    migrate(url)
    return url


@click.group()
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def main(log_level: str) -> None:
    """Fireside: a FHIR R4 server and developer platform."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


register_remote_commands(main)  # login, whoami, get/post/put/patch/delete, search, bundle

@main.command()
@data_dir_option
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8103).")
@click.option("--public-url", default=None, help="The URL clients reach the server at.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="API processes; they share nothing but the database, so use one per core.")
@click.option("--job-worker/--no-job-worker", default=None,
              help="Run background jobs in each API process (default on, or FIRESIDE_WORKER); "
                   "turn off to run them in separate `fireside worker` processes.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Serve HTTPS with this PEM certificate (chain); needs --tls-key.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The PEM private key of --tls-cert.")
def serve(data_dir: Path | None, host: str | None, port: int | None, public_url: str | None, workers: int,
          job_worker: bool | None, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Migrate the database and serve the FHIR API (embedded PostgreSQL unless DATABASE_URL is set)."""
    import uvicorn

    if job_worker is not None:
        os.environ["FIRESIDE_WORKER"] = "on" if job_worker else "off"  # read by every API process

    from fireside.api.app import create_app
    from fireside.api.asgi import DATABASE_URL_VARIABLE

    settings = _settings(data_dir)
    settings.host = host or settings.host
    settings.port = port or settings.port
    settings.public_url = public_url or settings.public_url
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    settings.tls_cert, settings.tls_key = tls_cert, tls_key
    certfile, keyfile = (str(tls_cert), str(tls_key)) if tls_cert and tls_key else (None, None)
    url = _migrated_database(settings)
    settings.resolve_secret_key()
    click.echo(f"Fireside FHIR R4 at {settings.fhir_base_url}", err=True)
    if workers > 1:
        os.environ.update({
            DATABASE_URL_VARIABLE: url,
            "FIRESIDE_DATA_DIR": str(settings.data_dir),
            "FIRESIDE_SECRET_KEY": settings.resolve_secret_key(),
            "FIRESIDE_HOST": settings.host,
            "FIRESIDE_PORT": str(settings.port),
        })
        if settings.public_url or certfile:
            # Each process must issue tokens for the same (https) issuer.
            os.environ["FIRESIDE_PUBLIC_URL"] = settings.base_url
        uvicorn.run("fireside.api.asgi:app_from_environment", factory=True, workers=workers,
                    host=settings.host, port=settings.port, log_level="warning", access_log=False,
                    ssl_certfile=certfile, ssl_keyfile=keyfile)
        return
    app = create_app(settings, url)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                ssl_certfile=certfile, ssl_keyfile=keyfile)


@main.command()
@data_dir_option
@click.option("--concurrency", type=int, default=None, help="Jobs run at once (default 2, or "
              "FIRESIDE_WORKER_CONCURRENCY).")
def worker(data_dir: Path | None, concurrency: int | None) -> None:
    """Run background jobs ($reindex, ...) until SIGINT or SIGTERM, beside or instead of the
    workers inside `fireside serve`; start as many as the work needs."""
    from fireside.jobs.process import serve_jobs

    settings = _settings(data_dir)
    url = _migrated_database(settings)
    click.echo("Fireside job worker started", err=True)
    asyncio.run(serve_jobs(url, concurrency))


@main.command("migrate")
@data_dir_option
def migrate_command(data_dir: Path | None) -> None:
    """Apply pending database migrations."""
    from fireside.store import migrate, resolve_database_url

    settings = _settings(data_dir)
    applied = migrate(resolve_database_url(settings.database_url, settings.data_dir))
    click.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""), err=True)


@main.group()
def client() -> None:
    """Manage OAuth client applications."""


@client.command("create")
@data_dir_option
@click.option("--name", required=True, help="A name for the client application.")
@click.option("--project", "project_id", type=click.UUID, default=None,
              help="The project the client belongs to (default: the admin project).")
@click.option("--new-project", default=None, help="Create a new project with this name for the client.")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="A redirect URI, so that users can sign in through this client (repeatable).")
@click.option("--public", is_flag=True,
              help="No secret: an app that signs users in with PKCE (`fireside login --email`, a browser app).")
def client_create(data_dir: Path | None, name: str, project_id: UUID | None, new_project: str | None,
                  redirect_uris: tuple[str, ...], public: bool) -> None:
    """Create a client and print {"client_id", "client_secret", "project_id"} as JSON."""
    if public and not redirect_uris:
        raise click.UsageError("a --public client signs users in, so it needs a --redirect-uri")
    settings = _settings(data_dir)
    url = _migrated_database(settings)
    credentials = asyncio.run(_create_client(url, name, project_id, new_project, redirect_uris, public))
    click.echo(json.dumps({
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret or None,
        "project_id": str(credentials.project_id),
    }))


async def _create_client(  # type: ignore[no-untyped-def]
    url: str, name: str, project_id: UUID | None, new_project: str | None, redirect_uris: tuple[str, ...] = (),
    public: bool = False,
):
    from fireside.auth import create_client, create_project, ensure_admin_project
    from fireside.store import ResourceStore, open_pool

    pool = await open_pool(url, min_size=1, max_size=2)
    try:
        store = ResourceStore(pool)
        if new_project:
            project_id = await create_project(store, new_project)
        elif project_id is None:
            project_id = await ensure_admin_project(store)
        return await create_client(store, project_id, name, redirect_uris, public)
    finally:
        await pool.close()


@main.group()
def keys() -> None:
    """Manage the keys that sign tokens."""


@keys.command("rotate")
@data_dir_option
def keys_rotate(data_dir: Path | None) -> None:
    """Make a new token signing key active and print {"kid", "published"} as JSON.

    Works on the database, like `client create`, with the deployment's secret key
    (FIRESIDE_SECRET_KEY or the data dir's secret.key). Running servers sign with the new key within
    seconds, without a restart; the previous keys stay published at /oauth2/jwks and keep verifying
    the tokens they signed until those have expired.
    """
    from fireside.api.app import read_signing_keys
    from fireside.auth.encryption import SecretKeyMismatch

    settings = _settings(data_dir)
    url = _migrated_database(settings)
    try:
        ring = asyncio.run(read_signing_keys(settings, url, rotate=True))
    except SecretKeyMismatch as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps({"kid": ring.active.kid, "published": [jwk["kid"] for jwk in ring.jwks()["keys"]]}))


@main.group()
def project() -> None:
    """Manage projects (tenants)."""


# `create` works on the database; `invite` talks to a running server as the stored login.
project.add_command(project_invite)


@project.command("create")
@data_dir_option
@click.argument("name")
def project_create(data_dir: Path | None, name: str) -> None:
    """Create a project and print {"project_id", "name"} as JSON.

    Like `client create`, this works on the database: a Project is stored in its own partition
    (its id is its project id), which no FHIR request can do, since a POST /Project lands in the
    caller's project. Next: `fireside client create --project <project_id>`.
    """
    settings = _settings(data_dir)
    url = _migrated_database(settings)
    project_id = asyncio.run(_create_project(url, name))
    click.echo(json.dumps({"project_id": str(project_id), "name": name}))


async def _create_project(url: str, name: str) -> UUID:
    from fireside.auth import create_project
    from fireside.store import ResourceStore, open_pool

    pool = await open_pool(url, min_size=1, max_size=2)
    try:
        return await create_project(ResourceStore(pool), name)
    finally:
        await pool.close()
