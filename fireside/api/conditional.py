"""Search criteria that pick the target of a conditional create, update, delete or reference."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fireside.api.context import FhirRequest
from fireside.api.services import Services
from fireside.fhir.errors import FhirError
from fireside.store import StoredResource

Criteria = str | list[tuple[str, str]]


def parse_criteria(criteria: Criteria) -> list[tuple[str, str]]:
    if isinstance(criteria, str):
        return parse_qsl(criteria.lstrip("?"), keep_blank_values=True)
    return list(criteria)


async def find_matches(
    request: FhirRequest, services: Services, resource_type: str, criteria: Criteria, limit: int = 2
) -> list[StoredResource]:
    """Up to `limit` current resources of `resource_type` matching `criteria`.

    Callers only need to tell none, one and several apart, so the default limit is 2."""
    params = [(k, v) for k, v in parse_criteria(criteria) if not k.startswith("_format")]
    if not params:
        raise FhirError.single("invalid", "A conditional request needs search criteria", status=412)
    conn = request.unit.conn if request.unit is not None else None
    return await services.search.find(conn, request.ctx, resource_type, params, limit)
