"""The searchset Bundle's paging links (https://hl7.org/fhir/R4/search.html#paging): self,
first, next and previous, followed over HTTP with a sort."""

from __future__ import annotations

from typing import Any

import httpx


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", []) if entry["search"]["mode"] == "match"]


def test_next_and_previous_links_page_through_a_sorted_search_both_ways(fhir: httpx.Client) -> None:
    for n, date in enumerate(("2020-01-05", "2020-01-01", "2020-01-04", "2020-01-02", "2020-01-03")):
        fhir.put(f"/Observation/o{n}", json={"resourceType": "Observation", "id": f"o{n}", "status": "final",
                                             "code": {"text": "x"}, "effectiveDateTime": date})
    first = fhir.get("/Observation", params={"_sort": "-date", "_count": "2", "_total": "accurate"}).json()
    assert ids(first) == ["o0", "o2"] and first["total"] == 5
    assert link(first, "previous") is None and link(first, "first") == link(first, "self")
    second = fhir.get(str(link(first, "next"))).json()
    third = fhir.get(str(link(second, "next"))).json()
    assert ids(second) == ["o4", "o3"] and ids(third) == ["o1"] and link(third, "next") is None
    back = fhir.get(str(link(third, "previous"))).json()
    assert ids(back) == ["o4", "o3"]
    start = fhir.get(str(link(back, "previous"))).json()
    assert ids(start) == ["o0", "o2"] and link(start, "previous") is None
    assert "_cursor" not in str(link(third, "first")) and "_sort=-date" in str(link(third, "first"))


def test_an_unknown_sort_key_is_reported_or_refused_under_strict_handling(fhir: httpx.Client) -> None:
    lenient = fhir.get("/Patient", params={"_sort": "nonsense"})
    assert lenient.status_code == 200
    outcome = lenient.json()["entry"][-1]
    assert outcome["search"]["mode"] == "outcome" and "_sort=nonsense" in str(outcome["resource"])
    strict = fhir.get("/Patient", params={"_sort": "nonsense"}, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and "_sort" in strict.text


def test_total_estimate_and_count_zero_over_http(fhir: httpx.Client) -> None:
    for _ in range(3):
        fhir.post("/Patient", json={"resourceType": "Patient", "gender": "other"})
    bundle = fhir.get("/Patient", params={"gender": "other", "_count": "0"}).json()
    assert bundle["total"] == 3 and "entry" not in bundle
    estimated = fhir.get("/Patient", params={"_count": "1", "_total": "estimate"}).json()
    assert isinstance(estimated["total"], int)
    assert "total" not in fhir.get("/Patient", params={"_total": "none"}).json()
