"""Identity fixtures: projects, client applications, users and memberships made directly in the
database (as an admin tool would), and a browser-like sign-in driven by hand with httpx."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
import orjson
import pytest

from fireside.auth import add_membership, create_project, create_user
from fireside.auth.projects import system_context
from fireside.store import ResourceStore, new_resource_id, open_pool
from tests.auth.mail import MailSink, start_mail_sink
from tests.conftest import RunningServer, running_server

T = TypeVar("T")
REDIRECT_URI = "https://app.example/callback"
PASSWORD = "correct horse battery staple"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass
class SignIn:
    """The result of a sign-in at /oauth2/authorize: the code and the PKCE verifier it needs."""

    code: str
    verifier: str
    state: str | None


@dataclass
class Identity:
    server: RunningServer
    browser: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def run(self, work: Callable[[ResourceStore], Awaitable[T]]) -> T:
        async def main() -> T:
            pool = await open_pool(self.server.database_url, max_size=2)
            try:
                return await work(ResourceStore(pool))
            finally:
                await pool.close()

        return asyncio.run(main())

    def project(self, name: str) -> UUID:
        return self.run(lambda store: create_project(store, name))

    def client_application(self, project_id: UUID, **elements: Any) -> str:
        """A ClientApplication with no secret: public, or keyed when `jwks`/`jwksUri` is given."""
        client_id = new_resource_id()
        resource = {"resourceType": "ClientApplication", "name": "Test app", "redirectUri": [REDIRECT_URI],
                    **elements}

        async def put(store: ResourceStore) -> None:
            async with store.transaction(system_context(project_id)) as unit:
                unit.stage_put(resource, client_id, None)

        self.run(put)
        return client_id

    def user(self, project_id: UUID, email: str, admin: bool = False, profile: str | None = None) -> str:
        """A user of `project_id` with the password PASSWORD."""

        async def make(store: ResourceStore) -> str:
            account = await create_user(store, project_id, email, PASSWORD)
            await add_membership(store, project_id, account.reference, admin=admin, profile=profile)
            return account.id

        return self.run(make)

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def authorize(self, client_id: str, **params: str) -> httpx.Response:
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
                 "scope": "openid fhirUser offline_access", "state": "xyz", **params}
        return self.browser.get(self.url("/oauth2/authorize"), params=query)

    def sign_in(self, client_id: str, email: str, password: str = PASSWORD, **params: str) -> SignIn:
        verifier, challenge = pkce_pair()
        form = self.authorize(client_id, code_challenge=challenge, code_challenge_method="S256", **params)
        assert form.status_code == 200, form.text
        answer = self.submit(form, email, password)
        assert answer.status_code == 303, answer.text
        query = redirect_query(answer)
        return SignIn(query["code"], verifier, query.get("state"))

    def submit(self, form_page: httpx.Response, email: str, password: str) -> httpx.Response:
        return self.browser.post(self.url("/oauth2/authorize"),
                                 data={"form_token": form_token(form_page), "email": email, "password": password})

    def token(self, **form: str) -> httpx.Response:
        return httpx.post(self.url("/oauth2/token"), data=form)

    def exchange(self, client_id: str, sign_in: SignIn) -> dict[str, Any]:
        response = self.token(grant_type="authorization_code", code=sign_in.code, redirect_uri=REDIRECT_URI,
                              client_id=client_id, code_verifier=sign_in.verifier)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def fhir(self, access_token: str) -> httpx.Client:
        return httpx.Client(base_url=self.server.fhir_url, timeout=30,
                            headers={"Authorization": f"Bearer {access_token}"})


def form_token(page: httpx.Response) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def clinic_with_user(server: RunningServer, email: str) -> Iterator[tuple[Identity, str]]:
    """A browser and a client of a new project with the user `email` (password PASSWORD), for a
    fixture to `yield from`."""
    identity = Identity(server)
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, email)
    yield identity, client_id
    identity.browser.close()


@pytest.fixture
def identity(server: RunningServer) -> Iterator[Identity]:
    helper = Identity(server)
    yield helper
    helper.browser.close()


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    """A real SMTP server on a free local port, keeping every message."""
    sink, controller = start_mail_sink()
    yield sink
    controller.stop()


@pytest.fixture
def mail_server(database_url: str, tmp_path: Path, mail_sink: MailSink) -> Iterator[RunningServer]:
    """A Fireside server that sends its email to `mail_sink` (plain SMTP: no STARTTLS locally)."""
    with running_server(database_url, tmp_path, smtp_host="127.0.0.1", smtp_port=mail_sink.port,
                        smtp_starttls=False, smtp_from="fireside@test.example") as running:
        yield running
