"""The job worker as its own process (`fireside worker`): a worker killed mid-job leaves the job
to another, which carries on from the last committed batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.test_reindex import NICKNAME, patients, reindex, search_ids
from tests.conftest import RunningServer, running_server

FIRESIDE = str(Path(sys.executable).parent / "fireside")


@pytest.fixture
def server(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A server that runs no jobs itself: only the worker processes a test starts do."""
    monkeypatch.setenv("FIRESIDE_WORKER", "off")
    with running_server(database_url, tmp_path, stop_seconds=20) as running:
        yield running


def start_worker(database_url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FIRESIDE_DATA_DIR": str(data_dir),
        "FIRESIDE_REINDEX_BATCH_SIZE": "10",
        "FIRESIDE_REINDEX_BATCH_PAUSE_SECONDS": "0.1",
        "FIRESIDE_WORKER_HEARTBEAT_SECONDS": "0.5",
        "FIRESIDE_WORKER_STALLED_SECONDS": "2",
        "FIRESIDE_WORKER_POLL_SECONDS": "0.5",
    }
    return subprocess.Popen([FIRESIDE, "--log-level", "warning", "worker"], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def progress(fhir: httpx.Client, status_url: str) -> tuple[int, int, str]:
    response = fhir.get(status_url)
    done, _, total = response.headers.get("X-Progress", "0 of ? resources").split()[:3]
    return response.status_code, int(done), total


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_job_whose_worker_was_killed_resumes_on_another_worker(
    server: RunningServer, fhir: httpx.Client, tmp_path: Path
) -> None:
    patients(fhir, 200)
    fhir.post("SearchParameter", json=NICKNAME)
    status_url = reindex(fhir, "Patient/$reindex")
    assert progress(fhir, status_url)[:2] == (202, 0)  # nothing runs it yet

    first = start_worker(server.database_url, tmp_path)
    try:
        wait_for(lambda: progress(fhir, status_url)[1] > 0, 120, "the first worker to start the job")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    status, done_when_killed, total = progress(fhir, status_url)
    assert status == 202 and 0 < done_when_killed < 200 and total == "200"

    second = start_worker(server.database_url, tmp_path)
    try:
        wait_for(lambda: progress(fhir, status_url)[0] != 202, 120, "the second worker to finish the job")
    finally:
        stop(second)
    # Done once each: a job started over would have counted the first batches twice.
    assert progress(fhir, status_url) == (200, 200, "200")
    assert search_ids(fhir, "nickname=nick0") == {"p0"} and search_ids(fhir, "nickname=nick199") == {"p199"}


def test_every_queued_job_carries_its_project_id(server: RunningServer, fhir: httpx.Client) -> None:
    reindex(fhir)
    project_id = server.create_client()["project_id"]  # the admin project, as `fhir` is in
    with psycopg.connect(server.database_url) as conn:
        rows = conn.execute("SELECT task_name, args FROM procrastinate_jobs").fetchall()
    assert [(name, args["project_id"]) for name, args in rows] == [("fireside.reindex", project_id)]
