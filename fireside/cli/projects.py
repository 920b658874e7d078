"""`fireside project invite`: make someone a member of a project, over HTTP as the signed-in user
or client (a project admin of that project, or a super admin).

It joins the `project` group of fireside/cli/main.py, whose `project create` works on the
database instead: an invite is an ordinary authenticated request, checked and audited by the
server like any other (fireside/api/admin_routes.py).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING
from uuid import UUID

import click

from fireside.cli.session import Session, print_json, remote_command

if TYPE_CHECKING:
    from fireside.client.admin import ProfileType

PROFILE_TYPES = ("Practitioner", "Patient", "RelatedPerson")
# What each X-Fireside-Email answer means for whoever ran the command.
EMAIL_OUTCOMES = {
    "sent": "emailed",
    "not-sent": "not emailed: the server has no SMTP, or delivery failed (its log says which)",
    "not-requested": "not emailed (--no-email)",
}


@click.command("invite")
@click.argument("project_id", type=click.UUID)
@click.argument("email")
@click.option("--first-name", default=None, help="The profile's given name.")
@click.option("--last-name", default=None, help="The profile's family name.")
@click.option("--profile-type", type=click.Choice(PROFILE_TYPES), default="Practitioner", show_default=True,
              help="The resource type of the member's profile.")
@click.option("--patient", default=None, metavar="Patient/ID",
              help="The Patient a RelatedPerson is related to (required with --profile-type RelatedPerson).")
@click.option("--admin", is_flag=True, help="Make the member an admin of the project.")
@click.option("--access-policy", default=None, metavar="AccessPolicy/ID",
              help="An AccessPolicy of the project that limits what the member may do.")
@click.option("--no-email", "no_email", is_flag=True,
              help="Send no email (the new user then needs --password-stdin, or a password reset).")
@click.option("--password-stdin", is_flag=True,
              help="Set a new user's password from the first line of stdin; their email then has no link.")
@remote_command
def project_invite(session: Session, project_id: UUID, email: str, first_name: str | None, last_name: str | None,
                   profile_type: ProfileType, patient: str | None, admin: bool, access_policy: str | None,
                   no_email: bool, password_stdin: bool) -> None:
    """Invite EMAIL into the project PROJECT_ID and print the membership as JSON.

    A new user gets an email with a link to choose a password (none with --password-stdin, no
    email with --no-email); someone who already has an account is told they were added. Uses the
    stored login (`fireside login`), which must be a project admin of PROJECT_ID or a super admin.
    """
    if profile_type == "RelatedPerson" and not patient:
        raise click.UsageError("--profile-type RelatedPerson needs --patient Patient/ID")
    password = _password_from_stdin() if password_stdin else None
    invitation = session.client.invite(
        project_id, email, first_name=first_name, last_name=last_name, resource_type=profile_type, admin=admin,
        access_policy=access_policy, patient=patient, send_email=not no_email, password=password)
    membership = invitation.membership
    print_json({"membership_id": membership.get("id"), "user": (membership.get("user") or {}).get("reference"),
                "profile": (membership.get("profile") or {}).get("reference"), "admin": membership.get("admin"),
                "email": invitation.email})
    outcome = EMAIL_OUTCOMES.get(invitation.email, f"email: {invitation.email}")
    click.echo(f"Invited {email} to project {project_id} as ProjectMembership/{membership.get('id')}; {outcome}",
               err=True)


def _password_from_stdin() -> str:
    # The first line only, without its newline: `echo "$PASSWORD" | fireside project invite ...`.
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError("--password-stdin read no password from stdin")
    return password
