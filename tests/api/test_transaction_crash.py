"""A transaction is all or nothing even when the server process is killed half-way: PostgreSQL
rolls back the open transaction when the connection dies, and nothing of it is ever visible."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import RunningServer

FIRESIDE = str(Path(sys.executable).parent / "fireside")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": database_url, "FIRESIDE_DATA_DIR": str(data_dir),
               "FIRESIDE_SECRET_KEY": "test-secret-key"}
        self.process = subprocess.Popen([FIRESIDE, "--log-level", "warning", "serve", "--port", str(self.port)],
                                        env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.base + "/healthcheck", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the server process did not start")
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def server_process(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, tmp_path)
    yield process
    process.stop()


def _big_transaction(count: int) -> dict[str, Any]:
    patient = "urn:uuid:00000000-0000-4000-8000-00000000cafe"
    entries: list[dict[str, Any]] = [{"fullUrl": patient, "resource": {"resourceType": "Patient"},
                                      "request": {"method": "POST", "url": "Patient"}}]
    entries += [
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": f"obs {i}"},
                      "subject": {"reference": patient}, "valueString": "x" * 200},
         "request": {"method": "POST", "url": "Observation"}}
        for i in range(count)
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _wait_for_open_transaction(database_url: str, state_prefix: str, timeout: float = 60) -> bool:
    """Until the server's connection sits inside a transaction in the given state."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND state LIKE %s",
                [state_prefix + "%"],
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.002)
    return False


def _count_rows(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        counts = [
            conn.execute(f"SELECT count(*) FROM {table} WHERE resource_type IN ('Patient', 'Observation')")
            .fetchone()[0]  # type: ignore[index]
            for table in ("resource", "resource_history")
        ]
        return counts[0], counts[1]


def _token(base: str, server: RunningServer) -> str:
    credentials = server.create_client()
    response = httpx.post(base + "/oauth2/token", data={"grant_type": "client_credentials"},
                          auth=(credentials["client_id"], credentials["client_secret"]))
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize("state", ["idle in transaction", "active"])
def test_killing_the_server_mid_transaction_leaves_nothing_behind(
    server_process: ServerProcess, server: RunningServer, database_url: str, state: str
) -> None:
    # `server` (in-process) only lends its helpers for credentials; the process under test is separate.
    token = _token(server_process.base, server)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    bundle = _big_transaction(3000)

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under it: expected
            httpx.post(server_process.base + "/fhir/R4", json=bundle, headers=headers, timeout=60)

    sender = threading.Thread(target=send)
    sender.start()
    caught_in_flight = _wait_for_open_transaction(database_url, state)
    server_process.kill()
    sender.join(timeout=30)
    assert caught_in_flight, f"never saw the transaction {state!r}"
    time.sleep(0.2)  # PostgreSQL notices the closed socket and rolls back
    assert _count_rows(database_url) == (0, 0)

    restarted = ServerProcess(database_url, Path(server.settings.data_dir))
    try:
        response = httpx.post(restarted.base + "/fhir/R4/Patient", json={"resourceType": "Patient"},
                              headers={"Authorization": f"Bearer {_token(restarted.base, server)}"})
        assert response.status_code == 201
    finally:
        restarted.stop()
