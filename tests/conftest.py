"""Shared test harness: a real PostgreSQL, a migrated template database built once per run, a
fresh copy of it per test, and a real Fireside server over real HTTP where a test needs one.

PostgreSQL is the embedded one (booted into a temporary directory) unless
FIRESIDE_TEST_DATABASE_URL names a server, as CI does for the machine's PostgreSQL 15.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from fireside.config import Settings
from fireside.store import migrate, with_database
from fireside.store.database import start_embedded_postgres

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    external = os.environ.get("FIRESIDE_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="fireside-test-pg-") as directory:
        url = start_embedded_postgres(Path(directory))
        _without_durability(url)
        yield url


def _without_durability(admin_url: str) -> None:
    """This throwaway cluster need not survive a crash: without fsync, copying the template
    for each test takes 50 ms instead of 400 ms."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
        conn.execute("SELECT pg_reload_conf()")


def _create_database(admin_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        conn.execute(statement)
    return with_database(admin_url, name)


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_database(postgres_admin_url: str) -> Iterator[str]:
    """The name of a migrated database that every test database is copied from."""
    name = f"fireside_template_{uuid.uuid4().hex[:8]}"
    url = _create_database(postgres_admin_url, name)
    migrate(url)
    yield name
    _drop_database(postgres_admin_url, name)


@pytest.fixture
def database_url(postgres_admin_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated, empty database for this test (a copy of the template: ~50 ms)."""
    name = f"fireside_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(postgres_admin_url, name, template=template_database)
    yield url
    _drop_database(postgres_admin_url, name)


# Below Linux's ephemeral range (32768-60999), from which every `bind(0)` draws: a port picked
# here for a process to bind later cannot be taken meanwhile by a server another test (or xdist
# worker) starts on port 0.
_UNSHARED_PORTS = (20000, 32767)


def unshared_port() -> int:
    """A free port for a server this test starts later (a subprocess, an SMTP sink)."""
    while True:
        port = random.randint(*_UNSHARED_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@dataclass
class RunningServer:
    base_url: str
    database_url: str
    settings: Settings
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def fhir_url(self) -> str:
        return self.base_url + "/fhir/R4"

    def create_client(self, name: str = "test", new_project: str | None = None) -> dict[str, str]:
        """A client application's credentials, made directly in the database as the CLI does."""
        from fireside.cli.main import _create_client

        credentials = asyncio.run(_create_client(self.database_url, name, None, new_project))
        return {
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "project_id": str(credentials.project_id),
        }

    def token(self, credentials: dict[str, str]) -> str:
        response = httpx.post(
            self.base_url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def fhir_client(self, new_project: str | None = None) -> httpx.Client:
        """An HTTP client for the FHIR base, signed in as a new client application."""
        token = self.token(self.create_client(new_project=new_project))
        client = httpx.Client(
            base_url=self.fhir_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
            timeout=30,
        )
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


def start_server(database_url: str, data_dir: Path, listen: socket.socket | None = None,
                 **overrides: Any) -> tuple[_ThreadedServer, threading.Thread, int]:
    """`listen`: a socket already bound, for a server that must know its URL before it starts
    (an OpenID Connect provider's `public_url` is its issuer)."""
    from fireside.api import create_app

    # Test servers fetch from each other on this machine (jwksUri, identity providers): allowed here.
    overrides.setdefault("outbound_allow_hosts", ("127.0.0.1",))
    settings = Settings(data_dir=data_dir, database_url=database_url, secret_key="test-secret-key", **overrides)
    app = create_app(settings, database_url)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", ws="none")
    server = _ThreadedServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listen] if listen else None}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server failed to start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, port


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A real Fireside server on a free port, on this test's own database."""
    with running_server(database_url, tmp_path) as running:
        yield running


@contextmanager
def running_server(database_url: str, data_dir: Path, stop_seconds: float = 10,
                   **overrides: Any) -> Iterator[RunningServer]:
    """A real Fireside server with `overrides` of its settings, stopped on leaving (waiting up to
    `stop_seconds` for requests and background tasks to end)."""
    uvicorn_server, thread, port = start_server(database_url, data_dir, **overrides)
    running = RunningServer(f"http://127.0.0.1:{port}", database_url, Settings(data_dir=data_dir))
    try:
        yield running
    finally:
        running.close()
        uvicorn_server.should_exit = True
        thread.join(timeout=stop_seconds)


@pytest.fixture
def fhir(server: RunningServer) -> httpx.Client:
    """An authenticated FHIR client in the admin project."""
    return server.fhir_client()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared is not present")
    return SHARED
