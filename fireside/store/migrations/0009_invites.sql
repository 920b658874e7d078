-- One-time links to set a password (fireside/auth/password_tokens.py): sent to an invited user,
-- or to a user who forgot their password. Kept by the SHA-256 of the token (never the token: it
-- is 256 random bits, so no slow hash is needed), used once, short-lived. Server-wide like
-- user_credential's emails: the link is opened before any project is known.
CREATE TABLE password_token (
    token_hash text        COLLATE "C" PRIMARY KEY,
    user_id    text        NOT NULL,
    purpose    text        NOT NULL CHECK (purpose IN ('invite', 'reset')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Setting a password spends every other outstanding link of that user.
CREATE INDEX password_token_user_idx ON password_token (user_id);

-- A password reset ends the user's sign-ins in every project: their Logins, found by user
-- without a search index (Fireside's own types have no search parameters yet). Partial, so
-- only Login rows pay for it; a Login is written at sign-in and on revocation.
CREATE INDEX resource_login_user_idx ON resource ((fireside_content_jsonb(content) -> 'user' ->> 'reference'))
    WHERE resource_type = 'Login' AND NOT deleted;
