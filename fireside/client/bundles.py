"""`BundleBuilder`: transaction and batch Bundles whose new resources refer to each other.

    builder = BundleBuilder()
    patient = builder.create({"resourceType": "Patient", "name": [{"family": "Chalmers"}]})
    builder.create({"resourceType": "Observation", "status": "final", "code": {...},
                    "subject": {"reference": patient}})
    client.transaction(builder)

Each create gets a `urn:uuid:` fullUrl; the server gives the resource an id and rewrites every
reference to that fullUrl in the same transaction (https://hl7.org/fhir/R4/bundle.html#references).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode


def _criteria(criteria: str | Mapping[str, str]) -> str:
    return criteria.lstrip("?") if isinstance(criteria, str) else urlencode(dict(criteria))


class BundleBuilder:
    def __init__(self, type: Literal["transaction", "batch"] = "transaction") -> None:
        self.type = type
        self.entries: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def _add(self, method: str, url: str, resource: Mapping[str, Any] | None = None,
             full_url: str | None = None, **request: str) -> None:
        entry: dict[str, Any] = {}
        if full_url is not None:
            entry["fullUrl"] = full_url
        if resource is not None:
            entry["resource"] = dict(resource)
        entry["request"] = {"method": method, "url": url, **request}
        self.entries.append(entry)

    def create(self, resource: Mapping[str, Any], *, if_none_exist: str | Mapping[str, str] | None = None,
               full_url: str | None = None) -> str:
        """Add a create; returns its `urn:uuid:` fullUrl, for use as a reference in other entries.

        With `if_none_exist` (criteria like "identifier=http://x|1") it is a conditional create,
        and references to the fullUrl point at the existing match when there is one."""
        full_url = full_url or f"urn:uuid:{uuid.uuid4()}"
        extra = {"ifNoneExist": _criteria(if_none_exist)} if if_none_exist else {}
        self._add("POST", resource["resourceType"], resource, full_url, **extra)
        return full_url

    def update(self, resource: Mapping[str, Any], *, versioned: bool = True) -> str:
        """Add an update of `resource` (which has an id); returns its reference, `Type/id`.

        As `FiresideClient.update`: when versioned and the resource has meta.versionId, the
        entry carries ifMatch, so the whole transaction fails if someone changed it meanwhile."""
        reference = f"{resource['resourceType']}/{resource['id']}"
        version_id = (resource.get("meta") or {}).get("versionId")
        extra = {"ifMatch": f'W/"{version_id}"'} if versioned and version_id else {}
        self._add("PUT", reference, resource, None, **extra)
        return reference

    def update_where(self, resource: Mapping[str, Any], criteria: str | Mapping[str, str]) -> str:
        """Add a conditional update (create when nothing matches); returns its `urn:uuid:` fullUrl."""
        full_url = f"urn:uuid:{uuid.uuid4()}"
        self._add("PUT", f"{resource['resourceType']}?{_criteria(criteria)}", resource, full_url)
        return full_url

    def delete(self, resource_type: str, id: str | None = None, *,
               criteria: str | Mapping[str, str] | None = None) -> None:
        """Add a delete of `Type/id`, or a conditional delete of what `criteria` match."""
        if (id is None) == (criteria is None):
            raise ValueError("delete takes either an id or criteria")
        self._add("DELETE", f"{resource_type}/{id}" if id else f"{resource_type}?{_criteria(criteria or '')}")

    def read(self, resource_type: str, id: str) -> None:
        self._add("GET", f"{resource_type}/{id}")

    def search(self, resource_type: str, criteria: str | Mapping[str, str]) -> None:
        self._add("GET", f"{resource_type}?{_criteria(criteria)}")

    def build(self) -> dict[str, Any]:
        """The Bundle, as a new dict (building twice gives two equal Bundles)."""
        return {"resourceType": "Bundle", "type": self.type,
                "entry": [{**entry, "request": dict(entry["request"])} for entry in self.entries]}
