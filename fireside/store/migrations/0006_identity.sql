-- Identity: client lookup by id, codes and refresh tokens, revocations, assertion jtis.

-- Identity (OAuth 2.0 / OpenID Connect). A client is found by its id alone at the authorization and
-- token endpoints, before its project is known: ids are unique across projects for this one type.
-- (Under Citus this index cannot be enforced on the distributed table; the lookup would move to a
-- reference table.)
CREATE UNIQUE INDEX resource_client_application_id_idx ON resource (id)
    WHERE resource_type = 'ClientApplication';

-- The token endpoint finds a signed-in user by id (User/<id> in a Login) to refresh their grant.
CREATE INDEX user_credential_user_idx ON user_credential (user_id);

-- Authorization codes and refresh tokens, by the SHA-256 of the token (never the token itself), each
-- tied to the Login it was issued for. A code is used once; a refresh token is rotated on use, and a
-- rotated one presented again revokes its Login (RFC 9700 section 4.14.2).
CREATE TABLE oauth_token (
    project_id uuid        NOT NULL,
    token_hash text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('code', 'refresh')),
    login_id   text        NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (project_id, token_hash)
);

-- Revoked access tokens (by jti) and Logins (every token issued under them), until they expire.
-- Checked on every authenticated request, through a short-lived in-process cache.
CREATE TABLE token_revocation (
    project_id uuid        NOT NULL,
    revoked_id text        NOT NULL,  -- 'jti:<jti>' or 'login:<Login id>'
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, revoked_id)
);

-- The jti of each private_key_jwt client assertion, kept for its lifetime: RFC 7523 section 3 lets
-- a server refuse a replayed assertion.
CREATE TABLE client_assertion_jti (
    project_id uuid        NOT NULL,
    client_id  text        NOT NULL,
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, client_id, jti)
);
