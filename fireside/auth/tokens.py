"""Access tokens: signed JWTs naming the caller, its project and its scopes."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
from jwt.algorithms import ECAlgorithm

from fireside.auth.keys import ALGORITHM, SigningKey
from fireside.fhir.errors import FhirError
from fireside.store.context import AccessContext

PROJECT_CLAIM = "fireside_project"
SUPER_ADMIN_CLAIM = "fireside_super_admin"
VERIFIED_TOKEN_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenGrant:
    """What a token says about its bearer."""

    subject: str  # a reference: "ClientApplication/<id>" or "User/<id>"
    project_id: UUID
    client_id: str
    scope: str
    super_admin: bool = False

    def access_context(self) -> AccessContext:
        return AccessContext(
            project_id=self.project_id,
            author=self.subject,
            super_admin=self.super_admin,
            scopes=tuple(self.scope.split()),
        )


class TokenService:
    def __init__(self, issuer: str, signing_key: SigningKey, public_jwks: list[dict[str, Any]], lifetime: int):
        self.issuer = issuer
        self.signing_key = signing_key
        self.lifetime = lifetime
        self._verification_keys: dict[str, Any] = {}
        self._verified: dict[str, tuple[TokenGrant, float]] = {}
        self.add_public_keys(public_jwks)

    def add_public_keys(self, jwks: list[dict[str, Any]]) -> None:
        for jwk in jwks:
            self._verification_keys[jwk["kid"]] = ECAlgorithm.from_jwk(jwk)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.public_jwk]}

    def issue(self, grant: TokenGrant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": grant.client_id,
            "client_id": grant.client_id,
            "scope": grant.scope,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": str(uuid.uuid4()),
            PROJECT_CLAIM: str(grant.project_id),
        }
        if grant.super_admin:
            claims[SUPER_ADMIN_CLAIM] = True
        return jwt.encode(claims, self.signing_key.private_key, algorithm=ALGORITHM,
                          headers={"kid": self.signing_key.kid})

    def verify(self, token: str) -> TokenGrant:
        """The grant a valid, unexpired token carries; 401 with a reason otherwise.

        An ES256 signature check costs about as much as the rest of a read request, and a
        client sends the same token thousands of times, so verified tokens are remembered
        until they expire."""
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        grant, expires = self._verify_signature_and_claims(token)
        if len(self._verified) >= VERIFIED_TOKEN_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (grant, expires)
        return grant

    def _verify_signature_and_claims(self, token: str) -> tuple[TokenGrant, float]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._verification_keys.get(kid) if isinstance(kid, str) else None
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
        )
        return grant, float(claims["exp"])
