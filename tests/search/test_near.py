"""Location `near`: latitude|longitude|distance|units, a great-circle distance
(https://hl7.org/fhir/R4/location.html#positional)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fireside.fhir import FhirError
from tests.search.conftest import Searcher

pytestmark = pytest.mark.anyio


# Ann Arbor, the spec's example.
LATITUDE, LONGITUDE = 42.256500, -83.694810
# One degree of latitude on the mean-radius sphere the search uses.
KM_PER_DEGREE = 111.19508


def location(resource_id: str, latitude: float, longitude: float) -> dict[str, Any]:
    return {"resourceType": "Location", "id": resource_id, "name": resource_id,
            "position": {"latitude": latitude, "longitude": longitude}}


def north_by(km: float) -> float:
    return LATITUDE + km / KM_PER_DEGREE


async def places(searcher: Searcher) -> None:
    await searcher.put(
        location("centre", LATITUDE, LONGITUDE),
        location("inside", north_by(9.9), LONGITUDE),
        location("outside", north_by(10.1), LONGITUDE),
        location("far", 51.5074, -0.1278),
        {"resourceType": "Location", "id": "nowhere", "name": "no position"},
    )


async def test_points_just_inside_the_radius_match_and_just_outside_do_not(searcher: Searcher) -> None:
    await places(searcher)
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}|10|km") == {"centre", "inside"}


async def test_the_radius_is_a_circle_not_the_bounding_box(searcher: Searcher) -> None:
    # 8 km north and 8 km east is in the 10 km box but 11.3 km away.
    east = 8 / (KM_PER_DEGREE * 0.7399)  # cos(42.2565 degrees)
    await searcher.put(location("corner", north_by(8), LONGITUDE + east), location("side", LATITUDE, LONGITUDE + east))
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}|10|km") == {"side"}


async def test_units_default_to_km_and_may_be_metres_or_miles(searcher: Searcher) -> None:
    await places(searcher)
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}|10") == {"centre", "inside"}
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}|10050|m") == {"centre", "inside"}
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}|6.3|[mi_i]") == {"centre", "inside", "outside"}
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}|6.2|mi") == {"centre", "inside"}


async def test_without_a_distance_the_server_uses_10_km(searcher: Searcher) -> None:
    await places(searcher)
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}") == {"centre", "inside"}


async def test_comma_separated_points_are_alternatives(searcher: Searcher) -> None:
    await places(searcher)
    assert await searcher.ids("Location", f"near={LATITUDE}|{LONGITUDE}|1|km,51.5|-0.12|5|km") == {"centre", "far"}


async def test_a_circle_across_the_antimeridian_finds_points_on_both_sides(searcher: Searcher) -> None:
    await searcher.put(location("west", -17.7, 179.95), location("east", -17.7, -179.95),
                       location("away", -17.7, 178.0))
    assert await searcher.ids("Location", "near=-17.7|179.99|20|km") == {"west", "east"}


async def test_missing_finds_locations_without_a_position(searcher: Searcher) -> None:
    await places(searcher)
    assert await searcher.ids("Location", "near:missing=true") == {"nowhere"}


@pytest.mark.parametrize("value", ["42.2", "north|-83.69|10|km", "95|-83.69|10|km", "42.2|-83.69|ten|km",
                                   "42.2|-83.69|10|furlong", "42.2|-83.69|-1|km", "1|2|3|km|5"])
async def test_a_bad_near_value_is_a_400_naming_the_parameter(searcher: Searcher, value: str) -> None:
    with pytest.raises(FhirError, match="near") as raised:
        await searcher.ids("Location", f"near={value}")
    assert raised.value.http_status == 400


def test_over_http_a_bad_near_value_is_a_400_operation_outcome_and_a_good_one_finds_the_place(
    fhir: httpx.Client,
) -> None:
    assert fhir.put("/Location/centre", json=location("centre", LATITUDE, LONGITUDE)).status_code in (200, 201)
    response = fhir.get("/Location", params={"near": "42.2|west|10|km"})
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "near" in outcome["issue"][0]["diagnostics"]
    found = fhir.get("/Location", params={"near": f"{LATITUDE}|{LONGITUDE}|1|km"}).json()
    assert [entry["resource"]["id"] for entry in found.get("entry", [])] == ["centre"]
