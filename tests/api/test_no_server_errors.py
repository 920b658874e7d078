"""No input reachable over HTTP produces a 500: generated bodies, paths, queries and headers."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RunningServer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
resource_types = st.sampled_from(["Patient", "Observation", "Bundle", "Parameters", "Encounter", "Binary", "Nope"])
fhir_keys = st.sampled_from(["id", "meta", "name", "status", "code", "subject", "valueQuantity", "entry",
                             "identifier", "birthDate", "text", "contained", "extension", "type", "request"])
resources = st.builds(
    lambda resource_type, body: {"resourceType": resource_type, **body},
    resource_types,
    st.dictionaries(fhir_keys, json_values, max_size=6),
)
segments = st.sampled_from(["Patient", "Observation", "1", "_history", "_search", "$validate", "$x", "metadata",
                            "..", "%00", "a" * 70, "Patient?x=1", "%20"])
query_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=15)
query_names = st.sampled_from(["_count", "_id", "name", "birthdate", "identifier", "subject", "_lastUpdated",
                               "value-quantity", "gender:missing", "name:exact", "_sort", "_total", "_cursor",
                               "code:text", "subject:Patient", "_summary", "x"])
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])
header_values = st.sampled_from(['W/"1"', "W/x", "", "garbage", "identifier=a|b", "return=minimal",
                                 "Mon, 01 Jan 2001 00:00:00 GMT", "not a date", "handling=strict"])

SETTINGS = settings(
    max_examples=int(os.environ.get("FIRESIDE_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def shared_server(postgres_admin_url: str, template_database: str, tmp_path_factory: Any) -> Any:
    """One server for the whole module: hypothesis runs many examples against it."""
    import uuid

    from tests.conftest import _create_database, _drop_database, start_server

    name = f"fireside_fuzz_{uuid.uuid4().hex[:8]}"
    url = _create_database(postgres_admin_url, name, template=template_database)
    uvicorn_server, thread, port = start_server(url, tmp_path_factory.mktemp("fuzz"))
    from fireside.config import Settings

    running = RunningServer(f"http://127.0.0.1:{port}", url, Settings())
    yield running.fhir_client()
    running.close()
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    _drop_database(postgres_admin_url, name)


def _encode(value: Any) -> bytes:
    # The standard library, not orjson: bodies may hold integers beyond 64 bits, valid JSON.
    return json.dumps(value).encode()


def _assert_not_a_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.text[:300]}"


@SETTINGS
@given(method=methods, path=st.lists(segments, max_size=4), resource=resources)
def test_no_resource_body_at_any_path_is_a_500(shared_server: httpx.Client, method: str, path: list[str],
                                               resource: dict[str, Any]) -> None:
    response = shared_server.request(method, "/" + "/".join(path), content=_encode(resource))
    _assert_not_a_server_error(response)


@SETTINGS
@given(resource_type=st.sampled_from(["Patient", "Observation"]),
       query=st.lists(st.tuples(query_names, query_values), max_size=4))
def test_no_search_query_is_a_500(shared_server: httpx.Client, resource_type: str,
                                  query: list[tuple[str, str]]) -> None:
    _assert_not_a_server_error(shared_server.get(f"/{resource_type}", params=query))


@SETTINGS
@given(entries=st.lists(st.fixed_dictionaries({}, optional={
    "fullUrl": st.sampled_from(["urn:uuid:1", "urn:uuid:2", "Patient/1", ""]),
    "resource": resources,
    "request": st.fixed_dictionaries({}, optional={
        "method": methods, "url": st.sampled_from(["Patient", "Patient/1", "Patient?identifier=x", "", "x/y/z"]),
        "ifMatch": header_values, "ifNoneExist": header_values,
    }),
}), max_size=4), bundle_type=st.sampled_from(["transaction", "batch", "collection"]))
def test_no_bundle_is_a_500(shared_server: httpx.Client, entries: list[dict[str, Any]], bundle_type: str) -> None:
    bundle = {"resourceType": "Bundle", "type": bundle_type, "entry": entries}
    _assert_not_a_server_error(shared_server.post("", content=_encode(bundle)))


@SETTINGS
@given(header=st.sampled_from(["If-Match", "If-None-Match", "If-None-Exist", "If-Modified-Since", "Prefer",
                               "Accept", "Content-Type"]), value=header_values)
def test_no_header_value_is_a_500(shared_server: httpx.Client, header: str, value: str) -> None:
    shared_server.put("/Patient/h", json={"resourceType": "Patient", "id": "h"})
    for method in ("GET", "PUT", "POST", "DELETE"):
        url = "/Patient/h" if method != "POST" else "/Patient"
        response = shared_server.request(method, url, headers={header: value},
                                         content=_encode({"resourceType": "Patient", "id": "h"}))
        _assert_not_a_server_error(response)
