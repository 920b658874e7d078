"""Identity and access: projects, clients, tokens."""

from fireside.auth.administrative import ADMINISTRATIVE_TYPES, check_administrative_write
from fireside.auth.keys import active_signing_key, public_keys
from fireside.auth.projects import (
    ClientCredentials,
    authenticate_client,
    create_client,
    create_project,
    ensure_admin_project,
    ensure_super_admin,
)
from fireside.auth.tokens import TokenGrant, TokenService

__all__ = [
    "ADMINISTRATIVE_TYPES",
    "ClientCredentials",
    "TokenGrant",
    "TokenService",
    "active_signing_key",
    "authenticate_client",
    "check_administrative_write",
    "create_client",
    "create_project",
    "ensure_admin_project",
    "ensure_super_admin",
    "public_keys",
]
