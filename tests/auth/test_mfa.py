"""TOTP second factor (RFC 6238): a user turns it on with a code, then signs in with password and
code; a wrong code is refused, counted toward the lock-out and audited; a code works once; the
step cannot be skipped; a current code turns it off. Recovery codes stand in for a code, once
each; turning TOTP on and off is audited."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pyotp
import pytest

from tests.auth.conftest import (
    PASSWORD,
    REDIRECT_URI,
    Identity,
    SignIn,
    claims_of,
    clinic_with_user,
    form_token,
    pkce_pair,
    redirect_query,
)
from tests.auth.test_audit import audit_events, subtype
from tests.conftest import RunningServer, running_server

EMAIL = "ana@clinic.example"
CODE_STEP = "/oauth2/authorize/code"


@pytest.fixture
def locking_server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """Three failures lock an email (for a minute)."""
    with running_server(database_url, tmp_path, lockout_failures=3, lockout_seconds=60) as running:
        yield running


@pytest.fixture
def clinic(locking_server: RunningServer) -> Iterator[tuple[Identity, str]]:
    yield from clinic_with_user(locking_server, EMAIL)


def steady_window() -> None:
    """Tests use the codes of the previous, current and next 30 s step, each once; start at least
    10 s before the step ends so that the server's current step is the test's."""
    left = 30 - time.time() % 30
    if left < 10:
        time.sleep(left + 0.2)


def code(secret: str, steps: int = 0) -> str:
    """The code `steps` 30-second steps from now."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def wrong_code(secret: str) -> str:
    valid = {code(secret, steps) for steps in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def access_token(identity: Identity, client_id: str) -> str:
    return str(identity.exchange(client_id, identity.sign_in(client_id, EMAIL))["access_token"])


def mfa(identity: Identity, action: str, token: str, **fields: str) -> httpx.Response:
    return httpx.post(identity.url(f"/oauth2/mfa/{action}"), data=fields, headers={"Authorization": f"Bearer {token}"})


def turn_on(identity: Identity, client_id: str) -> str:
    """Enroll and verify with the previous step's code; return the secret."""
    return turn_on_with_codes(identity, client_id)[0]


def turn_on_with_codes(identity: Identity, client_id: str) -> tuple[str, list[str]]:
    """Enroll and verify with the previous step's code; return the secret and the recovery codes."""
    steady_window()
    token = access_token(identity, client_id)
    enrolled = mfa(identity, "enroll", token, password=PASSWORD)
    assert enrolled.status_code == 200, enrolled.text
    secret: str = enrolled.json()["secret"]
    verified = mfa(identity, "verify", token, code=code(secret, -1))
    assert verified.status_code == 200 and verified.json()["enabled"] is True, verified.text
    codes: list[str] = verified.json()["recovery_codes"]
    return secret, codes


def password_step(identity: Identity, client_id: str, email: str = EMAIL) -> tuple[httpx.Response, str]:
    """The answer to the password form, and the PKCE verifier of the attempt."""
    verifier, challenge = pkce_pair()
    form = identity.authorize(client_id, code_challenge=challenge, code_challenge_method="S256")
    return identity.submit(form, email, PASSWORD), verifier


def challenge_of(page: httpx.Response) -> str:
    match = re.search(r'name="challenge" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def post_code(identity: Identity, page: httpx.Response, value: str) -> httpx.Response:
    return identity.browser.post(identity.url(CODE_STEP), data={"challenge": challenge_of(page), "code": value})


def token_with_code(identity: Identity, client_id: str, value: str) -> str:
    page, verifier = password_step(identity, client_id)
    query = redirect_query(post_code(identity, page, value))
    return str(identity.exchange(client_id, SignIn(query["code"], verifier, None))["access_token"])


def test_enrolling_gives_an_otpauth_uri_and_the_secret_is_stored_encrypted(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    token = access_token(identity, client_id)
    enrolled = mfa(identity, "enroll", token, password=PASSWORD)
    assert enrolled.status_code == 200, enrolled.text
    body = enrolled.json()
    uri = urlsplit(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [body["secret"]] and parse_qs(uri.query)["issuer"] == ["Fireside"]
    with psycopg.connect(identity.server.database_url) as conn:
        row = conn.execute("SELECT secret_encrypted, enabled_at FROM user_totp").fetchone()
    assert row is not None and body["secret"].encode() not in bytes(row[0]) and row[1] is None
    # Enrolled but not verified: sign-in still asks for the password only.
    assert password_step(identity, client_id)[0].status_code == 303


def test_a_user_with_totp_on_signs_in_with_password_then_code(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    secret = turn_on(identity, client_id)
    page, verifier = password_step(identity, client_id)
    assert page.status_code == 200 and 'name="code"' in page.text and "location" not in page.headers
    answer = post_code(identity, page, code(secret))
    assert answer.status_code == 303, answer.text
    query = redirect_query(answer)
    assert query["state"] == "xyz"
    tokens = identity.exchange(client_id, SignIn(query["code"], verifier, query["state"]))
    with identity.fhir(tokens["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 200


def test_a_wrong_code_is_refused_audited_and_counted_toward_the_lock_out(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    secret = turn_on(identity, client_id)
    page, _ = password_step(identity, client_id)
    refused = post_code(identity, page, wrong_code(secret))
    assert refused.status_code == 401 and "Wrong or already used code" in refused.text
    assert "location" not in refused.headers and 'name="code"' in refused.text
    admin = identity.server.fhir_client()
    events = audit_events(admin, lambda found: any(subtype(e) == "110122" for e in found))
    [failure] = [e for e in events if subtype(e) == "110122"]
    assert failure["outcome"] == "4" and failure["agent"][0]["altId"] == EMAIL
    # Two more wrong codes (three failures) lock the email: the right code is refused then too.
    post_code(identity, refused, wrong_code(secret))
    locked = post_code(identity, refused, wrong_code(secret))
    assert locked.status_code == 401 and "Too many failed sign-ins" in locked.text
    assert post_code(identity, refused, code(secret)).status_code == 401


def test_a_code_is_accepted_once(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    secret = turn_on(identity, client_id)
    first, _ = password_step(identity, client_id)
    assert post_code(identity, first, code(secret)).status_code == 303
    again, _ = password_step(identity, client_id)
    replayed = post_code(identity, again, code(secret))
    assert replayed.status_code == 401 and "Wrong or already used code" in replayed.text
    older = post_code(identity, again, code(secret, -1))  # the step spent turning TOTP on
    assert older.status_code == 401


def test_the_code_step_cannot_be_skipped_forged_or_reused(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    secret = turn_on(identity, client_id)
    page, _ = password_step(identity, client_id)
    # No code at all is a wrong code; the password form posted again only asks for a code again.
    assert post_code(identity, page, "").status_code == 401
    form = identity.authorize(client_id, code_challenge=pkce_pair()[1], code_challenge_method="S256")
    resent = identity.browser.post(identity.url("/oauth2/authorize"),
                                   data={"form_token": form_token(form), "email": EMAIL, "password": PASSWORD})
    assert resent.status_code == 200 and 'name="code"' in resent.text
    # Another browser (without the sign-in cookie) cannot use the challenge, nor can an altered one.
    stranger = httpx.post(identity.url(CODE_STEP), data={"challenge": challenge_of(page), "code": code(secret)})
    assert stranger.status_code == 400
    altered = identity.browser.post(identity.url(CODE_STEP), data={"challenge": challenge_of(page)[:-4] + "AAAA",
                                                                    "code": code(secret)})
    assert altered.status_code == 400
    # Finished once, the challenge is spent, even with a fresh code.
    assert post_code(identity, page, code(secret)).status_code == 303
    reused = post_code(identity, page, code(secret, 1))
    assert reused.status_code == 400 and "start again" in reused.text


def test_a_current_code_turns_totp_off(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    secret = turn_on(identity, client_id)
    token = token_with_code(identity, client_id, code(secret))
    wrong = mfa(identity, "disable", token, code=wrong_code(secret))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_code"
    turned_off = mfa(identity, "disable", token, code=code(secret, 1))
    assert turned_off.status_code == 200 and turned_off.json() == {"enabled": False}
    answer, _ = password_step(identity, client_id)
    assert answer.status_code == 303 and answer.headers["location"].startswith(REDIRECT_URI)


def test_enrolling_takes_a_user_token_and_the_users_password(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    token = access_token(identity, client_id)
    assert mfa(identity, "enroll", token, password="not the password").status_code == 400
    assert mfa(identity, "enroll", "not-a-token", password=PASSWORD).status_code == 401
    backend = identity.server.token(identity.server.create_client())
    assert mfa(identity, "enroll", backend, password=PASSWORD).status_code == 403
    assert mfa(identity, "verify", token, code="123456").status_code == 409  # nothing enrolled


def test_enrolling_again_while_totp_is_on_is_refused(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    secret = turn_on(identity, client_id)
    token = token_with_code(identity, client_id, code(secret))
    again = mfa(identity, "enroll", token, password=PASSWORD)
    assert again.status_code == 409 and again.json()["error"] == "conflict"


def stored_recovery_codes(identity: Identity) -> list[tuple[str, bool]]:
    """(code_hash, used) of every stored recovery code."""
    with psycopg.connect(identity.server.database_url) as conn:
        rows = conn.execute("SELECT code_hash, used_at IS NOT NULL FROM user_recovery_code").fetchall()
    return [(str(row[0]), bool(row[1])) for row in rows]


def test_turning_totp_on_and_off_is_audited_without_secret_or_code(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    steady_window()
    token = access_token(identity, client_id)
    user = claims_of(token)["sub"]
    assert mfa(identity, "enroll", token, password="not the password").status_code == 400
    secret = mfa(identity, "enroll", token, password=PASSWORD).json()["secret"]
    verified = mfa(identity, "verify", token, code=code(secret, -1))
    assert verified.status_code == 200, verified.text
    disabled = mfa(identity, "disable", token, code=code(secret))
    assert disabled.status_code == 200, disabled.text
    with identity.fhir(token) as fhir:
        events = audit_events(fhir, lambda found: any(subtype(e) == "totp-disable" for e in found))
    mfa_events = [(subtype(e), e["outcome"]) for e in events if subtype(e).startswith("totp-")]
    assert sorted(mfa_events) == [("totp-disable", "0"), ("totp-enable", "0"), ("totp-enroll", "0"),
                                  ("totp-enroll", "4")]
    for event in (e for e in events if subtype(e).startswith("totp-")):
        assert event["type"]["code"] == "110114"
        assert event["agent"][0]["altId"] == user
        assert event["agent"][0]["network"] == {"address": "127.0.0.1", "type": "2"}
        assert event["agent"][1]["altId"] == f"ClientApplication/{client_id}"
    written = str(events)
    for confidential in (secret, code(secret, -1), code(secret), PASSWORD, *verified.json()["recovery_codes"]):
        assert confidential not in written


def test_turning_totp_on_gives_ten_recovery_codes_once_and_stores_only_their_hashes(
        clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    _, codes = turn_on_with_codes(identity, client_id)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}", c) for c in codes), codes
    stored = stored_recovery_codes(identity)
    assert len(stored) == 10 and not any(used for _, used in stored)
    hashes = " ".join(code_hash for code_hash, _ in stored)
    assert not any(c.replace("-", "") in hashes or c in hashes for c in codes)


def test_a_recovery_code_signs_in_in_place_of_a_code_once(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    _, codes = turn_on_with_codes(identity, client_id)
    page, verifier = password_step(identity, client_id)
    assert "recovery code" in page.text
    # Typing is forgiving: any case, spaces for dashes.
    answer = post_code(identity, page, codes[0].upper().replace("-", " "))
    assert answer.status_code == 303, answer.text
    tokens = identity.exchange(client_id, SignIn(redirect_query(answer)["code"], verifier, None))
    with identity.fhir(tokens["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 200
        events = audit_events(fhir, lambda found: any(subtype(e) == "recovery-code-used" for e in found))
    [used] = [e for e in events if subtype(e) == "recovery-code-used"]
    assert used["outcome"] == "0" and used["agent"][0]["altId"] == claims_of(tokens["access_token"])["sub"]
    assert sorted(used for _, used in stored_recovery_codes(identity)) == [False] * 9 + [True]
    again, _ = password_step(identity, client_id)
    replayed = post_code(identity, again, codes[0])
    assert replayed.status_code == 401 and "Wrong or already used code" in replayed.text
    assert post_code(identity, replayed, codes[1]).status_code == 303


def test_wrong_recovery_codes_are_counted_toward_the_lock_out_like_wrong_codes(
        clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    _, codes = turn_on_with_codes(identity, client_id)
    page, _ = password_step(identity, client_id)
    first = post_code(identity, page, "0000-0000-0000")
    assert first.status_code == 401 and "Wrong or already used code" in first.text
    post_code(identity, first, "zzzz-zzzz-zzzz")
    locked = post_code(identity, first, "1111-1111-1111")  # the third failure locks the email
    assert locked.status_code == 401 and "Too many failed sign-ins" in locked.text
    assert post_code(identity, locked, codes[0]).status_code == 401
    assert stored_recovery_codes(identity) and not any(used for _, used in stored_recovery_codes(identity))


def test_renewing_recovery_codes_takes_password_and_a_current_code_and_replaces_the_set(
        clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    secret, old = turn_on_with_codes(identity, client_id)
    token = token_with_code(identity, client_id, code(secret))
    wrong = mfa(identity, "recovery-codes", token, password="not the password", code=code(secret, 1))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_password"
    renewed = mfa(identity, "recovery-codes", token, password=PASSWORD, code=code(secret, 1))
    assert renewed.status_code == 200, renewed.text
    new = renewed.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert len(stored_recovery_codes(identity)) == 10
    page, _ = password_step(identity, client_id)
    refused = post_code(identity, page, old[1])
    assert refused.status_code == 401 and "Wrong or already used code" in refused.text
    assert post_code(identity, refused, new[0]).status_code == 303
    # A recovery code does not mint new ones: the authenticator's code is required.
    assert mfa(identity, "recovery-codes", token, password=PASSWORD, code=new[1]).json()["error"] == "invalid_code"


def test_turning_totp_off_with_a_recovery_code_deletes_the_codes(clinic: tuple[Identity, str]) -> None:
    identity, client_id = clinic
    _, codes = turn_on_with_codes(identity, client_id)
    token = token_with_code(identity, client_id, codes[0])  # the authenticator app is lost
    turned_off = mfa(identity, "disable", token, code=codes[1])
    assert turned_off.status_code == 200 and turned_off.json() == {"enabled": False}, turned_off.text
    assert stored_recovery_codes(identity) == []
    answer, _ = password_step(identity, client_id)
    assert answer.status_code == 303
    assert mfa(identity, "recovery-codes", token, password=PASSWORD, code=codes[2]).status_code == 409
