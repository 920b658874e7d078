"""batch: each entry on its own (https://hl7.org/fhir/R4/http.html#transaction).

Every entry runs in a transaction of its own; one failing neither stops nor undoes the others,
and its error becomes that entry's response. Entries may not refer to each other, so nothing
is rewritten between them.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fireside.api.bundles.entries import read_entry
from fireside.api.bundles.responses import entry_response, error_entry
from fireside.api.context import FhirRequest
from fireside.api.services import Services
from fireside.fhir.errors import FhirError

log = logging.getLogger(__name__)


async def run_batch(request: FhirRequest, services: Services, raw_entries: list[Any]) -> list[Any]:
    # Entries go back through the dispatcher, whose route table holds the Bundle handler itself.
    from fireside.api.dispatch import dispatch

    responses = []
    for index, raw in enumerate(raw_entries):
        try:
            entry = read_entry(index, raw, request.base_url, services)
            response = await dispatch(entry.to_request(request, None), entry.path, services)
            responses.append(entry_response(response, request.base_url, head=entry.method == "HEAD"))
        except FhirError as error:
            responses.append(error_entry(error))
        except Exception as error:
            # As at the HTTP edge: the type goes to the log, not the message (it may quote PHI).
            log.error("batch entry %d failed: %s\n%s", index, type(error).__name__,
                      "".join(traceback.format_tb(error.__traceback__)))
            responses.append(error_entry(FhirError.single("exception", "Internal error processing the entry")))
    return responses
