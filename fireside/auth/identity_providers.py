"""External OpenID Connect providers a project's members may sign in with (Google, Okta, another Fireside).

A provider is an element of its project, `Project.identityProvider`: display name, issuer, the
client id this server has at the provider, the email domains it may vouch for, and whether an
email with no account here gets one. Its client secret is no element: it is sealed with the
server's secret key (fireside/auth/encryption.py) in `identity_provider_secret`, so a FHIR read of
the Project, by anyone, never holds it, even encrypted. Projects are written by super admins
only, so trusting a provider to vouch for emails is their decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fireside.auth.encryption import seal, unseal
from fireside.auth.projects import read_project, system_context
from fireside.fhir.errors import FhirError
from fireside.store import ResourceStore, StoredResource

_PURPOSE = "identity-provider-secrets"


@dataclass(frozen=True)
class IdentityProvider:
    name: str
    issuer: str  # as configured; discovery is at {issuer}/.well-known/openid-configuration
    client_id: str
    allowed_domains: tuple[str, ...] = ()  # lower-case; empty: any domain
    create_users: bool = False

    def allows_email(self, email: str) -> bool:
        domain = email.rpartition("@")[2].lower()
        return not self.allowed_domains or domain in self.allowed_domains

    def element(self) -> dict[str, Any]:
        """The `Project.identityProvider` element."""
        element: dict[str, Any] = {"name": self.name, "issuer": self.issuer, "clientId": self.client_id}
        if self.allowed_domains:
            element["allowedDomain"] = list(self.allowed_domains)
        if self.create_users:
            element["createUsers"] = True
        return element


async def project_identity_providers(store: ResourceStore, project_id: UUID) -> list[IdentityProvider]:
    project = await read_project(store, project_id)
    return [_provider(element) for element in project.get("identityProvider", [])
            if isinstance(element, dict) and element.get("issuer") and element.get("clientId")]


async def find_identity_provider(store: ResourceStore, project_id: UUID, issuer: str) -> IdentityProvider | None:
    return next((p for p in await project_identity_providers(store, project_id) if p.issuer == issuer), None)


def _provider(element: dict[str, Any]) -> IdentityProvider:
    return IdentityProvider(
        name=str(element.get("name") or element["issuer"]),
        issuer=str(element["issuer"]),
        client_id=str(element["clientId"]),
        allowed_domains=tuple(str(domain).lower().lstrip("@") for domain in element.get("allowedDomain", [])),
        create_users=element.get("createUsers") is True,
    )


async def configure_identity_provider(
    store: ResourceStore, secret_key: str, project_id: UUID, provider: IdentityProvider, client_secret: str
) -> StoredResource:
    """Add `provider` to the project (replacing one with the same issuer) and seal its secret, in
    one transaction: a provider is never configured without the secret that goes with it. Returns
    the Project as written."""
    if not client_secret:
        raise FhirError.single("required", "The provider's client secret is required", expression="clientSecret")
    ctx = system_context(project_id)
    async with store.transaction(ctx) as unit:
        stored = await unit.read("Project", str(project_id))
        if stored is None or stored.deleted:
            raise FhirError.single("not-found", "Project not found")
        project = stored.resource()
        others = [e for e in project.get("identityProvider", []) if e.get("issuer") != provider.issuer]
        written = unit.stage_put({**project, "identityProvider": [*others, provider.element()]}, str(project_id),
                                 stored)
        await unit.conn.execute(
            "INSERT INTO identity_provider_secret (project_id, issuer, client_id, secret_encrypted)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (project_id, issuer, client_id)"
            " DO UPDATE SET secret_encrypted = excluded.secret_encrypted, updated_at = now()",
            [project_id, provider.issuer, provider.client_id,
             seal(secret_key, _PURPOSE, client_secret.encode())],
        )
    return written


async def identity_provider_secret(
    store: ResourceStore, secret_key: str, project_id: UUID, provider: IdentityProvider
) -> str | None:
    """The client secret for `provider`, or None when none was configured for its client id."""
    async with store.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT secret_encrypted FROM identity_provider_secret WHERE project_id = %s AND issuer = %s"
            " AND client_id = %s", [project_id, provider.issuer, provider.client_id],
        )
        row: dict[str, Any] | None = await cursor.fetchone()
    if row is None:
        return None
    return unseal(secret_key, _PURPOSE, bytes(row["secret_encrypted"]), "identity provider's client secret").decode()


def parse_identity_provider(body: Any) -> tuple[IdentityProvider, str]:
    """The provider and its client secret from `POST /admin/projects/{id}/identity-providers`:
    `{"name", "issuer", "clientId", "clientSecret", "allowedDomain": [...], "createUsers": bool}`."""
    if not isinstance(body, dict):
        raise FhirError.single("invalid", "Send the provider as a JSON object")
    issuer = _text(body, "issuer")
    # OIDC Discovery 1.0 section 3: an https URL; plain http only on this machine (development).
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise FhirError.single("invalid", "issuer must be an https URL", expression="issuer")
    domains = body.get("allowedDomain", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
        raise FhirError.single("invalid", "allowedDomain must be a list of domains", expression="allowedDomain")
    create_users = body.get("createUsers", False)
    if not isinstance(create_users, bool):
        raise FhirError.single("invalid", "createUsers must be true or false", expression="createUsers")
    provider = IdentityProvider(_text(body, "name"), issuer, _text(body, "clientId"),
                                tuple(d.lower().lstrip("@") for d in domains), create_users)
    return provider, _text(body, "clientSecret")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise FhirError.single("required", f"{name} is required", expression=name)
    return value.strip()
