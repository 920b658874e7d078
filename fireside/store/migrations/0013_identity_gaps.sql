-- TOTP recovery codes (fireside/auth/recovery_codes.py) and the link from an external provider's
-- account to a user (fireside/auth/federation.py).

-- One-time codes a user with TOTP on may sign in with in place of a TOTP code (a lost phone).
-- Only a keyed SHA-256 of each code is kept: the codes are 60 random bits, not chosen by people,
-- so a slow hash would buy nothing (recovery_codes.py says why). used_at is set by the one
-- sign-in that spends a code. Server-wide like user_totp: sign-in checks it before any project
-- is known.
CREATE TABLE user_recovery_code (
    user_id    text        COLLATE "C" NOT NULL,
    code_hash  text        COLLATE "C" NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, code_hash)
);

-- An external provider's account, (issuer, sub), linked to the user it first signed in, per
-- project: later sign-ins find the user by it, whatever email the provider then gives. A user
-- has at most one account per provider and project (the unique index).
CREATE TABLE federated_identity (
    project_id uuid        NOT NULL,
    issuer     text        NOT NULL,
    subject    text        NOT NULL,
    user_id    text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, issuer, subject)
);
CREATE UNIQUE INDEX federated_identity_user_idx ON federated_identity (project_id, issuer, user_id);
