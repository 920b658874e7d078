"""What guards and records the OAuth endpoints: rate limits before the work, AuditEvents after it.

Rate limits apply per IP and per client to `POST /oauth2/token` and the sign-in form post
(fireside.auth.rate_limits); a refused request is 429 with Retry-After (RFC 6585 section 4).
Sign-ins, sign-outs and token requests, granted or refused, each leave an AuditEvent. One whose
caller is not established (an unknown client, a wrong password) goes to the admin project: the
request proved no project, and a project's admins must not learn which emails were tried.
"""

from __future__ import annotations

from uuid import UUID

import jwt
from starlette.requests import Request

from fireside.api.services import Services
from fireside.auth import find_client
from fireside.auth.audit import AuditRecord
from fireside.auth.lockout import LockoutPolicy
from fireside.auth.outbound import OutboundPolicy
from fireside.auth.rate_limits import Bucket, take
from fireside.fhir.errors import FhirError


def source_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def check_rate_limits(request: Request, services: Services, client_id: str | None) -> None:
    """Spend a token of the caller's IP bucket and its client's; raises `RateLimited`."""
    settings = services.settings
    buckets = []
    address = source_address(request)
    if address:
        buckets.append(Bucket(f"ip:{address}", settings.rate_limit_ip_burst, settings.rate_limit_ip_per_minute))
    if client_id:
        buckets.append(Bucket(f"client:{client_id}", settings.rate_limit_client_burst,
                              settings.rate_limit_client_per_minute))
    await take(services.store, buckets)


def lockout_policy(services: Services) -> LockoutPolicy:
    settings = services.settings
    return LockoutPolicy(settings.lockout_failures, settings.lockout_window_seconds, settings.lockout_seconds)


def outbound_policy(services: Services) -> OutboundPolicy:
    """What the server may fetch at URLs others chose (fireside/auth/outbound.py)."""
    return OutboundPolicy.allowing(services.settings.outbound_allow_hosts)


def audit_oauth(
    request: Request,
    services: Services,
    action: str,
    status: int,
    project_id: UUID | None,
    agent: str | None = None,
    client_id: str | None = None,
    alt_id: str | None = None,
    locked: bool = False,
) -> None:
    """Record a sign-in ("login"), sign-out ("logout") or token request ("token")."""
    project = project_id or services.admin_project_id
    if project is None:
        return
    services.audit.record(AuditRecord(
        project_id=project, action=action, status=status, agent=agent, client_id=client_id,
        source_address=source_address(request), agent_alt_id=alt_id, locked=locked,
    ))


async def audit_logout(request: Request, services: Services, id_token_hint: str, client_id: str | None) -> None:
    """A sign-out: the ID token (already verified by `logout`) names the user, its client the project."""
    client = await find_client(services.store, client_id) if client_id else None
    if client is None:
        return
    subject = jwt.decode(id_token_hint, options={"verify_signature": False}).get("sub")
    audit_oauth(request, services, "logout", 200, client.project_id, f"User/{subject}" if subject else None,
                client.id)


def audit_token_grant(request: Request, services: Services, access_token: str) -> None:
    """A token was issued: its grant says to whom and in which project."""
    try:
        grant = services.tokens.verify(access_token)
    except FhirError:  # cannot happen for a token just signed; never fail the grant over the audit
        return
    audit_oauth(request, services, "token", 200, grant.project_id, grant.subject, grant.client_id)
