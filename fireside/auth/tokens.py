"""Access tokens: signed JWTs naming the caller, its project and its scopes."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import jwt

from fireside.auth.key_ring import SigningKeyRing
from fireside.auth.keys import ALGORITHM
from fireside.fhir.errors import FhirError
from fireside.store.context import AccessContext

if TYPE_CHECKING:
    from fireside.auth.revocation import RevocationList

PROJECT_CLAIM = "fireside_project"
SUPER_ADMIN_CLAIM = "fireside_super_admin"
PROJECT_ADMIN_CLAIM = "fireside_project_admin"
# The Login an access token was issued under: revoking the Login revokes the token.
LOGIN_CLAIM = "fireside_login"
# SMART App Launch context: a Patient id (scopes-and-launch-context.html#launch-context-arrives-with-your-access_token).
PATIENT_CLAIM = "patient"
VERIFIED_TOKEN_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenGrant:
    """What a token says about its bearer."""

    subject: str  # a reference: "ClientApplication/<id>" or "User/<id>"
    project_id: UUID
    client_id: str
    scope: str
    super_admin: bool = False
    project_admin: bool = False
    login_id: str | None = None
    # The token's jti; set on grants read back from a token.
    token_id: str | None = None
    expires_at: float = 0.0
    # SMART launch context: the Patient id `patient/` scopes are limited to (claim `patient`).
    patient: str | None = None

    def access_context(self) -> AccessContext:
        return AccessContext(
            project_id=self.project_id,
            author=self.subject,
            super_admin=self.super_admin,
            project_admin=self.project_admin or self.super_admin,
            scopes=tuple(self.scope.split()),
            client_id=self.client_id,
        )


class TokenService:
    def __init__(self, issuer: str, keys: SigningKeyRing, lifetime: int):
        self.issuer = issuer
        self.keys = keys
        self.lifetime = lifetime
        # token -> its grant, when it expires, and the kid that signed it.
        self._verified: dict[str, tuple[TokenGrant, float, str]] = {}
        # Set once the database pool exists (the app's lifespan); without it nothing is revoked.
        self.revocations: RevocationList | None = None

    def verification_key(self, kid: Any) -> Any:
        return self.keys.verification_key(kid)

    def jwks(self) -> dict[str, Any]:
        """Every key that may have signed a live token, the active one first (RFC 7517 section 5)."""
        return self.keys.jwks()

    def sign(self, claims: dict[str, Any]) -> str:
        """Any JWT of this server's (ID tokens, login form tokens), signed like access tokens."""
        key = self.keys.active
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    def decode(self, token: str, audience: str | None, required: tuple[str, ...] = ()) -> dict[str, Any]:
        """The claims of a JWT this server signed for `audience` (None: any); raises `jwt.PyJWTError`."""
        key = self.verification_key(jwt.get_unverified_header(token).get("kid"))
        if key is None:
            raise jwt.InvalidKeyError("signed by an unknown key")
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], issuer=self.issuer, audience=audience,
            options={"require": ["exp", "iat", *required], "verify_aud": audience is not None},
        )
        return claims

    def issue(self, grant: TokenGrant, lifetime: int | None = None) -> str:
        """A signed token for `grant`, good for `lifetime` seconds (default: the server's setting)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": grant.client_id,
            "client_id": grant.client_id,
            "scope": grant.scope,
            "iat": now,
            "nbf": now,
            "exp": now + (lifetime or self.lifetime),
            "jti": str(uuid.uuid4()),
            PROJECT_CLAIM: str(grant.project_id),
        }
        if grant.super_admin:
            claims[SUPER_ADMIN_CLAIM] = True
        if grant.project_admin:
            claims[PROJECT_ADMIN_CLAIM] = True
        if grant.login_id:
            claims[LOGIN_CLAIM] = grant.login_id
        if grant.patient:
            claims[PATIENT_CLAIM] = grant.patient
        return self.sign(claims)

    async def verify_live(self, token: str) -> TokenGrant:
        """`verify`, then refuse a token revoked since it was issued (RFC 7009)."""
        # Decoding the header costs as much as the rest of a cached check: only for a new token.
        if token not in self._verified and self.verification_key(_unverified_kid(token)) is None:
            await self.keys.reload_for_unknown_kid()  # a key another process has just made
        grant = self.verify(token)
        if self.revocations is not None:
            await self.revocations.check(grant)
        return grant

    def verify(self, token: str) -> TokenGrant:
        """The grant a valid, unexpired token carries; 401 with a reason otherwise.

        An ES256 signature check costs about as much as the rest of a read request, and a
        client sends the same token thousands of times, so verified tokens are remembered
        until they expire."""
        cached = self._verified.get(token)
        # A removed key's tokens stop at once, even those verified before.
        if cached is not None and cached[1] > time.time() and self.verification_key(cached[2]) is not None:
            return cached[0]
        grant, expires, kid = self._verify_signature_and_claims(token)
        if len(self._verified) >= VERIFIED_TOKEN_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (grant, expires, kid)
        return grant

    def _verify_signature_and_claims(self, token: str) -> tuple[TokenGrant, float, str]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.verification_key(kid)
            if key is None:
                raise FhirError.single("login", "Access token signed by an unknown key")
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iat", "sub", PROJECT_CLAIM]},
            )
        except jwt.ExpiredSignatureError as error:
            raise FhirError.single("expired", "Access token expired") from error
        except jwt.PyJWTError as error:
            raise FhirError.single("login", f"Invalid access token: {error}") from error
        grant = TokenGrant(
            subject=claims["sub"],
            project_id=UUID(claims[PROJECT_CLAIM]),
            client_id=claims.get("client_id", ""),
            scope=claims.get("scope", ""),
            super_admin=bool(claims.get(SUPER_ADMIN_CLAIM)),
            project_admin=bool(claims.get(PROJECT_ADMIN_CLAIM)),
            login_id=claims.get(LOGIN_CLAIM),
            token_id=claims.get("jti"),
            expires_at=float(claims["exp"]),
            patient=claims.get(PATIENT_CLAIM) if isinstance(claims.get(PATIENT_CLAIM), str) else None,
        )
        return grant, float(claims["exp"]), str(kid)


def _unverified_kid(token: str) -> Any:
    try:
        return jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
