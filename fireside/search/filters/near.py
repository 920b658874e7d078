"""Location `near` (https://hl7.org/fhir/R4/location.html#positional):
`near=[latitude]|[longitude]|[distance]|[units]`, WGS84 degrees. Units default to km; the
distance, when left out, is the server's choice (`DEFAULT_DISTANCE_KM`).

The rows of `search_position` inside the circle are found in two steps: a bounding box of the
circle, which the (latitude, longitude) value index serves as a latitude range with the
longitude checked inside the index, then the exact great-circle (haversine) distance on the
rows in the box. A box across the antimeridian is two longitude ranges; a circle over a pole
takes every longitude. Distances are on a sphere of the Earth's mean radius: within 0.5% of
the WGS84 ellipsoid, well inside what `near` promises ("servers may search using various
techniques that might have differing accuracies").
"""

from __future__ import annotations

import math

from psycopg import sql

from fireside.search.escaping import split_unescaped, unescape
from fireside.search.filters.condition import Condition, FilterContext, bad_modifier, bad_value, condition
from fireside.search.request import Criterion

# IUGG mean Earth radius.
EARTH_RADIUS_KM = 6371.0088
DEFAULT_DISTANCE_KM = 10.0
# UCUM distance units (and the plain `mi` clients send) in kilometres.
KILOMETRES_PER_UNIT = {
    "km": 1.0,
    "m": 0.001,
    "mi": 1.609344,
    "[mi_i]": 1.609344,
    "[mi_us]": 1.609347219,
    "[nmi_i]": 1.852,
}
# Box edges are widened by this many degrees (about 0.1 mm), so that rounding in the box can
# never drop a point the exact distance keeps.
_EDGE = 1e-9

_HAVERSINE = (
    "2 * %s * asin(least(1, sqrt(power(sin(radians(i.latitude - %s) / 2), 2)"
    " + cos(radians(%s)) * cos(radians(i.latitude)) * power(sin(radians(i.longitude - %s) / 2), 2)))) <= %s"
)


def compile_near_filter(criterion: Criterion, value: str, context: FilterContext) -> Condition:
    if criterion.modifier is not None:
        raise bad_modifier(criterion)
    latitude, longitude, distance = _read(criterion, value)
    box = _bounding_box(latitude, longitude, distance)
    exact = condition(_HAVERSINE, EARTH_RADIUS_KM, latitude, latitude, longitude, distance)
    return Condition(sql.SQL("{} AND {}").format(box.sql, exact.sql), (*box.params, *exact.params))


def _read(criterion: Criterion, value: str) -> tuple[float, float, float]:
    """(latitude, longitude, distance in km) of a `near` value."""
    parts = [unescape(part) for part in split_unescaped(value, "|")]
    if not 2 <= len(parts) <= 4:
        raise bad_value(criterion, value, "is not latitude|longitude|distance|units (like 42.256|-83.69|10|km)")
    latitude = _number(criterion, value, parts[0], "latitude")
    longitude = _number(criterion, value, parts[1], "longitude")
    if not -90 <= latitude <= 90:
        raise bad_value(criterion, value, "has a latitude outside -90 to 90")
    if not -180 <= longitude <= 180:
        raise bad_value(criterion, value, "has a longitude outside -180 to 180")
    units = (parts[3] if len(parts) == 4 else "") or "km"
    if units not in KILOMETRES_PER_UNIT:
        raise bad_value(criterion, value, f"has units {units!r}; use one of {', '.join(KILOMETRES_PER_UNIT)}")
    if len(parts) < 3 or not parts[2]:
        return latitude, longitude, DEFAULT_DISTANCE_KM
    distance = _number(criterion, value, parts[2], "distance")
    if distance < 0:
        raise bad_value(criterion, value, "has a negative distance")
    return latitude, longitude, distance * KILOMETRES_PER_UNIT[units]


def _number(criterion: Criterion, value: str, text: str, what: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise bad_value(criterion, value, f"has a {what} that is not a number")
    return number


def _bounding_box(latitude: float, longitude: float, distance: float) -> Condition:
    angle = distance / EARTH_RADIUS_KM  # radians of arc
    south, north = latitude - math.degrees(angle) - _EDGE, latitude + math.degrees(angle) + _EDGE
    if south <= -90 or north >= 90 or angle >= math.pi / 2:
        # A pole is inside the circle (or nearly): every longitude may be.
        return condition("i.latitude BETWEEN %s AND %s", max(south, -90.0), min(north, 90.0))
    # The widest longitude the circle reaches, at the latitude where it touches its meridians.
    spread = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(latitude))))) + _EDGE
    west, east = longitude - spread, longitude + spread
    if west < -180:
        return condition("i.latitude BETWEEN %s AND %s AND (i.longitude >= %s OR i.longitude <= %s)",
                         south, north, west + 360, east)
    if east > 180:
        return condition("i.latitude BETWEEN %s AND %s AND (i.longitude >= %s OR i.longitude <= %s)",
                         south, north, west, east - 360)
    return condition("i.latitude BETWEEN %s AND %s AND i.longitude BETWEEN %s AND %s", south, north, west, east)
