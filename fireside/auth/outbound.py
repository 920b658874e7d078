"""Requests the server makes to URLs that someone else chose: a client's `jwksUri`
(fireside/auth/client_auth.py) and an identity provider's discovery document, key set and token
endpoint (fireside/auth/oidc_client.py).

A project admin writes `jwksUri`, so fetching it as given would let them make the server request
anything it can reach: its own admin ports, the cloud metadata service (169.254.169.254), a
database on the private network (server-side request forgery). Unless the URL's host is on the
allow-list (FIRESIDE_OUTBOUND_ALLOW_HOSTS, exact host names or IP literals):

- the URL must be https;
- the host is resolved once, every address it resolves to must be public (`is_global`: not
  loopback, private, link-local, shared, reserved or multicast, nor an IPv4 address of those
  kinds inside an IPv6 one), and the connection goes to one of those checked addresses. It is
  not resolved a second time by the HTTP client: a DNS server answering 127.0.0.1 the second
  time (DNS rebinding) would get past a check made on the first answer. TLS still checks the
  certificate against the host name (sent as SNI), so pinning the address changes nothing there.

For every host: redirects are not followed (one could lead anywhere), the answer is read up to
`max_bytes` (decompressed) and the whole exchange, resolution included, ends after
`timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx

MAX_BYTES = 256 * 1024  # a JWK Set or discovery document is a few kilobytes
TIMEOUT_SECONDS = 10.0
# RFC 6052 NAT64: a gateway reaches the IPv4 address in the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """The request could not be made or answered within the limits (the message says why, and
    holds no secret)."""


class OutboundRefused(OutboundError):
    """The policy forbids the URL: not https, or its host is not public."""


@dataclass(frozen=True)
class OutboundPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    max_bytes: int = MAX_BYTES
    timeout_seconds: float = TIMEOUT_SECONDS

    @classmethod
    def allowing(cls, hosts: Iterable[str]) -> OutboundPolicy:
        """The policy with `hosts` (names or IP literals, any case) on the allow-list."""
        return cls(frozenset(normal for host in hosts if (normal := host.strip().strip("[]").lower())))

    def allows(self, host: str) -> bool:
        return host.lower() in self.allowed_hosts


STRICT = OutboundPolicy()


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


async def fetch(policy: OutboundPolicy, method: str, url: str, *, data: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> httpx.Response:
    """The answer to `method url`, read in full (at most `policy.max_bytes`). `OutboundRefused`
    when the policy forbids the URL; `OutboundError` when it cannot be fetched within the limits."""
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            return await _fetch(policy, method, httpx.URL(url), data, dict(headers or {}))
    except TimeoutError as error:
        raise OutboundError(f"no answer within {policy.timeout_seconds:g} seconds") from error
    except httpx.InvalidURL as error:
        raise OutboundRefused("not a usable URL") from error
    except httpx.HTTPError as error:
        raise OutboundError(f"the request failed ({type(error).__name__})") from error


async def _fetch(policy: OutboundPolicy, method: str, url: httpx.URL, data: Mapping[str, str] | None,
                 headers: dict[str, str]) -> httpx.Response:
    if url.scheme not in ("https", "http") or not url.host:
        raise OutboundRefused("only https URLs are fetched")
    if policy.allows(url.host):
        return await _send(policy, method, url, data, headers)
    if url.scheme != "https":
        raise OutboundRefused(f"only https URLs are fetched ({url.host} is not on the allow-list)")
    addresses = await _public_addresses(url.host, url.port or 443)
    # The host's own name goes in the Host header and as TLS SNI (the certificate is checked
    # against it); the connection goes to the checked address.
    headers["Host"] = url.netloc.decode("ascii")
    pinned = {"sni_hostname": url.host}
    for address in addresses[:-1]:
        try:
            return await _send(policy, method, url.copy_with(host=str(address)), data, headers, pinned)
        except httpx.ConnectError:  # this address is unreachable: try the host's next one
            continue
    return await _send(policy, method, url.copy_with(host=str(addresses[-1])), data, headers, pinned)


async def _public_addresses(host: str, port: int) -> list[IpAddress]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OutboundError(f"{host} could not be resolved") from error
    # A scoped IPv6 address ("fe80::1%eth0") names its interface after the %.
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found))
    if not addresses:
        raise OutboundError(f"{host} could not be resolved")
    refused = [address for address in addresses if not is_public(address)]
    if refused:
        raise OutboundRefused(f"{host} resolves to an address that is not public ({refused[0]}) and is not on"
                              " the allow-list (FIRESIDE_OUTBOUND_ALLOW_HOSTS)")
    return addresses


async def _send(policy: OutboundPolicy, method: str, url: httpx.URL, data: Mapping[str, str] | None,
                headers: dict[str, str], extensions: dict[str, str] | None = None) -> httpx.Response:
    # trust_env off: an environment proxy would resolve the name again, out of the check's reach.
    async with httpx.AsyncClient(timeout=policy.timeout_seconds, follow_redirects=False, trust_env=False) as http:
        request = http.build_request(method, url, data=data, headers=headers, extensions=extensions)
        response = await http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise OutboundRefused(f"the answer is larger than {policy.max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > policy.max_bytes:
                    raise OutboundRefused(f"the answer is larger than {policy.max_bytes} bytes")
        finally:
            await response.aclose()
    # The body is decoded already: without its encoding headers, it is not decoded a second time.
    kept = [(name, value) for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx.Response(response.status_code, headers=kept, content=bytes(body), request=request)
