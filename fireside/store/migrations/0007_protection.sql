-- Rate limits for the sign-in and token endpoints (fireside/auth/rate_limits.py): one token
-- bucket per key ("ip:203.0.113.7", "client:<id>"), shared by every API process. UNLOGGED: no
-- WAL per request (a bucket is rewritten on every token request), and a crash that empties the
-- table only forgives recent requests. fillfactor 50 leaves room for HOT updates in place.
CREATE UNLOGGED TABLE rate_limit_bucket (
    bucket_key text        COLLATE "C" PRIMARY KEY,
    tokens     double precision NOT NULL,
    refill_per_second double precision NOT NULL,
    allowed    boolean     NOT NULL,
    updated_at timestamptz NOT NULL
) WITH (fillfactor = 50);

-- Failed sign-ins per account (fireside/auth/lockout.py), keyed by the SHA-256 of the
-- lower-cased email typed, whether or not a user has it, so that locking reveals nothing about
-- which emails exist. Logged: a crash must not unlock an account under attack.
CREATE TABLE login_failure (
    account_key  text        COLLATE "C" PRIMARY KEY,
    failures     integer     NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);
