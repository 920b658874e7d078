"""CORS per ClientApplication: a browser app may call the FHIR and OAuth routes from the origins of
its registered redirect and launch URIs, and from nowhere else."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.auth.conftest import Identity
from tests.conftest import RunningServer

APP = "https://app.example"  # the origin of tests.auth.conftest.REDIRECT_URI
OTHER_APP = "https://other.example:8443"


@pytest.fixture
def identity(server: RunningServer) -> Iterator[Identity]:
    helper = Identity(server)
    yield helper
    helper.browser.close()


def preflight(server: RunningServer, path: str, origin: str) -> httpx.Response:
    return httpx.options(server.base_url + path, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def test_a_preflight_from_a_registered_origin_is_allowed_on_fhir_and_oauth_routes(
        server: RunningServer, identity: Identity) -> None:
    identity.client_application(identity.project("Clinic"))
    for path in ("/fhir/R4/Patient", "/fhir/R4/Patient/1/_history", "/oauth2/token"):
        answer = preflight(server, path, APP)
        assert answer.status_code == 204, path
        assert answer.headers["access-control-allow-origin"] == APP
        assert "PUT" in answer.headers["access-control-allow-methods"]
        assert "authorization" in answer.headers["access-control-allow-headers"]
        assert "Origin" in answer.headers["vary"]


def test_a_preflight_from_an_unknown_origin_is_refused(server: RunningServer, identity: Identity) -> None:
    identity.client_application(identity.project("Clinic"))
    answer = preflight(server, "/fhir/R4/Patient", "https://evil.example")
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers


def test_a_launch_uri_origin_with_a_port_is_allowed(server: RunningServer, identity: Identity) -> None:
    identity.client_application(identity.project("Clinic"), launchUri=f"{OTHER_APP}/launch.html")
    assert preflight(server, "/fhir/R4/Patient", OTHER_APP).status_code == 204
    assert preflight(server, "/fhir/R4/Patient", "https://other.example").status_code == 403


def test_a_response_names_the_origin_only_for_the_tokens_own_client(server: RunningServer,
                                                                     identity: Identity) -> None:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.client_application(project, redirectUri=[f"{OTHER_APP}/callback"])
    identity.user(project, "ana@clinic.example")
    tokens = identity.exchange(client_id, identity.sign_in(client_id, "ana@clinic.example"))
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    own = httpx.get(server.fhir_url + "/Patient", headers={**headers, "Origin": APP})
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == APP
    assert "etag" in own.headers["access-control-expose-headers"]
    borrowed = httpx.get(server.fhir_url + "/Patient", headers={**headers, "Origin": OTHER_APP})
    assert "access-control-allow-origin" not in borrowed.headers


def test_the_token_endpoint_answers_a_registered_origin(server: RunningServer, identity: Identity) -> None:
    client_id = identity.client_application(identity.project("Clinic"))
    answer = httpx.post(server.base_url + "/oauth2/token", headers={"Origin": APP},
                        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": client_id})
    assert answer.status_code == 400
    assert answer.headers["access-control-allow-origin"] == APP


def test_requests_without_an_origin_get_no_cors_headers(fhir: httpx.Client) -> None:
    assert "access-control-allow-origin" not in fhir.get("/Patient").headers
