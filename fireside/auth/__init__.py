"""Identity and access: projects, users, memberships, clients, OAuth 2.0 and OpenID Connect."""

from fireside.auth.administrative import ACCESS_DEFINING_TYPES, ADMINISTRATIVE_TYPES, check_administrative_write
from fireside.auth.authorize import (
    AuthorizationPageError,
    AuthorizationRedirectError,
    AuthorizationRequest,
    SecondFactorRequired,
    SignedIn,
    SignInFailed,
    check_authorization_request,
    read_form_token,
    sign_form_token,
    sign_in,
)
from fireside.auth.client_auth import (
    ASSERTION_ALGORITHMS,
    CLIENT_AUTH_METHODS,
    JWT_BEARER_ASSERTION,
    AuthenticatedClient,
    authenticate_request_client,
)
from fireside.auth.clients import RegisteredClient, find_client
from fireside.auth.form_binding import new_form_binding
from fireside.auth.grants import GRANT_TYPES, grant_tokens
from fireside.auth.introspection import introspect, logout, revoke, userinfo
from fireside.auth.key_ring import SigningKeyRing
from fireside.auth.keys import KeyPolicy
from fireside.auth.memberships import Membership, UserAccount, add_membership, create_user, find_membership
from fireside.auth.oauth import OAuthError
from fireside.auth.pkce import CODE_CHALLENGE_METHODS
from fireside.auth.policies import AccessResolver, check_interaction
from fireside.auth.projects import (
    ClientCredentials,
    authenticate_client,
    create_client,
    create_project,
    ensure_admin_project,
    ensure_super_admin,
)
from fireside.auth.revocation import RevocationList
from fireside.auth.scopes import ClinicalScope, parse_scope, scope_rules
from fireside.auth.tokens import TokenGrant, TokenService

__all__ = [
    "ACCESS_DEFINING_TYPES",
    "ADMINISTRATIVE_TYPES",
    "ASSERTION_ALGORITHMS",
    "CLIENT_AUTH_METHODS",
    "CODE_CHALLENGE_METHODS",
    "GRANT_TYPES",
    "JWT_BEARER_ASSERTION",
    "AccessResolver",
    "AuthenticatedClient",
    "AuthorizationPageError",
    "AuthorizationRedirectError",
    "AuthorizationRequest",
    "ClientCredentials",
    "ClinicalScope",
    "KeyPolicy",
    "Membership",
    "OAuthError",
    "RegisteredClient",
    "RevocationList",
    "SecondFactorRequired",
    "SignInFailed",
    "SignedIn",
    "SigningKeyRing",
    "TokenGrant",
    "TokenService",
    "UserAccount",
    "add_membership",
    "authenticate_client",
    "authenticate_request_client",
    "check_administrative_write",
    "check_authorization_request",
    "check_interaction",
    "create_client",
    "create_project",
    "create_user",
    "ensure_admin_project",
    "ensure_super_admin",
    "find_client",
    "find_membership",
    "grant_tokens",
    "introspect",
    "logout",
    "new_form_binding",
    "parse_scope",
    "read_form_token",
    "revoke",
    "scope_rules",
    "sign_form_token",
    "sign_in",
    "userinfo",
]
