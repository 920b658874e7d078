"""`client.invite`: a project admin (or a super admin) adds a member through the SDK; the server's
answer (the ProjectMembership, whether it emailed) and its refusals come back as the SDK's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from fireside.client import AsyncFiresideClient, FiresideClient, FiresideError, Invitation
from tests.auth.conftest import PASSWORD
from tests.auth.mail import MailSink
from tests.auth.test_invites import ADMIN_EMAIL, NEW_PASSWORD, Clinic, open_clinic, put_resource, user_token
from tests.conftest import RunningServer


@pytest.fixture
def clinic(mail_server: RunningServer) -> Iterator[Clinic]:
    yield from open_clinic(mail_server)


def signed_in_as(clinic: Clinic, email: str) -> FiresideClient:
    return FiresideClient(clinic.identity.server.base_url, client_id=clinic.client_id, email=email, password=PASSWORD)


def test_a_project_admin_invites_a_member_who_is_emailed_a_link(clinic: Clinic, mail_sink: MailSink) -> None:
    with signed_in_as(clinic, ADMIN_EMAIL) as client:
        invitation = client.invite(clinic.project, "nia@riverside.example", first_name="Nia", last_name="Okafor")
        membership = invitation.membership
        profile = client.read("Practitioner", membership["profile"]["reference"].split("/")[1])
    assert invitation.email == "sent" and invitation.email_sent
    assert membership["resourceType"] == "ProjectMembership" and membership["admin"] is False
    assert membership["project"]["reference"] == f"Project/{clinic.project}"
    assert profile["name"] == [{"given": ["Nia"], "family": "Okafor"}]
    mail = mail_sink.wait_for("nia@riverside.example")
    assert "Riverside Clinic" in mail.subject and mail.link()


def test_a_member_who_is_not_an_admin_gets_a_403_with_the_outcome(clinic: Clinic) -> None:
    clinic.identity.user(clinic.project, "member@riverside.example")
    with signed_in_as(clinic, "member@riverside.example") as client, pytest.raises(FiresideError) as refused:
        client.invite(clinic.project, "x@riverside.example")
    assert refused.value.status == 403
    assert refused.value.issues[0]["code"] == "forbidden"
    assert refused.value.url.endswith(f"/admin/projects/{clinic.project}/invite")


def test_bad_input_raises_with_the_element_the_server_names(clinic: Clinic) -> None:
    with FiresideClient(clinic.identity.server.base_url, access_token=clinic.admin_token) as client:
        with pytest.raises(FiresideError) as unknown_policy:
            client.invite(clinic.project, "x@riverside.example", access_policy="AccessPolicy/not-here")
        with pytest.raises(FiresideError) as related_without_patient:
            client.invite(clinic.project, "x@riverside.example", resource_type="RelatedPerson")
    assert unknown_policy.value.status == 400
    assert unknown_policy.value.issues[0]["expression"] == ["accessPolicy"]
    assert related_without_patient.value.issues[0]["expression"] == ["patient"]


def test_the_async_client_invites_as_a_super_admin_with_a_password_and_no_email(
        clinic: Clinic, mail_server: RunningServer, mail_sink: MailSink) -> None:
    super_admin = mail_server.create_client()
    policy = put_resource(clinic.identity, clinic.project, {"resourceType": "AccessPolicy", "name": "Read only"})

    async def work() -> Invitation:
        async with AsyncFiresideClient(mail_server.base_url, client_id=super_admin["client_id"],
                                       client_secret=super_admin["client_secret"]) as client:
            return await client.invite(str(clinic.project), "pat@riverside.example", resource_type="Patient",
                                       admin=True, access_policy=policy, send_email=False, password=NEW_PASSWORD)

    invitation = asyncio.run(work())
    assert invitation.email == "not-requested" and not invitation.email_sent
    membership = invitation.membership
    assert membership["admin"] is True and membership["accessPolicy"] == [{"reference": policy}]
    assert membership["profile"]["reference"].startswith("Patient/")
    tokens = user_token(clinic.identity, clinic.client_id, "pat@riverside.example", NEW_PASSWORD)
    assert tokens["project"] == str(clinic.project)
    assert mail_sink.to("pat@riverside.example") == []
