"""Invites: a project admin (or the super admin) adds someone to the project; a new user gets a
one-time link by email to choose a password, then signs in like anyone else."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest

from fireside.auth.projects import system_context
from fireside.store import ResourceStore, new_resource_id
from tests.auth.conftest import Identity, claims_of
from tests.auth.mail import MailSink
from tests.auth.test_audit import audit_events, subtype
from tests.conftest import RunningServer

NEW_PASSWORD = "a brand new passphrase"
ADMIN_EMAIL = "admin@riverside.example"  # the project admin of every clinic


@dataclass
class Clinic:
    identity: Identity
    project: UUID
    client_id: str
    admin_token: str

    def invite(self, body: Any, token: str | None = None, project: UUID | str | None = None) -> httpx.Response:
        return httpx.post(self.identity.url(f"/admin/projects/{project or self.project}/invite"), json=body,
                          headers={"Authorization": f"Bearer {token or self.admin_token}"})


def user_token(identity: Identity, client_id: str, email: str, password: str | None = None) -> dict[str, Any]:
    signed_in = identity.sign_in(client_id, email, password) if password else identity.sign_in(client_id, email)
    return identity.exchange(client_id, signed_in)


def open_clinic(server: RunningServer) -> Iterator[Clinic]:
    identity = Identity(server)
    project = identity.project("Riverside Clinic")
    client_id = identity.client_application(project)
    identity.user(project, ADMIN_EMAIL, admin=True)
    token = user_token(identity, client_id, ADMIN_EMAIL)["access_token"]
    yield Clinic(identity, project, client_id, token)
    identity.browser.close()


@pytest.fixture
def clinic(mail_server: RunningServer) -> Iterator[Clinic]:
    yield from open_clinic(mail_server)


@pytest.fixture
def clinic_without_smtp(server: RunningServer) -> Iterator[Clinic]:
    yield from open_clinic(server)


def set_password_through(identity: Identity, link: str, password: str) -> httpx.Response:
    form = identity.browser.get(link)
    assert form.status_code == 200, form.text
    token = link.split("token=", 1)[1]
    assert f'value="{token}"' in form.text
    return identity.browser.post(identity.url("/oauth2/set-password"),
                                 data={"token": token, "password": password, "confirm": password})


def put_resource(identity: Identity, project: UUID, resource: dict[str, Any]) -> str:
    resource_id = new_resource_id()

    async def put(store: ResourceStore) -> None:
        async with store.transaction(system_context(project)) as unit:
            unit.stage_put(resource, resource_id, None)

    identity.run(put)
    return f"{resource['resourceType']}/{resource_id}"


def issue(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/fhir+json"), response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    first: dict[str, Any] = body["issue"][0]
    return first


def test_an_invited_user_sets_a_password_by_the_emailed_link_and_signs_in_to_their_project_only(
        clinic: Clinic, mail_sink: MailSink) -> None:
    answer = clinic.invite({"email": "nia@riverside.example", "firstName": "Nia", "lastName": "Okafor"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-fireside-email"] == "sent"
    membership = answer.json()
    assert membership["resourceType"] == "ProjectMembership" and membership["admin"] is False
    assert membership["project"]["reference"] == f"Project/{clinic.project}"
    assert membership["profile"]["reference"].startswith("Practitioner/")
    assert answer.headers["location"].endswith(f"/ProjectMembership/{membership['id']}/_history/1")

    mail = mail_sink.wait_for("nia@riverside.example")
    assert "Riverside Clinic" in mail.subject
    assert set_password_through(clinic.identity, mail.link(), NEW_PASSWORD).status_code == 200

    tokens = user_token(clinic.identity, clinic.client_id, "nia@riverside.example", NEW_PASSWORD)
    assert tokens["project"] == str(clinic.project)
    assert claims_of(tokens["id_token"])["fhirUser"].endswith(membership["profile"]["reference"])
    elsewhere = clinic.identity.project("Elsewhere")
    other_patient = put_resource(clinic.identity, elsewhere, {"resourceType": "Patient"})
    with clinic.identity.fhir(tokens["access_token"]) as fhir:
        practitioner = fhir.get("/" + membership["profile"]["reference"]).json()
        assert practitioner["name"] == [{"given": ["Nia"], "family": "Okafor"}]
        assert fhir.get("/" + other_patient).status_code == 404


def test_a_member_who_is_not_an_admin_may_not_invite(clinic: Clinic) -> None:
    clinic.identity.user(clinic.project, "member@riverside.example")
    token = user_token(clinic.identity, clinic.client_id, "member@riverside.example")["access_token"]
    answer = clinic.invite({"email": "x@riverside.example"}, token=token)
    assert answer.status_code == 403
    assert issue(answer)["code"] == "forbidden"


def test_inviting_into_another_project_answers_as_if_it_did_not_exist(clinic: Clinic) -> None:
    other = clinic.identity.project("Another clinic")
    into_other = clinic.invite({"email": "x@riverside.example"}, project=other)
    into_nothing = clinic.invite({"email": "x@riverside.example"}, project=uuid.uuid4())
    into_garbage = clinic.invite({"email": "x@riverside.example"}, project="not-a-project")
    assert into_other.status_code == into_nothing.status_code == into_garbage.status_code == 404
    assert issue(into_other) == issue(into_nothing) == issue(into_garbage)


def test_the_super_admin_invites_into_any_project(clinic: Clinic, mail_server: RunningServer) -> None:
    super_admin = mail_server.token(mail_server.create_client())
    answer = clinic.invite({"email": "sam@riverside.example", "admin": True, "sendEmail": False}, token=super_admin)
    assert answer.status_code == 201, answer.text
    assert answer.json()["admin"] is True
    assert answer.headers["x-fireside-email"] == "not-requested"


def test_inviting_an_existing_member_again_is_a_conflict(clinic: Clinic, mail_sink: MailSink) -> None:
    assert clinic.invite({"email": "nia@riverside.example"}).status_code == 201
    again = clinic.invite({"email": "NIA@riverside.example"})
    assert again.status_code == 409
    assert issue(again)["expression"] == ["email"]


def test_a_user_of_another_project_joins_with_their_own_password_and_gets_no_link(
        clinic: Clinic, mail_sink: MailSink) -> None:
    other = clinic.identity.project("Another clinic")
    clinic.identity.user(other, "ana@elsewhere.example")
    answer = clinic.invite({"email": "ana@elsewhere.example", "resourceType": "Patient"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["profile"]["reference"].startswith("Patient/")
    assert "set-password" not in mail_sink.wait_for("ana@elsewhere.example").body
    assert user_token(clinic.identity, clinic.client_id, "ana@elsewhere.example")["project"] == str(clinic.project)
    taken = clinic.invite({"email": "ana@elsewhere.example", "password": "another password"})
    assert taken.status_code in (409, 422)


def test_an_invite_names_an_access_policy_of_the_project_and_may_set_the_password(clinic: Clinic) -> None:
    policy = put_resource(clinic.identity, clinic.project, {"resourceType": "AccessPolicy", "name": "Readers",
                                                            "resource": [{"resourceType": "Patient"}]})
    answer = clinic.invite({"email": "lee@riverside.example", "accessPolicy": {"reference": policy},
                            "password": NEW_PASSWORD, "sendEmail": False})
    assert answer.status_code == 201, answer.text
    assert answer.json()["accessPolicy"] == [{"reference": policy}]
    tokens = user_token(clinic.identity, clinic.client_id, "lee@riverside.example", NEW_PASSWORD)
    with clinic.identity.fhir(tokens["access_token"]) as fhir:
        assert fhir.get("/Patient").status_code == 200
        assert fhir.get("/Observation").status_code == 403


def test_a_related_person_is_invited_with_the_patient_they_are_related_to(clinic: Clinic) -> None:
    patient = put_resource(clinic.identity, clinic.project, {"resourceType": "Patient"})
    answer = clinic.invite({"email": "kin@riverside.example", "resourceType": "RelatedPerson", "patient": patient,
                            "sendEmail": False})
    assert answer.status_code == 201, answer.text
    with clinic.identity.fhir(clinic.admin_token) as fhir:
        related = fhir.get("/" + answer.json()["profile"]["reference"]).json()
    assert related["patient"] == {"reference": patient}


@pytest.mark.parametrize(("body", "code", "expression"), [
    ({}, "required", "email"),
    ({"email": "not an email"}, "invalid", "email"),
    ({"email": 7}, "invalid", "email"),
    ({"email": "a\u0000@b.example"}, "invalid", "email"),
    ({"email": "a@b.example", "resourceType": "Observation"}, "invalid", "resourceType"),
    ({"email": "a@b.example", "admin": "yes"}, "invalid", "admin"),
    ({"email": "a@b.example", "sendEmail": 1}, "invalid", "sendEmail"),
    ({"email": "a@b.example", "firstName": ["Ana"]}, "invalid", "firstName"),
    ({"email": "a@b.example", "password": "short"}, "invalid", "password"),
    ({"email": "a@b.example", "password": "A@B.example"}, "invalid", "password"),
    ({"email": "a@b.example", "accessPolicy": "Patient/1"}, "invalid", "accessPolicy"),
    ({"email": "a@b.example", "accessPolicy": {"reference": "AccessPolicy/nope"}}, "invalid", "accessPolicy"),
    ({"email": "a@b.example", "resourceType": "RelatedPerson"}, "required", "patient"),
    ([1, 2], "invalid", None),
])
def test_bad_invites_are_400_operation_outcomes_naming_the_element(
        clinic: Clinic, body: Any, code: str, expression: str | None) -> None:
    answer = clinic.invite(body)
    assert answer.status_code == 400, answer.text
    found = issue(answer)
    assert found["code"] == code
    assert found.get("expression", [None]) == [expression]


def test_a_body_that_is_not_json_is_refused_with_an_operation_outcome(clinic: Clinic) -> None:
    url = clinic.identity.url(f"/admin/projects/{clinic.project}/invite")
    headers = {"Authorization": f"Bearer {clinic.admin_token}"}
    broken = httpx.post(url, content=b"{", headers={**headers, "Content-Type": "application/json"})
    assert broken.status_code == 400 and issue(broken)["code"] == "invalid"
    form = httpx.post(url, data={"email": "a@b.example"}, headers=headers)
    assert form.status_code == 415
    anonymous = httpx.post(url, json={"email": "a@b.example"})
    assert anonymous.status_code == 401


def test_without_smtp_the_invite_works_and_says_no_email_was_sent(
        clinic_without_smtp: Clinic, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        answer = clinic_without_smtp.invite({"email": "nia@riverside.example"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-fireside-email"] == "not-sent"
    messages = [r.getMessage() for r in caplog.records if r.name == "fireside.auth.mail"]
    assert any("no email sent" in m for m in messages)
    assert not any("token" in m or "nia@" in m for m in messages)


def test_an_invite_is_audited_in_the_project_with_the_new_membership(clinic: Clinic) -> None:
    membership = clinic.invite({"email": "nia@riverside.example", "sendEmail": False}).json()
    with clinic.identity.fhir(clinic.admin_token) as fhir:
        events = audit_events(fhir, lambda found: any(subtype(e) == "invite" for e in found))
    [event] = [e for e in events if subtype(e) == "invite"]
    assert event["entity"][0]["what"]["reference"] == f"ProjectMembership/{membership['id']}"
    assert event["agent"][0]["altId"].startswith("User/")
