"""Retries on 429 and 503, against a tiny real HTTP server that answers from a script."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fireside.client import AsyncFiresideClient, FiresideClient, FiresideError, RetryPolicy

PATIENT = {"resourceType": "Patient", "id": "1"}
BUSY = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient",
                                                       "diagnostics": "busy"}]}


@dataclass
class ScriptedServer:
    """Answers each request with the next (status, headers) of `script`, then 200 with a Patient."""

    url: str
    script: list[tuple[int, dict[str, str]]]
    arrivals: list[float] = field(default_factory=list)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    state = ScriptedServer("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.arrivals.append(time.monotonic())
            status, headers = state.script.pop(0) if state.script else (200, {})
            body = json.dumps(PATIENT if status == 200 else BUSY).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/fhir+json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_a_503_with_retry_after_is_retried_after_that_many_seconds(scripted: ScriptedServer) -> None:
    scripted.script = [(503, {"Retry-After": "1"})]
    with FiresideClient(scripted.url, access_token="t") as client:
        assert client.read("Patient", "1") == PATIENT
    first, second = scripted.arrivals
    assert second - first >= 0.95


def test_429s_back_off_exponentially_without_retry_after(scripted: ScriptedServer) -> None:
    scripted.script = [(429, {}), (429, {})]
    policy = RetryPolicy(attempts=3, backoff=0.1)
    with FiresideClient(scripted.url, access_token="t", retry=policy) as client:
        assert client.read("Patient", "1") == PATIENT
    gaps = [later - earlier for earlier, later in zip(scripted.arrivals, scripted.arrivals[1:], strict=False)]
    assert len(gaps) == 2
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # 0.1 then 0.2 seconds, with up to half taken off as jitter


def test_retries_stop_after_the_last_attempt_and_raise_the_final_answer(scripted: ScriptedServer) -> None:
    scripted.script = [(503, {"Retry-After": "0"})] * 5
    with FiresideClient(scripted.url, access_token="t", retry=RetryPolicy(attempts=3)) as client, \
            pytest.raises(FiresideError) as raised:
        client.read("Patient", "1")
    assert raised.value.status == 503
    assert "busy" in str(raised.value)
    assert len(scripted.arrivals) == 3


def test_the_async_client_retries_the_same_way(scripted: ScriptedServer) -> None:
    scripted.script = [(503, {"Retry-After": "0"}), (429, {"Retry-After": "0"})]

    async def read() -> object:
        async with AsyncFiresideClient(scripted.url, access_token="t") as client:
            return await client.read("Patient", "1")

    assert asyncio.run(read()) == PATIENT
    assert len(scripted.arrivals) == 3


def test_a_401_without_any_sign_in_is_raised_without_a_second_try(scripted: ScriptedServer) -> None:
    scripted.script = [(401, {})]
    with FiresideClient(scripted.url) as client, pytest.raises(FiresideError) as raised:
        client.read("Patient", "1")
    assert raised.value.status == 401
    assert len(scripted.arrivals) == 1
