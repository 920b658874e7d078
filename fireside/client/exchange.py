"""The sans-I/O seam between the client's logic and its transports.

Every client operation is written once, as a generator (an `Exchange`) that yields what it
needs done (send this `HttpRequest`, or `Sleep` this long) and receives the `HttpResponse`.
`FiresideClient` drives exchanges with blocking httpx calls and `AsyncFiresideClient` with
awaited ones, so authentication, retries and response parsing exist in one place.
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import orjson

from fireside.client.errors import FiresideError

T = TypeVar("T")

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None

    def with_headers(self, extra: Mapping[str, str]) -> HttpRequest:
        return HttpRequest(self.method, self.url, self.params, {**self.headers, **extra}, self.content)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes
    url: str = ""

    def json(self) -> Any:
        return orjson.loads(self.content) if self.content else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Sleep:
    seconds: float


Action = HttpRequest | Sleep
Exchange = Generator[Action, HttpResponse | None, T]


def send(request: HttpRequest) -> Exchange[HttpResponse]:
    """Yield one request and return its response: the building block of every exchange."""
    response = yield request
    assert response is not None, "the transport answers every HttpRequest with an HttpResponse"
    return response


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry: 429 Too Many Requests and 503 Service Unavailable, a bounded number of times.

    The wait honours the server's `Retry-After` (seconds or an HTTP date), else grows
    exponentially from `backoff` with jitter; no single wait exceeds `max_wait` seconds.
    """

    attempts: int = 4  # the first try plus three retries
    backoff: float = 0.5
    max_wait: float = 30.0
    statuses: frozenset[int] = frozenset({429, 503})

    def wait(self, attempt: int, response: HttpResponse) -> float:
        retry_after = _retry_after_seconds(response.header("retry-after"))
        if retry_after is None:
            retry_after = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
        return min(max(retry_after, 0.0), self.max_wait)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def send_with_retries(request: HttpRequest, policy: RetryPolicy) -> Exchange[HttpResponse]:
    attempt = 0
    while True:
        response = yield from send(request)
        attempt += 1
        if response.status not in policy.statuses or attempt >= policy.attempts:
            return response
        yield Sleep(policy.wait(attempt - 1, response))


def expect_success(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.status >= 400:
        raise FiresideError.from_response(response.status, response.content, method=request.method, url=request.url)
    return response
