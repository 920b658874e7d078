-- Optional TOTP second factor (fireside/auth/totp.py, RFC 6238) and the sign-ins waiting for it.

-- A user's TOTP secret, encrypted with the server's secret key. enabled_at is NULL while an
-- enrollment waits for its first code. last_step is the newest time step whose code was accepted:
-- a code is good once (RFC 6238 section 5.2). Server-wide like user_credential: sign-in checks it
-- before any project is known.
CREATE TABLE user_totp (
    user_id          text        COLLATE "C" PRIMARY KEY,
    secret_encrypted bytea       NOT NULL,
    enabled_at       timestamptz,
    last_step        bigint      NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- A sign-in whose password was right, waiting for its code (fireside/auth/second_factor.py): the
-- signed form token names it, and it is used once, within minutes, and after a few wrong codes
-- not at all. Rows are swept once expired.
CREATE TABLE mfa_challenge (
    challenge_id text        COLLATE "C" PRIMARY KEY,
    user_id      text        NOT NULL,
    failures     integer     NOT NULL DEFAULT 0,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
