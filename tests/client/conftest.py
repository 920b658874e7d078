"""Fixtures for the SDK tests: a client signed in to a real server, and a capability probe."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fireside.client import FiresideClient
from tests.conftest import RunningServer


def require(server: RunningServer, interaction: str) -> None:
    """Skip unless the server's CapabilityStatement claims `interaction` (it lists only what is wired)."""
    statement = httpx.get(server.fhir_url + "/metadata").json()
    rest = statement["rest"][0]
    codes = {i["code"] for i in rest.get("interaction", [])}
    codes |= {i["code"] for resource in rest.get("resource", []) for i in resource.get("interaction", [])}
    if interaction not in codes:
        pytest.skip(f"the server does not support {interaction} yet")


@pytest.fixture
def credentials(server: RunningServer) -> dict[str, str]:
    return server.create_client()


@pytest.fixture
def client(server: RunningServer, credentials: dict[str, str]) -> Iterator[FiresideClient]:
    with FiresideClient(server.base_url, client_id=credentials["client_id"],
                        client_secret=credentials["client_secret"]) as signed_in:
        yield signed_in
