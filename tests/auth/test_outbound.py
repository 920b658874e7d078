"""The outbound fetch policy (fireside/auth/outbound.py), against real local HTTP servers: which
hosts, which schemes, and the size and time caps."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fireside.auth.outbound import OutboundError, OutboundPolicy, OutboundRefused, fetch, is_public

LOOPBACK = OutboundPolicy.allowing(["127.0.0.1"])


@contextmanager
def serving(body: bytes, delay: float = 0, gzipped: bool = False) -> Iterator[str]:
    """A local HTTP server answering `body` to every GET, after `delay` seconds; its base URL."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            content = gzip.compress(body) if gzipped else body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            else:
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def get(policy: OutboundPolicy, url: str) -> bytes:
    return asyncio.run(fetch(policy, "GET", url)).content


def test_an_allowed_host_is_fetched_over_http_and_others_are_not() -> None:
    with serving(b'{"keys": []}') as base:
        assert get(LOOPBACK, base + "/jwks") == b'{"keys": []}'
        with pytest.raises(OutboundRefused, match="only https"):
            get(OutboundPolicy(), base + "/jwks")
        with pytest.raises(OutboundRefused, match="not public"):
            get(OutboundPolicy(), base.replace("http://", "https://") + "/jwks")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1",
                                     "::ffff:10.0.0.1", "2002:7f00:1::1", "64:ff9b::a00:1"])
def test_loopback_private_link_local_and_embedded_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "2002:5db8:d822::1"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_an_answer_larger_than_the_cap_is_refused_also_when_compressed() -> None:
    small = OutboundPolicy(LOOPBACK.allowed_hosts, max_bytes=1000)
    with serving(b"x" * 5000) as base, pytest.raises(OutboundRefused, match="larger than 1000 bytes"):
        get(small, base + "/big")
    # 5 MB of zeros compress to a few kilobytes: the cap counts what they decompress to.
    with serving(b"0" * 5_000_000, gzipped=True) as base, pytest.raises(OutboundRefused, match="larger than"):
        get(small, base + "/bomb")
    with serving(b"0" * 500, gzipped=True) as base:
        assert get(small, base + "/fine") == b"0" * 500


def test_a_slow_answer_ends_at_the_time_cap() -> None:
    quick = OutboundPolicy(LOOPBACK.allowed_hosts, timeout_seconds=0.5)
    started = time.monotonic()
    with serving(b"{}", delay=3) as base, pytest.raises(OutboundError, match=r"within 0\.5 seconds"):
        get(quick, base + "/slow")
    assert time.monotonic() - started < 3
