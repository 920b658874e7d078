"""Password reset by emailed link: the same answer for every email, a link that works once and
expires, and a new password that ends every earlier sign-in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fireside.auth.lockout import LockoutPolicy, is_locked, record_failure
from fireside.store import ResourceStore
from tests.auth.conftest import PASSWORD, Identity, clinic_with_user, pkce_pair
from tests.auth.mail import MailSink
from tests.auth.test_audit import audit_events, subtype
from tests.conftest import RunningServer

EMAIL = "ana@clinic.example"
NEW_PASSWORD = "a fresh passphrase"


@pytest.fixture
def clinic(mail_server: RunningServer) -> Iterator[tuple[Identity, str]]:
    yield from clinic_with_user(mail_server, EMAIL)


def forgot(identity: Identity, email: str, as_json: bool = False) -> httpx.Response:
    url = identity.url("/oauth2/forgot-password")
    return httpx.post(url, json={"email": email}) if as_json else httpx.post(url, data={"email": email})


def set_password(identity: Identity, link: str, password: str) -> httpx.Response:
    return httpx.post(identity.url("/oauth2/set-password"),
                      data={"token": link.split("token=", 1)[1], "password": password, "confirm": password})


def can_sign_in(identity: Identity, client_id: str, password: str) -> bool:
    _, challenge = pkce_pair()
    form = identity.authorize(client_id, code_challenge=challenge, code_challenge_method="S256")
    return identity.submit(form, EMAIL, password).status_code == 303


def test_known_and_unknown_emails_get_the_same_answer_and_only_the_known_one_gets_mail(
        clinic: tuple[Identity, str], mail_sink: MailSink) -> None:
    identity, _ = clinic
    for as_json in (False, True):
        known, unknown = forgot(identity, EMAIL, as_json), forgot(identity, "nobody@clinic.example", as_json)
        assert (known.status_code, known.text) == (unknown.status_code, unknown.text) == (200, known.text)
    mail_sink.wait_for(EMAIL, count=2)
    time.sleep(0.3)
    assert mail_sink.to("nobody@clinic.example") == []
    assert "set-password?token=" in mail_sink.to(EMAIL)[0].body


def test_the_link_sets_the_password_once(clinic: tuple[Identity, str], mail_sink: MailSink) -> None:
    identity, client_id = clinic
    forgot(identity, EMAIL)
    link = mail_sink.wait_for(EMAIL).link()
    page = httpx.get(link)
    assert page.status_code == 200 and EMAIL in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert set_password(identity, link, NEW_PASSWORD).status_code == 200
    assert set_password(identity, link, "yet another passphrase").status_code == 400
    assert httpx.get(link).status_code == 400
    assert can_sign_in(identity, client_id, NEW_PASSWORD)
    assert not can_sign_in(identity, client_id, PASSWORD)


def test_an_expired_link_is_refused(clinic: tuple[Identity, str], mail_sink: MailSink) -> None:
    identity, client_id = clinic
    forgot(identity, EMAIL)
    link = mail_sink.wait_for(EMAIL).link()

    async def expire(store: ResourceStore) -> None:
        async with store.pool.connection() as conn:
            await conn.execute("UPDATE password_token SET expires_at = now() - interval '1 second'")

    identity.run(expire)
    assert httpx.get(link).status_code == 400
    assert set_password(identity, link, NEW_PASSWORD).status_code == 400
    assert can_sign_in(identity, client_id, PASSWORD)


def test_a_weak_or_mismatched_password_shows_the_form_again_and_keeps_the_link(
        clinic: tuple[Identity, str], mail_sink: MailSink) -> None:
    identity, _ = clinic
    forgot(identity, EMAIL)
    link = mail_sink.wait_for(EMAIL).link()
    token = link.split("token=", 1)[1]
    url = identity.url("/oauth2/set-password")
    for form in ({"password": "short"}, {"password": EMAIL}, {"password": NEW_PASSWORD, "confirm": "different!"}):
        answer = httpx.post(url, data={"token": token, **form})
        assert answer.status_code == 400 and 'name="token"' in answer.text
    assert set_password(identity, link, NEW_PASSWORD).status_code == 200


def test_a_reset_revokes_existing_refresh_and_access_tokens(clinic: tuple[Identity, str], mail_sink: MailSink) -> None:
    identity, client_id = clinic
    tokens = identity.exchange(client_id, identity.sign_in(client_id, EMAIL))
    forgot(identity, EMAIL)
    assert set_password(identity, mail_sink.wait_for(EMAIL).link(), NEW_PASSWORD).status_code == 200
    refreshed = identity.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id)
    assert refreshed.json()["error"] == "invalid_grant"
    with identity.fhir(tokens["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 401


def test_a_reset_clears_the_lockout(clinic: tuple[Identity, str], mail_sink: MailSink) -> None:
    identity, client_id = clinic
    assert identity.run(lambda store: record_failure(store, EMAIL, LockoutPolicy(failures=1)))
    assert not can_sign_in(identity, client_id, PASSWORD)
    forgot(identity, EMAIL)
    assert set_password(identity, mail_sink.wait_for(EMAIL).link(), NEW_PASSWORD).status_code == 200
    assert not identity.run(lambda store: is_locked(store, EMAIL))
    assert can_sign_in(identity, client_id, NEW_PASSWORD)


def test_reset_requests_are_rate_limited_per_email_whether_or_not_it_exists(clinic: tuple[Identity, str]) -> None:
    identity, _ = clinic
    for email in (EMAIL, "nobody@clinic.example"):
        statuses = [forgot(identity, email).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("body", [{}, {"email": 3}, {"email": "no-at-sign"}, {"email": "a\u0000@b.example"},
                                  [EMAIL]])
def test_a_bad_json_request_is_a_400_operation_outcome(clinic: tuple[Identity, str], body: Any) -> None:
    identity, _ = clinic
    answer = httpx.post(identity.url("/oauth2/forgot-password"), json=body)
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"] == ["email"]


def test_the_request_and_the_new_password_are_audited(clinic: tuple[Identity, str], mail_sink: MailSink,
                                                      mail_server: RunningServer) -> None:
    identity, _ = clinic
    forgot(identity, EMAIL)
    assert set_password(identity, mail_sink.wait_for(EMAIL).link(), NEW_PASSWORD).status_code == 200
    with mail_server.fhir_client() as admin:  # a client of the admin project: sees its AuditEvents
        events = audit_events(admin, lambda found: any(subtype(e) == "password-reset" for e in found))
    [request] = [e for e in events if subtype(e) == "password-reset"]
    assert request["agent"][0]["altId"] == EMAIL and request["outcome"] == "0"
    assert not any(subtype(e) == "password-set" for e in events)  # that one is in the user's project
