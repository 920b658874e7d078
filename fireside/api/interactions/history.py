"""history: GET [base]/[type]/[id]/_history, [base]/[type]/_history and [base]/_history
(https://hl7.org/fhir/R4/http.html#history).

A Bundle of type `history`, newest version first, deletions included as entries with no
resource. Parameters:

- `_count`: page size, default 20, at most 1000 (larger values are served as 1000).
- `_since`: versions created at or after this instant (the spec's wording). A date or partial
  dateTime counts from its start; a time without a zone is taken as UTC.
- `_at`: versions that were current at some point during the span the dateTime denotes. A full
  instant picks, for each resource, the version in force at that instant (deletion markers
  included, so a client sees that a resource was deleted then); `_at=2024-05` also includes every
  version that came and went during May 2024. At instance level that is the version (or
  versions) of the one resource; at type and system level, each resource's.
- `_cursor`: the opaque keyset cursor of the `next` / `previous` links.

`Bundle.total` is given for the history of one resource only: counting a type's or the whole
project's history would scan all of it on every page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import orjson

from fireside.api.context import FhirRequest, FhirResponse, read_current
from fireside.api.services import Services
from fireside.fhir.errors import FhirError, invalid
from fireside.store import HistoryCursor, Period, StoredResource, count_history, format_instant, read_history

DEFAULT_COUNT = 20
MAX_COUNT = 1000

_DATE_TIME = re.compile(
    r"^(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$"
)
_WHOLE_NUMBER = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class HistoryParameters:
    count: int
    since: datetime | None
    at: Period | None
    cursor: HistoryCursor | None


async def history(request: FhirRequest, services: Services) -> FhirResponse:
    """All three levels: the request's resource_type and id say which."""
    parameters = read_parameters(request)
    conn = request.unit.conn if request.unit is not None else None
    total = None
    if request.id is not None:
        assert request.resource_type
        await _check_known(request, services, request.resource_type, request.id)
        total = await count_history(services.store, request.ctx, resource_type=request.resource_type,
                                    id=request.id, since=parameters.since, at=parameters.at, conn=conn)
    versions: list[StoredResource] = []
    if parameters.count > 0:
        # One more than a page tells whether another page lies beyond this one.
        versions = await read_history(services.store, request.ctx, resource_type=request.resource_type,
                                      id=request.id, since=parameters.since, at=parameters.at,
                                      cursor=parameters.cursor, count=parameters.count + 1, conn=conn)
    page, newer, older = _cut_page(versions, parameters)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = _links(request, parameters.cursor, page, newer, older)
    if page:  # FHIR JSON has no empty arrays
        bundle["entry"] = [_entry(request.base_url, version) for version in page]
    # Stored content goes into the Bundle as it is, without being parsed and encoded again.
    return FhirResponse(raw=orjson.dumps(bundle).decode())


def read_parameters(request: FhirRequest) -> HistoryParameters:
    count = DEFAULT_COUNT
    text = request.param("_count")
    if text is not None:
        digits = text.strip()
        if not _WHOLE_NUMBER.match(digits):
            raise invalid(f"_count must be a whole number of 0 or more; got {text!r}", "_count")
        count = MAX_COUNT if len(digits) > 6 else min(int(digits), MAX_COUNT)
    since = request.param("_since")
    at = request.param("_at")
    token = request.param("_cursor")
    cursor = None
    if token is not None:
        try:
            cursor = HistoryCursor.decode(token)
        except ValueError:
            raise invalid("_cursor is not a cursor this server gave out; follow the Bundle's links",
                          "_cursor") from None
    return HistoryParameters(
        count=count,
        since=parse_date_time("_since", since).start if since is not None else None,
        at=parse_date_time("_at", at) if at is not None else None,
        cursor=cursor,
    )


def parse_date_time(parameter: str, value: str) -> Period:
    """The span a FHIR dateTime (any precision from a year down to fractions of a second) covers."""
    # An unescaped '+' in a query string arrives as a space: "2024-05-01T10:00:00 02:00".
    text = value.strip().replace(" ", "+")
    match = _DATE_TIME.match(text)
    if match is None:
        raise invalid(f"{parameter} must be a FHIR instant or dateTime, like 2024-05-01T10:00:00Z; got {value!r}",
                      parameter)
    parts = match.groupdict()
    try:
        zone = _zone(parts["zone"])
        year = int(parts["year"])
        if parts["month"] is None:
            return Period(datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone))
        month = int(parts["month"])
        if parts["day"] is None:
            start = datetime(year, month, 1, tzinfo=zone)
            return Period(start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone))
        start = datetime(year, month, int(parts["day"]), tzinfo=zone)
        if parts["hour"] is None:
            return Period(start, start + timedelta(days=1))
        start = start.replace(hour=int(parts["hour"]), minute=int(parts["minute"]))
        if parts["second"] is None:
            return Period(start, start + timedelta(minutes=1))
        start = start.replace(second=int(parts["second"]))
        fraction = parts["fraction"]
        if fraction is None:
            return Period(start, start + timedelta(seconds=1))
        # PostgreSQL keeps microseconds: finer digits are cut, and the span is one microsecond.
        digits = fraction[:6]
        start = start.replace(microsecond=int(digits.ljust(6, "0")))
        return Period(start, start + timedelta(microseconds=10 ** (6 - len(digits))))
    except ValueError as error:  # 2024-02-30, 25:00, a zone beyond +-24h
        raise invalid(f"{parameter} {value!r} is not a valid dateTime: {error}", parameter) from None


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


async def _check_known(request: FhirRequest, services: Services, resource_type: str, resource_id: str) -> None:
    """404 for a resource this project never had; a deleted one still has a history."""
    if await read_current(request, services, resource_type, resource_id) is None:
        raise FhirError.single("not-found", f"{resource_type}/{resource_id} is not known")


def _cut_page(
    versions: list[StoredResource], parameters: HistoryParameters
) -> tuple[list[StoredResource], bool, bool]:
    """The page out of a query for one more than `count`, and whether newer and older pages exist."""
    count, cursor = parameters.count, parameters.cursor
    more = len(versions) > count
    if cursor is not None and cursor.backward:
        # Going back, the surplus version is the newest one; the page we came from is older.
        return versions[len(versions) - count:] if more else versions, more, True
    return versions[:count], cursor is not None, more


def _links(
    request: FhirRequest, cursor: HistoryCursor | None, page: list[StoredResource], newer: bool, older: bool
) -> list[dict[str, str]]:
    """self, and next / previous where there is more: the request's URL with another cursor."""
    base = _history_url(request)
    kept = [(k, v) for k, v in request.query if k != "_cursor"]

    def url(cursor: HistoryCursor | None) -> str:
        query = kept + ([("_cursor", cursor.encode())] if cursor is not None else [])
        return f"{base}?{urlencode(query)}" if query else base

    links = [{"relation": "self", "url": url(cursor)}]
    if page and older:
        links.append({"relation": "next", "url": url(HistoryCursor.at(page[-1]))})
    if page and newer:
        links.append({"relation": "previous", "url": url(HistoryCursor.at(page[0], backward=True))})
    return links


def _history_url(request: FhirRequest) -> str:
    if request.id is not None:
        return f"{request.base_url}/{request.resource_type}/{request.id}/_history"
    if request.resource_type is not None:
        return f"{request.base_url}/{request.resource_type}/_history"
    return f"{request.base_url}/_history"


def _entry(base_url: str, version: StoredResource) -> dict[str, Any]:
    # History records neither the method nor the status a version was written with: the first
    # version reads as a create, later ones as updates, a version without content as a delete.
    if version.deleted:
        method, url, status = "DELETE", version.reference, "204 No Content"
    elif version.version_id == 1:
        method, url, status = "POST", version.resource_type, "201 Created"
    else:
        method, url, status = "PUT", version.reference, "200 OK"
    entry: dict[str, Any] = {"fullUrl": f"{base_url}/{version.reference}"}
    if version.content is not None:
        entry["resource"] = orjson.Fragment(version.content)
    entry["request"] = {"method": method, "url": url}
    entry["response"] = {"status": status, "etag": version.etag, "lastModified": format_instant(version.last_updated)}
    return entry
