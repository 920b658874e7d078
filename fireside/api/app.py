"""The ASGI application: `create_app(settings, database_url)` wires every route and service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fireside.api.http import fhir_endpoint
from fireside.api.oauth import jwks_endpoint, token_endpoint
from fireside.api.services import Services
from fireside.api.wiring import build_search, build_validator
from fireside.auth import (
    TokenService,
    active_signing_key,
    ensure_admin_project,
    ensure_super_admin,
    public_keys,
)
from fireside.config import FHIR_BASE_PATH, Settings
from fireside.fhir import load_definitions
from fireside.store import ResourceStore, open_pool

FHIR_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def load_token_service(settings: Settings, database_url: str) -> TokenService:
    with psycopg.connect(database_url, autocommit=False) as conn:
        signing_key = active_signing_key(conn, settings.resolve_secret_key())
        conn.commit()
        jwks = public_keys(conn)
    return TokenService(settings.base_url, signing_key, jwks, settings.access_token_seconds)


async def healthcheck(request: Request) -> Response:
    services: Services = request.app.state.services
    async with services.store.pool.connection() as conn:
        await conn.execute("SELECT 1")
    return JSONResponse({"ok": True, "postgres": True})


def _endpoints(request: Request) -> dict[str, Any]:
    """What both discovery documents say about where to get and check tokens."""
    services: Services = request.app.state.services
    base = services.settings.public_url or str(request.base_url).rstrip("/")
    return {
        "issuer": services.tokens.issuer,
        "token_endpoint": f"{base}/oauth2/token",
        "jwks_uri": f"{base}/oauth2/jwks",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


async def openid_configuration(request: Request) -> Response:
    return JSONResponse({
        **_endpoints(request),
        "id_token_signing_alg_values_supported": ["ES256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
    })


async def smart_configuration(request: Request) -> Response:
    return JSONResponse({
        **_endpoints(request),
        "scopes_supported": ["system/*.*"],
        "capabilities": ["client-confidential-symmetric"],
    })


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The server for `database_url`, which must already be migrated."""
    token_service = load_token_service(settings, database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        definitions = load_definitions()
        pool = await open_pool(database_url, max_size=settings.pool_size)
        indexer, search = build_search(pool, definitions)
        store = ResourceStore(pool, indexer)
        app.state.services = Services(
            settings=settings,
            definitions=definitions,
            store=store,
            tokens=token_service,
            validator=build_validator(definitions),
            search=search,
        )
        await ensure_admin_project(store)
        if settings.admin_email and settings.admin_password:
            await ensure_super_admin(store, settings.admin_email, settings.admin_password)
        try:
            yield {}
        finally:
            await pool.close()

    routes = [
        Route("/healthcheck", healthcheck, methods=["GET"]),
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
        Route(f"{FHIR_BASE_PATH}/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
        Route("/oauth2/token", token_endpoint, methods=["POST"]),
        Route("/oauth2/jwks", jwks_endpoint, methods=["GET"]),
        Route(FHIR_BASE_PATH, fhir_endpoint, methods=FHIR_METHODS),
        Route(FHIR_BASE_PATH + "/{path:path}", fhir_endpoint, methods=FHIR_METHODS),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
