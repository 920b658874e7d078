"""Project administration outside the FHIR API: inviting a member with
`POST /admin/projects/{project_id}/invite` (docs/identity.md#invites).

The server answers 201 with the new ProjectMembership and says in a header whether the invited
user was emailed; errors are OperationOutcomes like the FHIR API's, so they raise FiresideError
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# "sent", "not-sent" (the server has no SMTP, or delivery failed: its log says which) or
# "not-requested" (send_email=False).
EMAIL_HEADER = "x-fireside-email"
ProfileType = Literal["Practitioner", "Patient", "RelatedPerson"]


@dataclass(frozen=True)
class Invitation:
    """What an invite made: the ProjectMembership (`user`, `profile`, `admin`, `accessPolicy`) and
    what became of the email (`sent`, `not-sent` or `not-requested`)."""

    membership: dict[str, Any]
    email: str

    @property
    def email_sent(self) -> bool:
        return self.email == "sent"


def invite_path(project_id: str) -> str:
    return f"/admin/projects/{project_id}/invite"


def invite_body(email: str, *, first_name: str | None, last_name: str | None, resource_type: str, admin: bool,
                access_policy: str | None, patient: str | None, send_email: bool,
                password: str | None) -> dict[str, Any]:
    """The invite as the server reads it. Optional elements are left out rather than sent as null,
    so the server's defaults and checks apply to them."""
    body: dict[str, Any] = {"email": email, "resourceType": resource_type, "admin": admin, "sendEmail": send_email}
    optional = {"firstName": first_name, "lastName": last_name, "accessPolicy": access_policy, "patient": patient,
                "password": password}
    body.update({name: value for name, value in optional.items() if value is not None})
    return body
