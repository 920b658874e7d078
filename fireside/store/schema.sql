-- Fireside storage schema: the truth about the current schema (migrations must build the same).
--
-- Every table leads with project_id, and every primary key includes it, so the schema can be
-- distributed by project with Citus without changing a key.

-- One row per logical resource, holding its current version. Reads and searches touch only this
-- table; history lives apart so that the hot table stays as small as the live data set.
CREATE TABLE resource (
    project_id    uuid        NOT NULL,
    resource_type text        NOT NULL,
    id            text        NOT NULL,
    version_id    bigint      NOT NULL,
    last_updated  timestamptz NOT NULL,
    deleted       boolean     NOT NULL DEFAULT false,
    author        text        NOT NULL,
    -- The resource exactly as served (meta included), so reads return it without re-encoding.
    content       text,
    PRIMARY KEY (project_id, resource_type, id)
);
-- No other index here yet: on a freshly loaded, unanalyzed table the planner picked a
-- (project_id, resource_type, last_updated) index over the primary key for reads by id and
-- scanned every row of the type (1.6 ms at 16k rows, 4x slower reads). Search adds its own.

-- Every version ever written, the current one included; deletes are versions with no content.
CREATE TABLE resource_history (
    project_id    uuid        NOT NULL,
    resource_type text        NOT NULL,
    id            text        NOT NULL,
    version_id    bigint      NOT NULL,
    last_updated  timestamptz NOT NULL,
    deleted       boolean     NOT NULL DEFAULT false,
    author        text        NOT NULL,
    content       text,
    PRIMARY KEY (project_id, resource_type, id, version_id)
);
CREATE INDEX resource_history_type_time_idx ON resource_history (project_id, resource_type, last_updated);
CREATE INDEX resource_history_time_idx ON resource_history (project_id, last_updated);

-- Client secrets never live in resource content: only their argon2 hashes, here.
CREATE TABLE client_secret (
    project_id  uuid        NOT NULL,
    client_id   text        NOT NULL,
    secret_hash text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, client_id)
);
CREATE UNIQUE INDEX client_secret_client_idx ON client_secret (client_id);

-- User credentials, likewise kept out of the User resource.
CREATE TABLE user_credential (
    project_id    uuid        NOT NULL,
    user_id       text        NOT NULL,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    super_admin   boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE UNIQUE INDEX user_credential_email_idx ON user_credential (lower(email));

-- Token signing keys. The private key is encrypted with the server's secret key.
CREATE TABLE signing_key (
    kid                   text        PRIMARY KEY,
    algorithm             text        NOT NULL,
    private_key_encrypted bytea       NOT NULL,
    public_jwk            jsonb       NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    retired_at            timestamptz
);

-- Server-wide settings (the admin project's id, ...). Not per project: a Citus reference table.
CREATE TABLE server_setting (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- the resource it came from (project_id, resource_type, resource_id) plus the parameter code.
-- Each table has one B-tree shaped for the search (project, type, parameter, value...) and one
-- for replacing a resource's rows on update.

CREATE TABLE search_token (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    system        text,
    value         text,
    -- CodeableConcept.text / Coding.display, for :text
    display       text
);
CREATE INDEX search_token_value_idx ON search_token (project_id, resource_type, code, value, system);
CREATE INDEX search_token_resource_idx ON search_token (project_id, resource_type, resource_id);

CREATE TABLE search_string (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    -- lower-cased and accent-stripped, for the default starts-with match
    normalized    text NOT NULL,
    value         text NOT NULL
);
CREATE INDEX search_string_value_idx ON search_string (project_id, resource_type, code, normalized text_pattern_ops);
CREATE INDEX search_string_resource_idx ON search_string (project_id, resource_type, resource_id);

CREATE TABLE search_reference (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    target_type   text,
    target_id     text,
    -- absolute and canonical references, kept whole
    url           text
);
CREATE INDEX search_reference_target_idx ON search_reference (project_id, resource_type, code, target_id, target_type);
CREATE INDEX search_reference_resource_idx ON search_reference (project_id, resource_type, resource_id);
-- Reverse lookups (_revinclude, _has): who points at this resource?
CREATE INDEX search_reference_inbound_idx ON search_reference (project_id, target_type, target_id);

CREATE TABLE search_date (
    project_id    uuid        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    code          text        NOT NULL,
    -- the value's range at its precision: [low, high); '2020' is the whole year
    low           timestamptz NOT NULL,
    high          timestamptz NOT NULL
);
CREATE INDEX search_date_range_idx ON search_date (project_id, resource_type, code, low, high);
CREATE INDEX search_date_resource_idx ON search_date (project_id, resource_type, resource_id);

CREATE TABLE search_number (
    project_id    uuid    NOT NULL,
    resource_type text    NOT NULL,
    resource_id   text    NOT NULL,
    code          text    NOT NULL,
    value         numeric NOT NULL,
    -- quantities only
    system        text,
    unit          text
);
CREATE INDEX search_number_value_idx ON search_number (project_id, resource_type, code, value);
CREATE INDEX search_number_resource_idx ON search_number (project_id, resource_type, resource_id);

CREATE TABLE search_uri (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    code          text NOT NULL,
    value         text NOT NULL
);
CREATE INDEX search_uri_value_idx ON search_uri (project_id, resource_type, code, value text_pattern_ops);
CREATE INDEX search_uri_resource_idx ON search_uri (project_id, resource_type, resource_id);
