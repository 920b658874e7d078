"""batch and transaction: POST [base] with a Bundle (https://hl7.org/fhir/R4/http.html#transaction).

Every entry goes through the same route table and handlers as a plain HTTP request, with
`body_path` naming the entry so that errors do too (`Bundle.entry[3].resource.birthDate`).
"""

from __future__ import annotations

from fireside.api.bundles.batch import run_batch
from fireside.api.bundles.entries import read_bundle
from fireside.api.bundles.transaction import run_transaction
from fireside.api.context import FhirRequest, FhirResponse
from fireside.api.services import Services


async def batch_or_transaction(request: FhirRequest, services: Services) -> FhirResponse:
    bundle_type, raw_entries = read_bundle(request.json_body())
    if bundle_type == "batch":
        entries = await run_batch(request, services, raw_entries)
    else:
        entries = await run_transaction(request, services, raw_entries)
    return FhirResponse(resource={"resourceType": "Bundle", "type": f"{bundle_type}-response", "entry": entries})
