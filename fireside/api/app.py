"""The ASGI application: `create_app(settings, database_url)` wires every route and service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fireside.api.account_routes import account_routes
from fireside.api.admin_routes import admin_routes
from fireside.api.cors import CorsMiddleware
from fireside.api.federation_routes import federation_routes
from fireside.api.http import fhir_endpoint
from fireside.api.launch_routes import launch_routes
from fireside.api.mfa_routes import mfa_routes
from fireside.api.oauth_routes import oauth_routes
from fireside.api.services import Services
from fireside.api.wiring import background_work, build_search, build_validator
from fireside.auth import (
    KeyPolicy,
    RevocationList,
    SigningKeyRing,
    TokenService,
    ensure_admin_project,
    ensure_super_admin,
)
from fireside.auth.audit import SINK_KINDS, open_audit_sink
from fireside.auth.changes import listen_for_access_changes
from fireside.auth.logins import REFRESH_LIFETIME
from fireside.auth.policies import AccessResolver
from fireside.auth.projects import system_context
from fireside.config import FHIR_BASE_PATH, Settings
from fireside.fhir import load_definitions
from fireside.store import ResourceStore, open_pool
from fireside.store.indexing import SearchIndexer
from fireside.store.resources import NoIndex

FHIR_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def key_policy(settings: Settings) -> KeyPolicy:
    """A retired key verifies as long as any token it signed may be used: an access token for its
    lifetime, and an ID token for its Login's (RP-Initiated Logout accepts an expired ID token as
    `id_token_hint`; a Login lives as long as its refresh tokens)."""
    retention = max(settings.access_token_seconds, int(REFRESH_LIFETIME.total_seconds()))
    return KeyPolicy(settings.key_rotation_days, retention)


def signing_key_ring(settings: Settings) -> SigningKeyRing:
    """The server's signing keys, unread until opened on a store (the app's lifespan opens them)."""
    return SigningKeyRing(settings.resolve_secret_key(), key_policy(settings), settings.key_recheck_seconds)


async def read_signing_keys(settings: Settings, database_url: str, rotate: bool = False) -> SigningKeyRing:
    """The keys, read once on a pool of their own (made, rotated with `rotate`, removed as due):
    for `fireside keys rotate` and for signing outside a server. Not re-read later."""
    keys = signing_key_ring(settings)
    pool = await open_pool(database_url, min_size=1, max_size=2)
    try:
        # With the server's indexer, so that the JsonWebKey resources written here are indexed
        # as the server's own writes are.
        store = ResourceStore(pool, SearchIndexer(load_definitions()))
        await keys.open(store, system_context(await ensure_admin_project(store)), rotate=rotate)
    finally:
        await pool.close()
    return keys


def load_token_service(settings: Settings, database_url: str) -> TokenService:
    """A token service with the database's keys, for signing outside a server (tests, benchmarks)."""
    keys = asyncio.run(read_signing_keys(settings, database_url))
    return TokenService(settings.base_url, keys, settings.access_token_seconds)


async def healthcheck(request: Request) -> Response:
    services: Services = request.app.state.services
    async with services.store.pool.connection() as conn:
        await conn.execute("SELECT 1")
    return JSONResponse({"ok": True, "postgres": True})


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The server for `database_url`, which must already be migrated."""
    if settings.audit not in SINK_KINDS:
        raise ValueError(f"FIRESIDE_AUDIT must be one of {', '.join(SINK_KINDS)}; got {settings.audit!r}")
    token_service = TokenService(settings.base_url, signing_key_ring(settings), settings.access_token_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        definitions = load_definitions()
        pool = await open_pool(database_url, max_size=settings.pool_size)
        indexer, search = build_search(pool, definitions)
        store = ResourceStore(pool, indexer if settings.search_indexing else NoIndex(), search.guard)
        token_service.revocations = RevocationList(pool)
        app.state.services = Services(
            settings=settings,
            definitions=definitions,
            store=store,
            tokens=token_service,
            validator=build_validator(definitions),
            search=search,
            access=AccessResolver(store),
        )
        app.state.services.admin_project_id = await ensure_admin_project(store)
        # Before serving: every token needs the keys, and their JsonWebKey resources belong to
        # the admin project. A secret key that cannot open the active key stops the start here.
        await token_service.keys.open(store, system_context(app.state.services.admin_project_id))
        audit = open_audit_sink(settings.audit, store, settings.audit_batch_size, settings.audit_flush_seconds)
        app.state.services.audit = audit
        await audit.start()
        if settings.admin_email and settings.admin_password:
            await ensure_super_admin(store, settings.admin_email, settings.admin_password)
        key_refresher = asyncio.create_task(token_service.keys.keep_fresh())
        change_listener = asyncio.create_task(listen_for_access_changes(
            database_url, app.state.services.access, token_service.revocations))
        try:
            async with background_work(database_url, pool, indexer) as jobs:
                app.state.services.jobs = jobs
                yield {}
        finally:
            for task in (key_refresher, change_listener):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await audit.close()
            await pool.close()

    routes = [
        Route("/healthcheck", healthcheck, methods=["GET"]),
        *oauth_routes(),
        *federation_routes(),
        *launch_routes(),
        *account_routes(),
        *admin_routes(),
        *mfa_routes(),
        Route(FHIR_BASE_PATH, fhir_endpoint, methods=FHIR_METHODS),
        Route(FHIR_BASE_PATH + "/{path:path}", fhir_endpoint, methods=FHIR_METHODS),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(CorsMiddleware)])
