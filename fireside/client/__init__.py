"""The Fireside Python SDK: a FHIR R4 client, sync (`FiresideClient`) and async
(`AsyncFiresideClient`), sharing one sans-I/O core. See docs/sdk.md.

Typed resources live in `fireside.client.types` (generated; import it only where you want the
TypedDicts: the client itself never imports it at run time).
"""

from fireside.client.admin import Invitation
from fireside.client.asynchronous import AsyncFiresideClient
from fireside.client.auth import (
    Authenticator,
    ClientCredentials,
    OAuthGrant,
    PasswordSignIn,
    PrivateKeyJwt,
    RefreshToken,
    SignInFlow,
    StaticToken,
    decode_token_claims,
)
from fireside.client.bundles import BundleBuilder
from fireside.client.core import Resource, SearchParams
from fireside.client.errors import FiresideError, format_outcome
from fireside.client.exchange import HttpResponse, RetryPolicy
from fireside.client.sync import DEFAULT_BASE_URL, FiresideClient

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncFiresideClient",
    "Authenticator",
    "BundleBuilder",
    "ClientCredentials",
    "FiresideClient",
    "FiresideError",
    "HttpResponse",
    "Invitation",
    "OAuthGrant",
    "PasswordSignIn",
    "PrivateKeyJwt",
    "RefreshToken",
    "Resource",
    "RetryPolicy",
    "SearchParams",
    "SignInFlow",
    "StaticToken",
    "decode_token_claims",
    "format_outcome",
]
