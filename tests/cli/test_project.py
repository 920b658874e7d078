"""`fireside project create`: a new tenant, ready for `fireside client create --project`; and
`fireside project invite`: a project admin adds a member over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import PASSWORD
from tests.auth.mail import MailSink
from tests.auth.test_invites import ADMIN_EMAIL, NEW_PASSWORD, Clinic, open_clinic, user_token
from tests.cli.conftest import Invoke
from tests.conftest import RunningServer


@pytest.fixture
def clinic(mail_server: RunningServer) -> Iterator[Clinic]:
    yield from open_clinic(mail_server)


def test_project_create_makes_a_project_its_clients_work_in(
        server: RunningServer, fireside: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", server.database_url)
    created = fireside("project", "create", "Clinic", "--data-dir", str(tmp_path))
    assert created.exit_code == 0, created.output
    project = json.loads(created.stdout)
    assert project["name"] == "Clinic"
    made = fireside("client", "create", "--data-dir", str(tmp_path), "--name", "ehr", "--project",
                    project["project_id"])
    assert made.exit_code == 0, made.output
    credentials = json.loads(made.stdout)
    assert credentials["project_id"] == project["project_id"]
    token = server.token(credentials)
    read = httpx.get(f"{server.fhir_url}/Project/{project['project_id']}",
                     headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.json()["name"] == "Clinic"


def admin_login(fireside: Invoke, clinic: Clinic, email: str = ADMIN_EMAIL) -> None:
    result = fireside("login", "--server", clinic.identity.server.base_url, "--client-id", clinic.client_id,
                      "--email", email, "--password", PASSWORD)
    assert result.exit_code == 0, result.output


def test_project_invite_as_a_project_admin_emails_the_new_member(
        clinic: Clinic, fireside: Invoke, mail_sink: MailSink) -> None:
    admin_login(fireside, clinic)
    invited = fireside("project", "invite", str(clinic.project), "nia@riverside.example", "--first-name", "Nia",
                       "--last-name", "Okafor")
    assert invited.exit_code == 0, invited.output
    answer = json.loads(invited.stdout)
    assert answer["email"] == "sent" and answer["admin"] is False
    assert answer["profile"].startswith("Practitioner/") and answer["user"].startswith("User/")
    assert f"ProjectMembership/{answer['membership_id']}; emailed" in invited.stderr
    read = fireside("get", f"ProjectMembership/{answer['membership_id']}")
    assert read.exit_code == 0 and json.loads(read.stdout)["profile"]["reference"] == answer["profile"]
    assert "Riverside Clinic" in mail_sink.wait_for("nia@riverside.example").subject


def test_project_invite_with_a_password_from_stdin_sends_no_email_and_the_member_signs_in(
        clinic: Clinic, fireside: Invoke, mail_sink: MailSink) -> None:
    admin_login(fireside, clinic)
    invited = fireside("project", "invite", str(clinic.project), "sam@riverside.example", "--admin", "--no-email",
                       "--password-stdin", input=NEW_PASSWORD + "\n")
    assert invited.exit_code == 0, invited.output
    answer = json.loads(invited.stdout)
    assert answer["email"] == "not-requested" and answer["admin"] is True
    assert "not emailed (--no-email)" in invited.stderr
    tokens = user_token(clinic.identity, clinic.client_id, "sam@riverside.example", NEW_PASSWORD)
    assert tokens["project"] == str(clinic.project)
    assert mail_sink.to("sam@riverside.example") == []


def test_project_invite_by_a_member_who_is_not_an_admin_prints_the_outcome_and_fails(
        clinic: Clinic, fireside: Invoke) -> None:
    clinic.identity.user(clinic.project, "member@riverside.example")
    admin_login(fireside, clinic, "member@riverside.example")
    refused = fireside("project", "invite", str(clinic.project), "x@riverside.example")
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert f"Error: HTTP 403 from POST {clinic.identity.server.base_url}/admin/projects/" in refused.stderr
    assert "error forbidden: Only a project admin may invite members" in refused.stderr


def test_project_invite_of_a_related_person_needs_the_patient(fireside: Invoke) -> None:
    result = fireside("project", "invite", "7f8e0b4c-1d2e-4f5a-9b6c-0d1e2f3a4b5c", "x@example.org",
                      "--profile-type", "RelatedPerson")
    assert result.exit_code == 2 and "--patient" in result.stderr
