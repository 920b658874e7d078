-- SMART App Launch, EHR launch (fireside/auth/launch.py): the `launch` handles an EHR makes to
-- bind patient and encounter context to an app it opens. Kept by the SHA-256 of the handle
-- (never the handle), in the project that made it: a client of another project cannot open it.
-- Short-lived and used once, by the sign-in that records its context on the Login.
CREATE TABLE smart_launch (
    project_id  uuid        NOT NULL,
    launch_hash text        NOT NULL,
    patient     text,
    encounter   text,
    client_id   text,  -- the one app it may open; NULL: any app of the project
    created_by  text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (project_id, launch_hash)
);
