"""One-time links to set a password: for an invited user, or one who forgot theirs.

The link carries 256 random bits (`/oauth2/set-password?token=...`); only their SHA-256 is
stored (`password_token`), so a leaked table opens no account. A link works once and expires
(an hour for a reset by default; OWASP Forgot Password Cheat Sheet). Setting a password spends
every other link of the user, ends every sign-in they have (their Logins in every project, with
the refresh and access tokens issued under them: whoever knew the old password is out) and
clears the lock-out of their email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fireside.auth.lockout import clear_failures
from fireside.auth.logins import REFRESH_LIFETIME, revoke_login
from fireside.auth.mail import OutgoingMail
from fireside.auth.memberships import UserAccount, find_user, find_user_by_email
from fireside.auth.oauth import new_opaque_token, token_hash
from fireside.auth.passwords import hash_password, password_problem
from fireside.auth.revocation import RevocationList
from fireside.store import ResourceStore

SET_PASSWORD_PATH = "/oauth2/set-password"


class PasswordLinkRefused(Exception):
    """The link is unknown, used or expired; or the new password is not acceptable."""


@dataclass(frozen=True)
class PasswordLink:
    user: UserAccount
    purpose: str


def set_password_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{SET_PASSWORD_PATH}?token={token}"


async def new_password_token(store: ResourceStore, user_id: str, purpose: str, lifetime: timedelta) -> str:
    """A new link's token for `user_id`; `purpose` is "invite" or "reset"."""
    token = new_opaque_token()
    async with store.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO password_token (token_hash, user_id, purpose, expires_at) VALUES (%s, %s, %s, %s)",
            [token_hash(token), user_id, purpose, datetime.now(UTC) + lifetime],
        )
    return token


async def request_password_reset(
    store: ResourceStore, email: str, lifetime: timedelta
) -> tuple[UserAccount, str] | None:
    """The user with `email` and a new reset link's token, or None when no user has that email
    (the caller answers the same either way)."""
    user = await find_user_by_email(store, email)
    if user is None:
        return None
    return user, await new_password_token(store, user.id, "reset", lifetime)


def reset_mail(user: UserAccount, link: str, lifetime: timedelta) -> OutgoingMail:
    minutes = max(1, round(lifetime.total_seconds() / 60))
    body = (
        "Someone asked to reset the password of your Fireside account.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n"
        "The link works once. If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    return OutgoingMail(user.email, "Reset your Fireside password", body, f"password reset for {user.reference}")


async def open_password_link(store: ResourceStore, token: str) -> PasswordLink:
    """The user a live link is for, without spending it (the form is shown first)."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT user_id, purpose FROM password_token WHERE token_hash = %s AND used_at IS NULL"
            " AND expires_at > now()",
            [token_hash(token)],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    return await _link(store, row)


async def set_password(
    store: ResourceStore, revocations: RevocationList | None, token: str, password: str
) -> PasswordLink:
    """Spend the link and set the password; then end the user's sign-ins and clear the lock-out."""
    link = await open_password_link(store, token)
    problem = password_problem(password, link.user.email)
    if problem:
        raise PasswordLinkRefused(problem)
    password_hash = hash_password(password)
    async with store.pool.connection() as conn, conn.transaction():
        # FOR UPDATE: two posts of one link serialize here, and the second finds it used.
        cursor = await conn.execute(
            "SELECT user_id FROM password_token WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()"
            " FOR UPDATE",
            [token_hash(token)],
        )
        if await cursor.fetchone() is None:
            raise _expired()
        await conn.execute("UPDATE password_token SET used_at = now() WHERE user_id = %s AND used_at IS NULL",
                           [link.user.id])
        await conn.execute("UPDATE user_credential SET password_hash = %s WHERE user_id = %s",
                           [password_hash, link.user.id])
    await end_sign_ins(store, revocations, link.user)
    await clear_failures(store, link.user.email)
    return link


async def has_proven_email(store: ResourceStore, user_id: str) -> bool:
    """Whether the user set a password through a link sent to their email (an invite or a reset):
    the one proof of the address Fireside has. ID tokens say so in `email_verified`."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT 1 FROM password_token WHERE user_id = %s AND used_at IS NOT NULL LIMIT 1", [user_id])
        return await cursor.fetchone() is not None


async def end_sign_ins(store: ResourceStore, revocations: RevocationList | None, user: UserAccount) -> None:
    """Revoke every live Login of `user`, in every project."""
    async with store.pool.connection() as conn:
        # resource_login_user_idx answers this; a Login older than its refresh lifetime has expired.
        cursor = await conn.execute(
            "SELECT project_id, id FROM resource WHERE resource_type = 'Login' AND NOT deleted"
            " AND (fireside_content_jsonb(content) -> 'user' ->> 'reference') = %s"
            " AND NOT coalesce((fireside_content_jsonb(content) ->> 'revoked')::boolean, false)"
            " AND last_updated > %s",
            [user.reference, datetime.now(UTC) - REFRESH_LIFETIME],
        )
        rows: list[dict[str, Any]] = await cursor.fetchall()
    for row in rows:
        await revoke_login(store, revocations, row["project_id"], row["id"])


async def _link(store: ResourceStore, row: dict[str, Any] | None) -> PasswordLink:
    if row is None:
        raise _expired()
    user = await find_user(store, row["user_id"])
    if user is None:
        raise _expired()
    return PasswordLink(user, row["purpose"])


def _expired() -> PasswordLinkRefused:
    # One message for unknown, used and expired links: the page tells a guesser nothing.
    return PasswordLinkRefused("This link is not valid any more: it was used, or it expired. "
                               "Ask for a new one.")
