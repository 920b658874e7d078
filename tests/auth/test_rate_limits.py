"""Token buckets per IP and per client on POST /oauth2/token and the sign-in form post: a burst is
served, the next request is 429 with Retry-After (RFC 6585 section 4), and buckets refill."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.conftest import Identity
from tests.conftest import RunningServer, running_server

ServerFactory = Callable[..., RunningServer]


@pytest.fixture
def limited_server(database_url: str, tmp_path: Path) -> Iterator[ServerFactory]:
    """A server with the rate-limit settings a test gives."""
    with ExitStack() as servers:
        def start(**settings: Any) -> RunningServer:
            return servers.enter_context(running_server(database_url, tmp_path, **settings))

        yield start


def token_request(server: RunningServer, credentials: dict[str, str]) -> httpx.Response:
    return httpx.post(server.base_url + "/oauth2/token", data={"grant_type": "client_credentials"},
                      auth=(credentials["client_id"], credentials["client_secret"]))


def test_the_token_endpoint_answers_429_with_retry_after_once_an_ips_burst_is_spent(
        limited_server: ServerFactory) -> None:
    server = limited_server(rate_limit_ip_burst=3, rate_limit_ip_per_minute=6)
    credentials = server.create_client()
    statuses = [token_request(server, credentials).status_code for _ in range(3)]
    refused = token_request(server, credentials)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    # 6 a minute: one token every 10 seconds.
    assert 1 <= int(refused.headers["retry-after"]) <= 10


def test_failed_client_authentications_spend_the_bucket_too(limited_server: ServerFactory) -> None:
    server = limited_server(rate_limit_client_burst=2, rate_limit_client_per_minute=1)
    credentials = server.create_client()
    wrong = {**credentials, "client_secret": "guess"}
    assert [token_request(server, wrong).status_code for _ in range(2)] == [401, 401]
    assert token_request(server, credentials).status_code == 429


def test_one_clients_limit_leaves_other_clients_alone(limited_server: ServerFactory) -> None:
    server = limited_server(rate_limit_client_burst=2, rate_limit_client_per_minute=1)
    busy, quiet = server.create_client(), server.create_client()
    assert [token_request(server, busy).status_code for _ in range(3)] == [200, 200, 429]
    assert token_request(server, quiet).status_code == 200


def test_a_bucket_refills_with_time(limited_server: ServerFactory) -> None:
    server = limited_server(rate_limit_ip_burst=1, rate_limit_ip_per_minute=120)
    credentials = server.create_client()
    assert token_request(server, credentials).status_code == 200
    assert token_request(server, credentials).status_code == 429
    time.sleep(0.6)  # two a second
    assert token_request(server, credentials).status_code == 200


def test_the_sign_in_form_post_is_rate_limited_per_client(limited_server: ServerFactory) -> None:
    server = limited_server(rate_limit_client_burst=2, rate_limit_client_per_minute=1)
    identity = Identity(server)
    try:
        client_id = identity.client_application(identity.project("Clinic"))
        page = identity.authorize(client_id, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                                  code_challenge_method="S256")
        answers = [identity.submit(page, "ana@clinic.example", "wrong") for _ in range(3)]
    finally:
        identity.browser.close()
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in answers[2].text
