"""history at instance, type and system level: entries, filters, keyset paging, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer

PATIENT = {"resourceType": "Patient", "gender": "male"}


def now() -> str:
    """The current instant to the microsecond; the server shares the test's clock."""
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.002)
    return moment


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def versions(bundle: dict[str, Any]) -> list[str]:
    """Each entry as `Type/id/version` (deletions included), in Bundle order."""
    entries = bundle.get("entry", [])
    return [f"{entry['fullUrl'].split('/R4/')[1]}/{entry['response']['etag'][3:-1]}" for entry in entries]


def test_instance_history_lists_every_version_newest_first(fhir: httpx.Client) -> None:
    fhir.put("/Patient/h", json={**PATIENT, "id": "h"})
    fhir.put("/Patient/h", json={**PATIENT, "id": "h", "gender": "female"})
    fhir.delete("/Patient/h")
    response = fhir.get("/Patient/h/_history")
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "history" and bundle["total"] == 3
    deleted, updated, created = bundle["entry"]
    assert all(e["fullUrl"] == f"{str(fhir.base_url).rstrip('/')}/Patient/h" for e in bundle["entry"])
    assert "resource" not in deleted
    assert deleted["request"] == {"method": "DELETE", "url": "Patient/h"}
    assert deleted["response"]["etag"] == 'W/"3"'
    assert updated["request"] == {"method": "PUT", "url": "Patient/h"}
    assert updated["resource"]["gender"] == "female" and updated["resource"]["meta"]["versionId"] == "2"
    assert updated["response"]["status"] == "200 OK" and updated["response"]["etag"] == 'W/"2"'
    assert created["request"] == {"method": "POST", "url": "Patient"}
    assert created["response"]["status"] == "201 Created"
    assert created["response"]["lastModified"] == created["resource"]["meta"]["lastUpdated"]


def test_history_of_an_unknown_resource_returns_404(fhir: httpx.Client) -> None:
    response = fhir.get("/Patient/never/_history")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_type_history_lists_only_versions_of_that_type(fhir: httpx.Client) -> None:
    patient = fhir.post("/Patient", json=PATIENT).json()
    fhir.post("/Observation", json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    fhir.put(f"/Patient/{patient['id']}", json={**patient, "gender": "female"})
    bundle = fhir.get("/Patient/_history").json()
    assert versions(bundle) == [f"Patient/{patient['id']}/2", f"Patient/{patient['id']}/1"]
    assert "total" not in bundle


def test_system_history_lists_versions_of_every_type_newest_first(fhir: httpx.Client) -> None:
    patient = fhir.post("/Patient", json=PATIENT).json()
    observation = fhir.post("/Observation", json={"resourceType": "Observation", "status": "final",
                                                  "code": {"text": "x"}}).json()
    fhir.delete(f"/Patient/{patient['id']}")
    listed = versions(fhir.get("/_history").json())
    mine = [v for v in listed if v.startswith(("Patient/", "Observation/"))]
    assert mine == [f"Patient/{patient['id']}/2", f"Observation/{observation['id']}/1", f"Patient/{patient['id']}/1"]


def test_next_and_previous_links_page_through_history_without_gaps_or_repeats(fhir: httpx.Client) -> None:
    for number in range(4):
        fhir.put(f"/Patient/p{number}", json={**PATIENT, "id": f"p{number}"})
        fhir.put(f"/Patient/p{number}", json={**PATIENT, "id": f"p{number}", "gender": "female"})
    everything = versions(fhir.get("/Patient/_history").json())
    assert len(everything) == 8
    bundles = [fhir.get("/Patient/_history", params={"_count": 3}).json()]
    while (url := link(bundles[-1], "next")) is not None:
        assert "_count=3" in url
        bundles.append(fhir.get(url).json())
    pages = [versions(bundle) for bundle in bundles]
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [v for page in pages for v in page] == everything
    assert link(bundles[0], "previous") is None
    back = fhir.get(str(link(bundles[2], "previous"))).json()
    assert versions(back) == pages[1]
    first = fhir.get(str(link(back, "previous"))).json()
    assert versions(first) == pages[0] and link(first, "previous") is None
    assert link(first, "next") is not None


def test_paging_is_stable_across_versions_written_at_one_instant(fhir: httpx.Client) -> None:
    # A transaction stamps all its versions with one instant; the key's later columns order them.
    entries = [{"resource": {**PATIENT, "id": f"t{n}"}, "request": {"method": "PUT", "url": f"Patient/t{n}"}}
               for n in range(5)]
    assert fhir.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}).status_code == 200
    everything = versions(fhir.get("/Patient/_history").json())
    assert everything == [f"Patient/t{n}/1" for n in reversed(range(5))]
    bundle = fhir.get("/Patient/_history", params={"_count": 2}).json()
    paged = versions(bundle)
    while (url := link(bundle, "next")) is not None:
        bundle = fhir.get(url).json()
        paged += versions(bundle)
    assert paged == everything


def test_instance_history_pages_by_version(fhir: httpx.Client) -> None:
    for gender in ("male", "female", "other", "unknown", "male"):
        fhir.put("/Patient/v", json={**PATIENT, "id": "v", "gender": gender})
    first = fhir.get("/Patient/v/_history", params={"_count": 2}).json()
    assert first["total"] == 5 and versions(first) == ["Patient/v/5", "Patient/v/4"]
    second = fhir.get(str(link(first, "next"))).json()
    assert versions(second) == ["Patient/v/3", "Patient/v/2"] and second["total"] == 5
    third = fhir.get(str(link(second, "next"))).json()
    assert versions(third) == ["Patient/v/1"] and link(third, "next") is None


def test_since_keeps_versions_written_at_or_after_the_instant(fhir: httpx.Client) -> None:
    fhir.put("/Patient/s", json={**PATIENT, "id": "s"})
    since = now()
    fhir.put("/Patient/s", json={**PATIENT, "id": "s", "gender": "female"})
    other = fhir.post("/Patient", json=PATIENT).json()
    assert versions(fhir.get("/Patient/s/_history", params={"_since": since}).json()) == ["Patient/s/2"]
    assert versions(fhir.get("/Patient/_history", params={"_since": since}).json()) == [
        f"Patient/{other['id']}/1", "Patient/s/2"]
    assert fhir.get("/Patient/s/_history", params={"_since": since}).json()["total"] == 1


def test_since_accepts_a_time_zone_whose_plus_sign_was_not_escaped(fhir: httpx.Client) -> None:
    fhir.put("/Patient/z", json={**PATIENT, "id": "z"})
    response = fhir.get("/Patient/z/_history?_since=2000-01-01T00:00:00+02:00")
    assert response.status_code == 200 and response.json()["total"] == 1


def test_at_gives_the_instance_version_in_force_at_that_instant(fhir: httpx.Client) -> None:
    fhir.put("/Patient/a", json={**PATIENT, "id": "a"})
    during_first = now()
    fhir.put("/Patient/a", json={**PATIENT, "id": "a", "gender": "female"})
    during_second = now()
    fhir.delete("/Patient/a")
    assert versions(fhir.get("/Patient/a/_history", params={"_at": during_first}).json()) == ["Patient/a/1"]
    assert versions(fhir.get("/Patient/a/_history", params={"_at": during_second}).json()) == ["Patient/a/2"]
    assert versions(fhir.get("/Patient/a/_history", params={"_at": "1999"}).json()) == []


def test_at_gives_each_resource_of_the_type_as_it_was_then(fhir: httpx.Client) -> None:
    fhir.put("/Patient/x", json={**PATIENT, "id": "x"})
    fhir.put("/Patient/y", json={**PATIENT, "id": "y"})
    fhir.put("/Patient/x", json={**PATIENT, "id": "x", "gender": "female"})
    moment = now()
    fhir.put("/Patient/x", json={**PATIENT, "id": "x", "gender": "other"})
    fhir.delete("/Patient/y")
    fhir.put("/Patient/later", json={**PATIENT, "id": "later"})
    assert versions(fhir.get("/Patient/_history", params={"_at": moment}).json()) == ["Patient/x/2", "Patient/y/1"]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(versions(fhir.get("/Patient/_history", params={"_at": today}).json())) == 6


@pytest.mark.parametrize(("parameter", "value"), [
    ("_count", "-1"), ("_count", "ten"), ("_count", "²"), ("_since", "yesterday"), ("_since", "2024-02-30"),
    ("_at", "2024-13"), ("_at", "2024-05-01T10:00:00.5.5Z"), ("_cursor", "not-a-cursor"),
])
def test_bad_history_parameters_return_400_naming_the_parameter(
    fhir: httpx.Client, parameter: str, value: str
) -> None:
    fhir.put("/Patient/b", json={**PATIENT, "id": "b"})
    for url in ("/Patient/b/_history", "/Patient/_history", "/_history"):
        response = fhir.get(url, params={parameter: value})
        assert response.status_code == 400
        assert response.json()["issue"][0]["expression"] == [parameter]


def test_count_zero_gives_the_total_alone_and_a_huge_count_is_served(fhir: httpx.Client) -> None:
    fhir.put("/Patient/c", json={**PATIENT, "id": "c"})
    fhir.put("/Patient/c", json={**PATIENT, "id": "c"})
    bundle = fhir.get("/Patient/c/_history", params={"_count": 0}).json()
    assert bundle["total"] == 2 and "entry" not in bundle and link(bundle, "next") is None
    for huge in ("1000000000", "9" * 5000):
        assert len(fhir.get("/Patient/c/_history", params={"_count": huge}).json()["entry"]) == 2


def test_history_never_shows_another_projects_versions(server: RunningServer, fhir: httpx.Client) -> None:
    fhir.put("/Patient/mine", json={**PATIENT, "id": "mine"})
    stranger = server.fhir_client(new_project="Elsewhere")
    assert stranger.get("/Patient/mine/_history").status_code == 404
    assert versions(stranger.get("/Patient/_history").json()) == []
    assert not [v for v in versions(stranger.get("/_history").json()) if v.startswith("Patient/mine")]


def test_history_can_be_read_inside_a_batch(fhir: httpx.Client) -> None:
    fhir.put("/Patient/inbatch", json={**PATIENT, "id": "inbatch"})
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"request": {"method": "GET", "url": "Patient/inbatch/_history"}}]}
    entry = fhir.post("", json=bundle).json()["entry"][0]
    assert entry["response"]["status"] == "200 OK"
    assert entry["resource"]["type"] == "history" and entry["resource"]["total"] == 1


def test_capability_statement_claims_the_history_interactions(fhir: httpx.Client) -> None:
    statement = fhir.get("/metadata").json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert {"history-instance", "history-type", "patch"} <= codes
    assert {"code": "history-system"} in statement["rest"][0]["interaction"]
