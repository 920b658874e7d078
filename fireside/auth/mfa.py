"""A signed-in user turns their TOTP second factor on and off (fireside/auth/totp.py), and renews
their recovery codes (fireside/auth/recovery_codes.py).

The caller is a user's access token. Enrolling also takes the user's password: an access token is
held by every app the user signed in to, and one of them enrolling a secret only it knows would
lock the user out. Confirming and turning off take a current code (turning off, a recovery code
too). Renewing the recovery codes takes both password and a current code: the new codes are as
good as the authenticator app. Wrong passwords and codes count toward the email's lock-out
(fireside/auth/lockout.py), as at sign-in: a stolen token gives no way around it to guess codes.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import NoReturn, TypeVar

from fireside.auth.lockout import LockoutPolicy, is_locked, record_failure
from fireside.auth.memberships import UserAccount, find_user, find_user_by_password
from fireside.auth.tokens import TokenGrant
from fireside.auth.totp import Enrollment, TotpStateError, activate, deactivate, enroll, renew_recovery_codes
from fireside.store import ResourceStore

T = TypeVar("T")


class MfaRefused(Exception):
    """The request fails; `error` and `status` say how (a JSON error at the endpoint)."""

    def __init__(self, status: int, error: str, description: str, locked: bool = False) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.locked = locked  # the email is locked out (by this failure or an earlier one)


async def start_enrollment(
    store: ResourceStore, secret_key: str, grant: TokenGrant, password: str, lockout: LockoutPolicy
) -> Enrollment:
    user = await _caller(store, grant, lockout)
    await _check_password(store, user, password, lockout)
    return await _in_state(enroll(store, secret_key, user))


async def confirm_enrollment(
    store: ResourceStore, secret_key: str, grant: TokenGrant, code: str, lockout: LockoutPolicy
) -> list[str]:
    """Turn TOTP on; the recovery codes, to show the user once."""
    user = await _caller(store, grant, lockout)
    codes = await _in_state(activate(store, secret_key, user.id, code))
    if codes is None:
        await _wrong_code(store, user, lockout)
    return codes


async def renew_codes(
    store: ResourceStore, secret_key: str, grant: TokenGrant, password: str, code: str, lockout: LockoutPolicy
) -> list[str]:
    """A new set of recovery codes (the old set stops working), to show the user once."""
    user = await _caller(store, grant, lockout)
    await _check_password(store, user, password, lockout)
    codes = await _in_state(renew_recovery_codes(store, secret_key, user.id, code))
    if codes is None:
        await _wrong_code(store, user, lockout)
    return codes


async def turn_off(store: ResourceStore, secret_key: str, grant: TokenGrant, code: str, lockout: LockoutPolicy) -> None:
    user = await _caller(store, grant, lockout)
    if not await _in_state(deactivate(store, secret_key, user.id, code)):
        await _wrong_code(store, user, lockout)


async def _in_state(work: Awaitable[T]) -> T:
    """`work`; a request that does not fit the user's TOTP state is a 409."""
    try:
        return await work
    except TotpStateError as error:
        raise MfaRefused(409, "conflict", str(error)) from error


async def _caller(store: ResourceStore, grant: TokenGrant, lockout: LockoutPolicy) -> UserAccount:
    user = await find_user(store, grant.subject.removeprefix("User/")) if grant.subject.startswith("User/") else None
    if user is None:
        raise MfaRefused(403, "access_denied", "Only a signed-in user has a second factor")
    if await is_locked(store, user.email):
        raise MfaRefused(403, "access_denied", lockout.message, locked=True)
    return user


async def _check_password(store: ResourceStore, user: UserAccount, password: str, lockout: LockoutPolicy) -> None:
    found = await find_user_by_password(store, user.email, password)
    if found is None or found.id != user.id:
        await _count_failure(store, user, lockout, "invalid_password", "Wrong password")


async def _wrong_code(store: ResourceStore, user: UserAccount, lockout: LockoutPolicy) -> NoReturn:
    await _count_failure(store, user, lockout, "invalid_code", "Wrong or already used code")


async def _count_failure(store: ResourceStore, user: UserAccount, lockout: LockoutPolicy, error: str,
                         description: str) -> NoReturn:
    if await record_failure(store, user.email, lockout):
        raise MfaRefused(403, "access_denied", lockout.message, locked=True)
    raise MfaRefused(400, error, description)
