"""Bots as principals: a Bot acts in its project through a ProjectMembership of its own.

`POST /admin/projects/{id}/bot` (a project admin in their own project, or a super admin) makes
the Bot resource and its membership in one transaction, with the access policy and admin flag
asked for. Whatever runs a bot's code asks `bot_access_token` for a short-lived token whose
subject is `Bot/<id>`; access then resolves as it does for users (fireside/auth/policies.py):
the membership's policies narrow the token's `system/*.*`, and a bot whose membership is gone
reaches nothing. A deleted Bot gets no token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fireside.auth.memberships import find_membership, new_membership
from fireside.auth.projects import system_context
from fireside.auth.tokens import TokenGrant, TokenService
from fireside.fhir.errors import FhirError, invalid
from fireside.store import ResourceStore, StoredResource, new_resource_id

# What a bot's token may do before its membership's policies narrow it: anything in its project.
BOT_SCOPE = "system/*.*"
# A run is short: its token need not outlive it by much (the runtime asks again for the next one).
BOT_TOKEN_SECONDS = 15 * 60
MAX_NAME_LENGTH = 200
MAX_CODE_LENGTH = 1024 * 1024
_POLICY_REFERENCE = re.compile(r"AccessPolicy/[A-Za-z0-9\-.]{1,64}")


@dataclass(frozen=True)
class NewBot:
    name: str
    description: str | None
    code: str | None
    admin: bool
    access_policy: str | None  # "AccessPolicy/<id>", in the bot's project


@dataclass(frozen=True)
class CreatedBot:
    bot: StoredResource
    membership: StoredResource


def parse_bot(body: Any) -> NewBot:
    """The bot a JSON body asks for; 400 naming the element that is wrong."""
    if not isinstance(body, dict):
        raise invalid("Send the bot as a JSON object")
    name = _string(body, "name", MAX_NAME_LENGTH)
    if not name:
        raise invalid("name is required", "name")
    admin = body.get("admin", False)
    if not isinstance(admin, bool):
        raise invalid("admin must be true or false", "admin")
    policy = _string(body, "accessPolicy", 100)
    if policy is not None and not _POLICY_REFERENCE.fullmatch(policy):
        raise invalid("accessPolicy must be a reference such as AccessPolicy/123", "accessPolicy")
    return NewBot(name, _string(body, "description", 10_000), _string(body, "code", MAX_CODE_LENGTH), admin, policy)


def _string(body: dict[str, Any], name: str, max_length: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise invalid(f"{name} must be a string of at most {max_length} characters", name)
    return value


async def create_bot(store: ResourceStore, project_id: UUID, request: NewBot) -> CreatedBot:
    """The Bot and its membership, written together: there is never a Bot that cannot act."""
    ctx = system_context(project_id)
    if request.access_policy is not None:
        policy = await store.read(ctx, "AccessPolicy", request.access_policy.removeprefix("AccessPolicy/"))
        if policy is None or policy.deleted:
            raise invalid("No such AccessPolicy in this project", "accessPolicy")
    bot: dict[str, Any] = {"resourceType": "Bot", "name": request.name}
    if request.description:
        bot["description"] = request.description
    if request.code:
        bot["code"] = request.code
    bot_id = new_resource_id()
    membership = new_membership(project_id, f"Bot/{bot_id}", request.admin, f"Bot/{bot_id}", request.access_policy)
    async with store.transaction(ctx) as unit:
        stored_bot = unit.stage_put(bot, bot_id, None)
        stored_membership = unit.stage_put(membership, new_resource_id(), None)
    return CreatedBot(stored_bot, stored_membership)


async def bot_access_token(store: ResourceStore, tokens: TokenService, project_id: UUID, bot_id: str) -> str:
    """A token to act as `Bot/<bot_id>` in its project, for the code a run executes."""
    bot = await store.read(system_context(project_id), "Bot", bot_id)
    if bot is None or bot.deleted:
        raise FhirError.single("not-found", f"Bot/{bot_id} not found")
    membership = await find_membership(store, project_id, f"Bot/{bot_id}")
    if membership is None:
        raise FhirError.single("forbidden", f"Bot/{bot_id} is not a member of its project")
    grant = TokenGrant(subject=f"Bot/{bot_id}", project_id=project_id, client_id=bot_id, scope=BOT_SCOPE,
                       project_admin=membership.admin)
    return tokens.issue(grant, lifetime=BOT_TOKEN_SECONDS)
