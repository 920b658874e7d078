"""Refresh tokens rotate on every use; a rotated one presented again revokes its whole family."""

from __future__ import annotations

from tests.auth.conftest import Identity


def signed_in(identity: Identity, scope: str = "openid offline_access") -> tuple[str, dict[str, str]]:
    project = identity.project("Clinic")
    client_id = identity.client_application(project)
    identity.user(project, "ana@clinic.example")
    return client_id, identity.exchange(client_id, identity.sign_in(client_id, "ana@clinic.example", scope=scope))


def refresh(identity: Identity, client_id: str, refresh_token: str) -> dict[str, str]:
    response = identity.token(grant_type="refresh_token", refresh_token=refresh_token, client_id=client_id)
    body: dict[str, str] = response.json()
    return body


def test_each_refresh_returns_a_new_refresh_token_and_a_working_access_token(identity: Identity) -> None:
    client_id, first = signed_in(identity)
    second = refresh(identity, client_id, first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    third = refresh(identity, client_id, second["refresh_token"])
    assert "access_token" in third and "id_token" in third
    with identity.fhir(third["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(identity: Identity) -> None:
    client_id, first = signed_in(identity)
    second = refresh(identity, client_id, first["refresh_token"])
    reused = refresh(identity, client_id, first["refresh_token"])
    assert reused["error"] == "invalid_grant"
    assert refresh(identity, client_id, second["refresh_token"])["error"] == "invalid_grant"
    for tokens in (first, second):
        with identity.fhir(tokens["access_token"]) as fhir:
            assert fhir.get("/Patient").status_code == 401


def test_no_refresh_token_is_issued_without_offline_or_online_access(identity: Identity) -> None:
    _, tokens = signed_in(identity, scope="openid fhirUser")
    assert "refresh_token" not in tokens


def test_a_refresh_token_works_only_for_the_client_it_was_issued_to(identity: Identity) -> None:
    client_id, tokens = signed_in(identity)
    other = identity.client_application(identity.project("Other"))
    assert refresh(identity, other, tokens["refresh_token"])["error"] == "invalid_grant"
    assert "access_token" in refresh(identity, client_id, tokens["refresh_token"])
