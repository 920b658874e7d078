"""Sign-in through an external OpenID Connect provider: a second Fireside, on its own database,
is the provider, over real HTTP; the browser's redirects are followed by hand. The provider's
account (issuer, sub) is linked to the user at the first sign-in and decides from then on."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
import jwt
import orjson
import psycopg
import pytest

from fireside.auth.oidc_client import ProviderError, discover, verify_id_token
from fireside.auth.outbound import OutboundPolicy
from fireside.auth.passwords import hash_client_secret, new_client_secret
from fireside.auth.projects import system_context
from fireside.store import ResourceStore, new_resource_id
from tests.auth.conftest import PASSWORD, REDIRECT_URI, Identity, claims_of, form_token, pkce_pair, redirect_query
from tests.auth.mail import MailSink
from tests.auth.test_audit import audit_events, subtype
from tests.conftest import RunningServer, _create_database, _drop_database, start_server, unshared_port

EMAIL = "ana@clinic.example"
# The provider is on this machine: what the test servers allow (tests/conftest.py).
LOOPBACK = OutboundPolicy.allowing(["127.0.0.1"])
NEW_PASSWORD = "a brand new passphrase"
CALLBACK_PATH = "/oauth2/idp/callback"


@dataclass
class Provider:
    """The second Fireside as the OpenID Connect provider: its issuer, and our client there."""

    identity: Identity
    project_id: UUID
    client_id: str
    client_secret: str
    server: Any  # the uvicorn server, to take the provider down

    def stop(self) -> None:
        self.server.should_exit = True

    @property
    def issuer(self) -> str:
        return self.identity.server.base_url

    def verified_user(self, email: str, mail_sink: MailSink) -> None:
        """A user of the provider who proved their email by setting the password through a link."""
        self.identity.user(self.project_id, email)
        assert httpx.post(self.identity.url("/oauth2/forgot-password"), data={"email": email}).status_code == 200
        link = mail_sink.wait_for(email).link()
        answer = httpx.post(self.identity.url("/oauth2/set-password"),
                            data={"token": link.split("token=", 1)[1], "password": NEW_PASSWORD,
                                  "confirm": NEW_PASSWORD})
        assert answer.status_code == 200, answer.text

    def change_email(self, old: str, new: str) -> None:
        """The provider's account with `old` now has `new` (still verified: the same account)."""
        with psycopg.connect(self.identity.server.database_url) as conn:
            changed = conn.execute("UPDATE user_credential SET email = %s WHERE email = %s", [new, old])
            assert changed.rowcount == 1

    def subject(self, email: str) -> str:
        """The `sub` the provider gives the account with `email`."""
        with psycopg.connect(self.identity.server.database_url) as conn:
            row = conn.execute("SELECT user_id FROM user_credential WHERE email = %s", [email]).fetchone()
        assert row is not None
        return str(row[0])


@pytest.fixture
def provider(postgres_admin_url: str, template_database: str, tmp_path: Path, identity: Identity,
             mail_sink: MailSink) -> Iterator[Provider]:
    name = f"fireside_idp_{uuid.uuid4().hex[:12]}"
    database_url = _create_database(postgres_admin_url, name, template=template_database)
    # Bound first: the provider's public URL is its issuer, named in its discovery document.
    listen = socket.socket()
    listen.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listen.getsockname()[1]}"
    uvicorn_server, thread, _ = start_server(database_url, tmp_path / "idp", listen=listen, public_url=base_url,
                                             smtp_host="127.0.0.1", smtp_port=mail_sink.port, smtp_starttls=False)
    running = RunningServer(base_url, database_url, identity.server.settings)
    helper = Identity(running)
    project_id = helper.project("Identity provider")
    client_id, secret = _confidential_client(helper, project_id, [identity.url(CALLBACK_PATH), REDIRECT_URI])
    yield Provider(helper, project_id, client_id, secret, uvicorn_server)
    helper.browser.close()
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    listen.close()
    _drop_database(postgres_admin_url, name)


def _confidential_client(helper: Identity, project_id: UUID, redirect_uris: list[str]) -> tuple[str, str]:
    client_id, secret = new_resource_id(), new_client_secret()

    async def put(store: ResourceStore) -> None:
        async with store.transaction(system_context(project_id)) as unit:
            unit.stage_put({"resourceType": "ClientApplication", "name": "Clinic's Fireside",
                            "redirectUri": redirect_uris}, client_id, None)
            await unit.conn.execute(
                "INSERT INTO client_secret (project_id, client_id, secret_hash) VALUES (%s, %s, %s)",
                [project_id, client_id, hash_client_secret(secret)])

    helper.run(put)
    return client_id, secret


@dataclass
class Clinic:
    """Our side: a project whose members may sign in with the provider, and a public SMART app."""

    project_id: UUID
    app_id: str
    admin_token: str


def configure(identity: Identity, project_id: UUID, provider: Provider, **elements: Any) -> httpx.Response:
    return httpx.post(identity.url(f"/admin/projects/{project_id}/identity-providers"),
                      headers={"Authorization": f"Bearer {_super_admin_token(identity)}"},
                      json={"name": "Other Fireside", "issuer": provider.issuer, "clientId": provider.client_id,
                            "clientSecret": provider.client_secret, **elements})


def _super_admin_token(identity: Identity) -> str:
    return identity.server.token(identity.server.create_client())


def clinic(identity: Identity, provider: Provider, **elements: Any) -> Clinic:
    project_id = identity.project("Clinic")
    answer = configure(identity, project_id, provider, **elements)
    assert answer.status_code == 200, answer.text
    return Clinic(project_id, identity.client_application(project_id), _super_admin_token(identity))


@dataclass
class Journey:
    """A federated sign-in up to the provider's answer to our callback (not yet followed)."""

    callback: str
    verifier: str


def to_provider(identity: Identity, app_id: str) -> tuple[httpx.Response, str]:
    """Open the app's sign-in page and pick the provider: the redirect to it, and the PKCE verifier."""
    verifier, challenge = pkce_pair()
    page = identity.authorize(app_id, code_challenge=challenge, code_challenge_method="S256",
                              scope="openid fhirUser user/*.rs")
    assert page.status_code == 200 and "Sign in with Other Fireside" in page.text, page.text
    button = re.search(r'<form method="post" action="([^"]+)" class="provider">.*?name="form_token" value="([^"]+)"'
                       r'.*?name="provider" value="([^"]+)"', page.text)
    assert button, page.text
    action, token, issuer = button.groups()
    return identity.browser.post(identity.url(action), data={"form_token": token, "provider": issuer}), verifier


def at_provider(identity: Identity, provider: Provider, app_id: str, email: str,
                password: str = NEW_PASSWORD) -> Journey:
    """Through the provider's own sign-in form, to the redirect back to our callback."""
    redirect, verifier = to_provider(identity, app_id)
    assert redirect.status_code == 303, redirect.text
    location = redirect.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(provider.issuer + "/oauth2/authorize?")
    assert query["scope"] == ["openid email profile"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [identity.url(CALLBACK_PATH)] and query["nonce"] and query["state"]
    login_page = identity.browser.get(location)
    assert login_page.status_code == 200, login_page.text
    answer = identity.browser.post(provider.identity.url("/oauth2/authorize"),
                                   data={"form_token": form_token(login_page), "email": email, "password": password})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(identity.url(CALLBACK_PATH))
    return Journey(answer.headers["location"], verifier)


def test_a_member_signs_in_with_the_provider_and_the_app_reads_its_project(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user(EMAIL, mail_sink)
    ours = clinic(identity, provider)
    user_id = identity.user(ours.project_id, EMAIL)
    patient = _patient(identity, ours.project_id)
    journey = at_provider(identity, provider, ours.app_id, EMAIL)
    back = identity.browser.get(journey.callback)
    assert back.status_code == 303, back.text
    query = redirect_query(back)
    assert query["state"] == "xyz" and "error" not in query
    answer = identity.token(grant_type="authorization_code", code=query["code"], redirect_uri=REDIRECT_URI,
                            client_id=ours.app_id, code_verifier=journey.verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert claims_of(tokens["access_token"])["sub"] == f"User/{user_id}"
    assert claims_of(tokens["id_token"])["sub"] == user_id
    with identity.fhir(tokens["access_token"]) as fhir:
        assert fhir.get(f"/Patient/{patient}").status_code == 200
        logins = fhir.get("/Login").json()
    assert [e["resource"]["user"]["reference"] for e in logins.get("entry", [])] == [f"User/{user_id}"]
    assert _login_audits(identity, ours.project_id) == ["0"]


def test_an_email_with_no_account_in_the_project_is_refused_with_access_denied(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user("stranger@elsewhere.example", mail_sink)
    ours = clinic(identity, provider)
    identity.user(ours.project_id, EMAIL)
    journey = at_provider(identity, provider, ours.app_id, "stranger@elsewhere.example")
    query = redirect_query(identity.browser.get(journey.callback))
    assert query["error"] == "access_denied" and query["state"] == "xyz" and "code" not in query
    assert "No account" in query["error_description"]
    assert not _user_exists(identity, "stranger@elsewhere.example")


def test_a_provider_that_may_create_users_makes_a_patient_member_at_first_sign_in(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user("new@clinic.example", mail_sink)
    ours = clinic(identity, provider, createUsers=True, allowedDomain=["clinic.example"])
    journey = at_provider(identity, provider, ours.app_id, "new@clinic.example")
    query = redirect_query(identity.browser.get(journey.callback))
    tokens = identity.token(grant_type="authorization_code", code=query["code"], redirect_uri=REDIRECT_URI,
                            client_id=ours.app_id, code_verifier=journey.verifier).json()
    assert claims_of(tokens["id_token"])["fhirUser"].startswith(identity.server.fhir_url + "/Patient/")
    assert _user_exists(identity, "new@clinic.example")


def test_an_email_outside_the_allowed_domains_is_refused(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user(EMAIL, mail_sink)
    ours = clinic(identity, provider, allowedDomain=["hospital.example"])
    identity.user(ours.project_id, EMAIL)
    query = redirect_query(identity.browser.get(at_provider(identity, provider, ours.app_id, EMAIL).callback))
    assert query["error"] == "access_denied" and "domain" in query["error_description"]


def test_an_email_the_provider_has_not_verified_is_refused(identity: Identity, provider: Provider) -> None:
    provider.identity.user(provider.project_id, EMAIL)  # a password set by an admin proves no email
    ours = clinic(identity, provider)
    identity.user(ours.project_id, EMAIL)
    journey = at_provider(identity, provider, ours.app_id, EMAIL, PASSWORD)
    query = redirect_query(identity.browser.get(journey.callback))
    assert query["error"] == "access_denied" and "not verified" in query["error_description"]


def test_a_wrong_replayed_or_foreign_state_is_refused_with_a_page(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user(EMAIL, mail_sink)
    ours = clinic(identity, provider)
    identity.user(ours.project_id, EMAIL)
    journey = at_provider(identity, provider, ours.app_id, EMAIL)
    wrong = re.sub(r"state=[^&]+", "state=made-up", journey.callback)
    assert identity.browser.get(wrong).status_code == 400
    with httpx.Client(timeout=30) as other_browser:  # the right state, in a browser that did not start it
        foreign = other_browser.get(journey.callback)
    assert foreign.status_code == 400 and "start again" in foreign.text
    # The foreign attempt spent the state: the rightful browser must start again too.
    assert identity.browser.get(journey.callback).status_code == 400
    journey = at_provider(identity, provider, ours.app_id, EMAIL)
    assert identity.browser.get(journey.callback).status_code == 303
    replay = identity.browser.get(journey.callback)
    assert replay.status_code == 400 and "location" not in replay.headers


def test_the_id_token_check_refuses_another_audience_a_tampered_token_and_a_wrong_nonce(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user(EMAIL, mail_sink)
    sign_in = provider.identity.sign_in(provider.client_id, EMAIL, NEW_PASSWORD, scope="openid email",
                                        nonce="n-1")
    answer = httpx.post(provider.identity.url("/oauth2/token"), auth=(provider.client_id, provider.client_secret),
                        data={"grant_type": "authorization_code", "code": sign_in.code,
                              "redirect_uri": REDIRECT_URI, "code_verifier": sign_in.verifier})
    id_token = answer.json()["id_token"]
    assert claims_of(id_token)["email_verified"] is True

    async def check(token: str, audience: str, nonce: str) -> str:
        metadata = await discover(provider.issuer, LOOPBACK)
        return (await verify_id_token(metadata, audience, token, nonce, LOOPBACK)).email

    assert asyncio.run(check(id_token, provider.client_id, "n-1")) == EMAIL
    with pytest.raises(ProviderError, match="allow-list"):  # by default, only public https hosts
        asyncio.run(discover(provider.issuer))
    header, _, signature = id_token.split(".")
    claims = {**claims_of(id_token), "email": "admin@clinic.example"}
    forged_payload = base64.urlsafe_b64encode(orjson.dumps(claims)).decode().rstrip("=")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token, audience, nonce in [
        (id_token, "another-client", "n-1"),
        (id_token, provider.client_id, "n-2"),
        (f"{header}.{forged_payload}.{signature}", provider.client_id, "n-1"),
        (unsigned, provider.client_id, "n-1"),
    ]:
        with pytest.raises(ProviderError):
            asyncio.run(check(token, audience, nonce))


def test_an_unreachable_provider_shows_the_form_again_and_the_password_still_works(
    identity: Identity, provider: Provider
) -> None:
    ours = clinic(identity, provider)
    identity.user(ours.project_id, EMAIL)
    nowhere = f"http://127.0.0.1:{unshared_port()}"
    _set_issuer(identity, ours.project_id, nowhere)
    page, _ = to_provider(identity, ours.app_id)
    assert page.status_code == 502 and "cannot be reached" in page.text
    answer = identity.submit(page, EMAIL, PASSWORD)
    assert answer.status_code == 303 and "code" in redirect_query(answer)


def test_a_provider_gone_at_the_callback_gives_the_app_temporarily_unavailable(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user(EMAIL, mail_sink)
    ours = clinic(identity, provider)
    identity.user(ours.project_id, EMAIL)
    journey = at_provider(identity, provider, ours.app_id, EMAIL)
    provider.stop()
    _wait_until_closed(provider.issuer)
    query = redirect_query(identity.browser.get(journey.callback))
    assert query["error"] == "temporarily_unavailable" and query["state"] == "xyz"


def test_the_client_secret_is_never_in_a_fhir_read_of_the_project(identity: Identity, provider: Provider) -> None:
    ours = clinic(identity, provider, allowedDomain=["clinic.example"])
    identity.user(ours.project_id, EMAIL, admin=True)
    tokens = identity.exchange(ours.app_id, identity.sign_in(ours.app_id, EMAIL))
    with identity.fhir(tokens["access_token"]) as member:
        project = member.get(f"/Project/{ours.project_id}")
        history = member.get(f"/Project/{ours.project_id}/_history")
        assert project.status_code == 200 and history.status_code == 200
        assert project.json()["identityProvider"] == [{"name": "Other Fireside", "issuer": provider.issuer,
                                                       "clientId": provider.client_id,
                                                       "allowedDomain": ["clinic.example"]}]
        for text in (project.text, history.text):
            assert provider.client_secret not in text and "secret" not in text.lower()
        # Nor can it be an element: the definition has no place for it.
        smuggled = {**project.json(), "identityProvider": [{**project.json()["identityProvider"][0],
                                                            "clientSecret": "in the open"}]}
        outcome = member.post("/Project/$validate", json=smuggled).json()
    assert any(issue["severity"] == "error" and "clientSecret" in str(issue) for issue in outcome["issue"]), outcome
    with psycopg.connect(identity.server.database_url) as conn:
        sealed = conn.execute("SELECT secret_encrypted FROM identity_provider_secret").fetchone()
    assert sealed is not None and provider.client_secret.encode() not in bytes(sealed[0])


def test_only_a_super_admin_configures_a_provider(identity: Identity, provider: Provider) -> None:
    project_id = identity.project("Clinic")
    identity.user(project_id, EMAIL, admin=True)
    app_id = identity.client_application(project_id)
    tokens = identity.exchange(app_id, identity.sign_in(app_id, EMAIL))
    answer = httpx.post(identity.url(f"/admin/projects/{project_id}/identity-providers"),
                        headers={"Authorization": f"Bearer {tokens['access_token']}"},
                        json={"name": "Mine", "issuer": provider.issuer, "clientId": "x", "clientSecret": "y"})
    assert answer.status_code == 403
    assert "Sign in with" not in identity.authorize(app_id).text


def federated_user(identity: Identity, provider: Provider, app_id: str, email: str) -> str:
    """Sign in to the app through the provider as `email` there; the user id the app's tokens name."""
    journey = at_provider(identity, provider, app_id, email)
    query = redirect_query(identity.browser.get(journey.callback))
    assert "code" in query, query
    tokens = identity.token(grant_type="authorization_code", code=query["code"], redirect_uri=REDIRECT_URI,
                            client_id=app_id, code_verifier=journey.verifier).json()
    user_id: str = claims_of(tokens["id_token"])["sub"]
    return user_id


def _links(identity: Identity) -> list[tuple[str, str, str]]:
    with psycopg.connect(identity.server.database_url) as conn:
        rows = conn.execute("SELECT issuer, subject, user_id FROM federated_identity").fetchall()
    return [(str(row[0]), str(row[1]), str(row[2])) for row in rows]


def test_an_email_changed_at_the_provider_still_signs_in_the_linked_user(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user(EMAIL, mail_sink)
    ours = clinic(identity, provider)
    user_id = identity.user(ours.project_id, EMAIL)
    assert federated_user(identity, provider, ours.app_id, EMAIL) == user_id
    assert _links(identity) == [(provider.issuer, provider.subject(EMAIL), user_id)]
    provider.change_email(EMAIL, "ana.new@clinic.example")
    # No account here has the new email: the link finds the user.
    assert federated_user(identity, provider, ours.app_id, "ana.new@clinic.example") == user_id
    assert len(_links(identity)) == 1


def test_another_provider_account_presenting_a_linked_email_is_refused_and_audited(
    identity: Identity, provider: Provider, mail_sink: MailSink
) -> None:
    provider.verified_user(EMAIL, mail_sink)
    provider.verified_user("other@clinic.example", mail_sink)
    ours = clinic(identity, provider)
    user_id = identity.user(ours.project_id, EMAIL)
    assert federated_user(identity, provider, ours.app_id, EMAIL) == user_id
    # The provider hands the address to another of its accounts.
    provider.change_email(EMAIL, "ana.old@clinic.example")
    provider.change_email("other@clinic.example", EMAIL)
    journey = at_provider(identity, provider, ours.app_id, EMAIL)
    query = redirect_query(identity.browser.get(journey.callback))
    assert query["error"] == "access_denied" and query["state"] == "xyz" and "code" not in query
    assert "linked to another Other Fireside account" in query["error_description"]
    admin = identity.server.fhir_client()
    events = audit_events(admin, lambda found: any(subtype(e) == "110122" for e in found))
    [failure] = [e for e in events if subtype(e) == "110122"]
    assert failure["outcome"] == "4" and failure["agent"][0]["altId"] == EMAIL
    assert [link[2] for link in _links(identity)] == [user_id]
    # The account first linked still signs in, under its new address.
    assert federated_user(identity, provider, ours.app_id, "ana.old@clinic.example") == user_id


def _patient(identity: Identity, project_id: UUID) -> str:
    patient_id = new_resource_id()

    async def put(store: ResourceStore) -> None:
        async with store.transaction(system_context(project_id)) as unit:
            unit.stage_put({"resourceType": "Patient", "name": [{"family": "Federated"}]}, patient_id, None)

    identity.run(put)
    return patient_id


def _user_exists(identity: Identity, email: str) -> bool:
    with psycopg.connect(identity.server.database_url) as conn:
        return conn.execute("SELECT 1 FROM user_credential WHERE email = %s", [email]).fetchone() is not None


def _login_audits(identity: Identity, project_id: UUID) -> list[str]:
    """Outcomes of the sign-in AuditEvents in the project, once the store sink wrote them."""
    for _ in range(100):
        with psycopg.connect(identity.server.database_url) as conn:
            rows = conn.execute(
                "SELECT content FROM resource WHERE project_id = %s AND resource_type = 'AuditEvent'"
                " AND fireside_content_jsonb(content) -> 'subtype' -> 0 ->> 'code' = '110122'", [project_id]).fetchall()
        if rows:
            return [orjson.loads(row[0])["outcome"] for row in rows]
        time.sleep(0.1)
    return []


def _set_issuer(identity: Identity, project_id: UUID, issuer: str) -> None:
    async def change(store: ResourceStore) -> None:
        async with store.transaction(system_context(project_id)) as unit:
            stored = await unit.read("Project", str(project_id))
            assert stored is not None
            project = stored.resource()
            project["identityProvider"][0]["issuer"] = issuer
            unit.stage_put(project, str(project_id), stored)

    identity.run(change)


def _wait_until_closed(base_url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(base_url + "/healthcheck", timeout=1)
        except httpx.TransportError:
            return
        time.sleep(0.1)
    raise AssertionError("the provider did not stop")
