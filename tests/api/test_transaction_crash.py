"""A transaction is all or nothing even when the server process is killed half-way: PostgreSQL
rolls back the open transaction when the connection dies, and nothing of it is ever visible.

The server runs as a separate process (`fireside serve`), so that `kill -9` takes it down for
real, with its connections, between two statements of the transaction or in the middle of one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import unshared_port

# `fireside serve`, run by this interpreter whether or not the console script is installed.
FIRESIDE = [sys.executable, "-c", "from fireside.cli import main; main()"]
ENTRIES = 4000


class ServerProcess:
    """`fireside serve` on a free port, on the test's database."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = unshared_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": database_url, "FIRESIDE_DATA_DIR": str(data_dir),
               "FIRESIDE_SECRET_KEY": "test-secret-key"}
        self.log = data_dir / f"server-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*FIRESIDE, "--log-level", "warning", "serve", "--port", str(self.port)], env=env, stderr=log)
        deadline = time.monotonic() + 30
        while not self._healthy():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the server process did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.base + "/healthcheck", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def token(self, database_url: str) -> str:
        from fireside.cli.main import _create_client

        credentials = asyncio.run(_create_client(database_url, "crash-test", None, None))
        response = httpx.post(self.base + "/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=(credentials.client_id, credentials.client_secret))
        token: str = response.json()["access_token"]
        return token

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


def big_transaction(marker: str, count: int = ENTRIES) -> dict[str, Any]:
    patient = f"urn:uuid:{uuid.uuid4()}"
    entries: list[dict[str, Any]] = [{"fullUrl": patient, "resource": {"resourceType": "Patient"},
                                      "request": {"method": "POST", "url": "Patient"}}]
    entries += [
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": marker},
                      "subject": {"reference": patient}, "valueString": f"observation {i}"},
         "request": {"method": "POST", "url": "Observation"}}
        for i in range(count)
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def wait_for_transaction(database_url: str, state: str, timeout: float = 30) -> bool:
    """Until another connection to the database sits inside a transaction in `state`."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND state = %s", [state],
            ).fetchone()
            if row and row[0]:
                return True
            time.sleep(0.001)
    return False


def wait_for_other_backends_to_end(database_url: str, timeout: float = 10) -> None:
    """Until the killed server's backends are gone, so its transaction has surely ended."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                               " AND pid <> pg_backend_pid()").fetchone()
            if row and not row[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the killed server's connections outlived it")


def rows_with(database_url: str, marker: str) -> tuple[int, int]:
    """Rows of the Bundle's Observations in `resource` and in `resource_history`."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        counts = [
            conn.execute(f"SELECT count(*) FROM {table} WHERE resource_type = 'Observation'"
                         " AND content LIKE %s", [f"%{marker}%"]).fetchone()
            for table in ("resource", "resource_history")
        ]
    return counts[0][0], counts[1][0]  # type: ignore[index]


def post_in_background(server: ServerProcess, token: str, bundle: dict[str, Any]) -> tuple[threading.Thread, list[int]]:
    statuses: list[int] = []

    def send() -> None:
        try:
            response = httpx.post(server.base + "/fhir/R4", json=bundle, timeout=60,
                                  headers={"Authorization": f"Bearer {token}", "Prefer": "return=minimal"})
            statuses.append(response.status_code)
        except httpx.HTTPError:
            pass  # the server died under the request: expected

    sender = threading.Thread(target=send)
    sender.start()
    return sender, statuses


# Between statements (entries being processed in Python) and inside one (the batched flush).
@pytest.mark.parametrize("state", ["idle in transaction", "active"])
def test_killing_the_server_inside_a_transaction_leaves_nothing_behind(
    server_process: ServerProcess, database_url: str, tmp_path: Path, state: str
) -> None:
    token = server_process.token(database_url)
    marker = f"crash-{uuid.uuid4().hex}"
    sender, statuses = post_in_background(server_process, token, big_transaction(marker))
    caught = wait_for_transaction(database_url, state)
    server_process.kill()
    sender.join(timeout=30)
    assert caught, f"never saw the transaction {state!r}"
    assert statuses == []  # the server died before it answered
    wait_for_other_backends_to_end(database_url)
    assert rows_with(database_url, marker) == (0, 0)

    restarted = ServerProcess(database_url, tmp_path)
    try:
        token = restarted.token(database_url)
        response = httpx.post(restarted.base + "/fhir/R4", json=big_transaction(marker, 10),
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 200, response.text[:300]
        assert rows_with(database_url, marker) == (10, 10)
    finally:
        restarted.stop()


# Blind kills at fixed moments (from before the transaction starts to after it commits, on this
# machine): whatever they hit, the transaction is all there or not there at all.
@pytest.mark.parametrize("delay", [0.1, 0.4, 1.5])
def test_a_transaction_killed_at_any_moment_is_all_or_nothing(
    server_process: ServerProcess, database_url: str, delay: float
) -> None:
    token = server_process.token(database_url)
    marker = f"crash-{uuid.uuid4().hex}"
    sender, statuses = post_in_background(server_process, token, big_transaction(marker))
    time.sleep(delay)
    server_process.kill()
    sender.join(timeout=30)
    wait_for_other_backends_to_end(database_url)
    rows = rows_with(database_url, marker)
    assert rows in ((0, 0), (ENTRIES, ENTRIES))
    if statuses == [200]:
        assert rows == (ENTRIES, ENTRIES)
