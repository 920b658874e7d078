"""Administration endpoints outside the FHIR API: `POST /admin/projects/{project_id}/invite`,
`POST /admin/projects/{project_id}/bot` and `POST /admin/projects/{project_id}/identity-providers`.

The rules live in `fireside.auth.invites`, `fireside.auth.bots` and
`fireside.auth.identity_providers`; these handlers
authenticate, parse and answer. Errors
are OperationOutcomes, like the FHIR API's, with the element path of a bad input.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import orjson
import psycopg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fireside.api.account_routes import mail_sender
from fireside.api.http import FHIR_JSON, authenticate, internal_error_response, outcome_response, read_body
from fireside.api.oauth_protection import source_address
from fireside.api.oauth_routes import _base, _fhir_base, _services
from fireside.auth.audit import AuditRecord
from fireside.auth.bots import create_bot, parse_bot
from fireside.auth.identity_providers import configure_identity_provider, parse_identity_provider
from fireside.auth.invites import Invitation, check_project_admin, invite, invite_mail, parse_invite, project_not_found
from fireside.auth.password_tokens import set_password_url
from fireside.fhir.errors import FhirError
from fireside.store import AccessContext, StoredResource

INVITE_PATH = "/admin/projects/{project_id}/invite"
BOT_PATH = "/admin/projects/{project_id}/bot"
IDENTITY_PROVIDERS_PATH = "/admin/projects/{project_id}/identity-providers"
_MAX_INVITE_BYTES = 64 * 1024
# Says whether the invited user was emailed: "sent", "not-sent" (no SMTP, or it failed: the log
# says which) or "not-requested" (sendEmail: false).
EMAIL_HEADER = "X-Fireside-Email"


async def invite_endpoint(request: Request) -> Response:
    services = _services(request)
    try:
        ctx = await authenticate(request, services)
        project_id = _project_id(request.path_params["project_id"])
        check_project_admin(ctx, project_id, "invite members")
        request_invite = parse_invite(await _json_body(request, "invite"))
        lifetime = timedelta(seconds=services.settings.invite_seconds)
        invitation = await invite(services.store, ctx, project_id, request_invite, lifetime)
    except FhirError as error:
        return outcome_response(error)
    except psycopg.errors.DataError:
        return outcome_response(FhirError.single("invalid", "A value in the request cannot be stored"))
    except Exception as error:
        return internal_error_response(error)
    email = "not-requested"
    if request_invite.send_email:
        email = "sent" if await _send_invite(request, invitation, lifetime) else "not-sent"
    return _created(request, ctx, project_id, "invite", invitation.enrolment.membership, {EMAIL_HEADER: email})


async def bot_endpoint(request: Request) -> Response:
    """Create a Bot and its membership; answers the Bot."""
    services = _services(request)
    try:
        ctx = await authenticate(request, services)
        project_id = _project_id(request.path_params["project_id"])
        check_project_admin(ctx, project_id, "create bots")
        created = await create_bot(services.store, project_id, parse_bot(await _json_body(request, "bot")))
    except FhirError as error:
        return outcome_response(error)
    except Exception as error:
        return internal_error_response(error)
    return _created(request, ctx, project_id, "create", created.bot)


def _created(request: Request, ctx: AccessContext, project_id: UUID, action: str, stored: StoredResource,
             headers: dict[str, str] | None = None) -> Response:
    """Audit `action` on `stored` and answer it as created (201, with its Location and ETag)."""
    _services(request).audit.record(AuditRecord(
        project_id=project_id, action=action, status=201, agent=ctx.author, client_id=ctx.client_id or None,
        source_address=source_address(request), entity=stored.reference,
    ))
    return Response(stored.content, status_code=201, media_type=FHIR_JSON, headers={
        "Location": f"{_fhir_base(request)}/{stored.reference}/_history/{stored.version_id}",
        "ETag": stored.etag,
        **(headers or {}),
    })


def _project_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError as error:
        raise project_not_found() from error


async def identity_provider_endpoint(request: Request) -> Response:
    """Add (or replace, by issuer) an external sign-in provider of the project; answers the Project,
    which never holds the client secret (fireside/auth/identity_providers.py)."""
    services = _services(request)
    try:
        ctx = await authenticate(request, services)
        if not ctx.super_admin:
            # Projects are written by super admins only: trusting a provider with emails is theirs to decide.
            raise FhirError.single("forbidden", "Only a super admin configures sign-in providers")
        project_id = _project_id(request.path_params["project_id"])
        provider, secret = parse_identity_provider(await _json_body(request, "provider"))
        stored = await configure_identity_provider(services.store, services.settings.resolve_secret_key(),
                                                   project_id, provider, secret)
    except FhirError as error:
        return outcome_response(error)
    except Exception as error:
        return internal_error_response(error)
    return Response(stored.content, status_code=200, media_type=FHIR_JSON, headers={"ETag": stored.etag})


async def _json_body(request: Request, what: str) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "application/fhir+json"):
        raise FhirError.single("not-supported", f"Send the {what} as application/json", status=415)
    body = await read_body(request, _MAX_INVITE_BYTES)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise FhirError.single("invalid", "The body is not valid JSON") from error


async def _send_invite(request: Request, invitation: Invitation, lifetime: timedelta) -> bool:
    token = invitation.password_token
    link = set_password_url(_base(request), token) if token else None
    return await mail_sender(_services(request).settings).send(invite_mail(invitation, link, lifetime))


def admin_routes() -> list[Route]:
    return [
        Route(INVITE_PATH, invite_endpoint, methods=["POST"]),
        Route(BOT_PATH, bot_endpoint, methods=["POST"]),
        Route(IDENTITY_PROVIDERS_PATH, identity_provider_endpoint, methods=["POST"]),
    ]
