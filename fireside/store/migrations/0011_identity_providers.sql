-- External OpenID Connect identity providers (fireside/auth/identity_providers.py, federation.py).

-- A provider's client secret, encrypted with the server's secret key. The rest of the provider's
-- configuration is an element of its Project (Project.identityProvider); the secret is kept out
-- of the resource so that no FHIR read can return it, not even encrypted.
CREATE TABLE identity_provider_secret (
    project_id       uuid        NOT NULL,
    issuer           text        NOT NULL,
    client_id        text        NOT NULL,
    secret_encrypted bytea       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, issuer, client_id)
);

-- A sign-in sent to an external provider and not yet back: found by the SHA-256 of the OAuth
-- `state` (256 random bits), bound to the browser's cookie, used once (deleted) and short-lived.
-- It keeps the app's authorization request, the nonce and the PKCE verifier, which never leave
-- the server. Rows are swept once expired.
CREATE TABLE identity_provider_request (
    state_hash    text        COLLATE "C" PRIMARY KEY,
    binding_hash  text        NOT NULL,
    project_id    uuid        NOT NULL,
    issuer        text        NOT NULL,
    nonce         text        NOT NULL,
    code_verifier text        NOT NULL,
    request       jsonb       NOT NULL,
    expires_at    timestamptz NOT NULL
);
