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

-- Search indexes: one table per search parameter type (https://hl7.org/fhir/R4/search.html#ptypes).
--
-- A row per extracted value, keyed (project_id, resource_type, resource_id, parameter) like the
-- resource it came from; rows exist only for the current, undeleted version of a resource and
-- are replaced in the same transaction as its content. No primary keys: rows are unique by
-- construction (the indexer drops duplicates), and a unique index would be one more B-tree per
-- row on every write.
--
-- Each table has two narrow B-trees, both covering, so searches are index-only scans:
--   *_value_idx     (project_id, resource_type, parameter, value..., resource_id) answers a
--                   criterion. With every value column fixed by equality (a token system|code,
--                   a reference Type/id) the matches come out in resource_id order, so
--                   `ORDER BY id LIMIT n` stops after n, and "does resource X have value V"
--                   (a probe for the second criterion of a search) is one descent.
--   *_resource_idx  (resource_id, resource_type, project_id, parameter) clears a resource's rows
--                   on update and delete, and serves :missing, _include and _sort lookups. It
--                   leads with resource_id so that it cannot serve a value search: on tables
--                   whose statistics lag a bulk load, the planner picked it (as
--                   project_id, resource_type, ...) for `Practitioner?identifier=` and filtered
--                   every Practitioner's rows: 1.4 ms per conditional reference instead of
--                   0.26 ms, and sample Bundle ingest at 3,700 instead of 7,000 resources/s.
--                   Time-ordered (UUIDv7) ids also make its inserts land at the right edge.
-- Value columns are COLLATE "C": comparisons are memcmp rather than locale-aware, and a prefix
-- match is a plain B-tree range that a generic (prepared) plan can use. resource_type,
-- resource_id and reference targets keep the database collation, so that joins to `resource`
-- can use its primary key.
--
-- autovacuum_vacuum_insert_scale_factor: ingest only inserts, and an index-only scan visits the
-- heap for any page not yet marked all-visible by VACUUM; vacuum after 2% new rows, not 20%.

-- Token: Coding/CodeableConcept (system, code), Identifier (system, value), ContactPoint
-- (system, value), code, boolean, string. `system|` alone scans the parameter's entries: rare.
CREATE TABLE search_token (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    parameter     text COLLATE "C" NOT NULL,
    system        text COLLATE "C",
    value         text COLLATE "C",
    -- For :text only, not indexed: CodeableConcept.text (else Coding.display) or
    -- Identifier.type.text, normalized like strings.
    text          text
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_token_value_idx ON search_token (project_id, resource_type, parameter, value, system, resource_id);
CREATE INDEX search_token_resource_idx ON search_token (resource_id, resource_type, project_id, parameter);
-- Codes are skewed (four LOINC codes are on half the Observations) and the system follows from
-- the code: with per-column statistics alone the planner multiplies the selectivities and, at
-- 1M resources, expected 7,000 rows for a code that has 130,000; with these, 166,000.
CREATE STATISTICS search_token_value_stats (dependencies, mcv) ON resource_type, parameter, value, system
    FROM search_token;

-- String: one row per string, HumanName part (family, given, prefix, suffix, text) and Address
-- part (line, city, district, state, postalCode, country, text).
CREATE TABLE search_string (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    parameter     text COLLATE "C" NOT NULL,
    -- Case-folded with accents stripped: the default match is a prefix range on this.
    normalized    text COLLATE "C" NOT NULL,
    -- As written, for :exact (checked after the index finds `normalized`).
    value         text NOT NULL
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_string_value_idx ON search_string (project_id, resource_type, parameter, normalized, resource_id);
CREATE INDEX search_string_resource_idx ON search_string (resource_id, resource_type, project_id, parameter);

-- Reference: a local reference is (target_type, target_id); an absolute URL or a canonical
-- keeps the URL without |version as target_id, whole in url. target_id leads target_type in
-- the index so that `subject=123` (any type) is a prefix too. Reverse lookups (_revinclude,
-- _has) know the source type and parameter, so they use the same index.
CREATE TABLE search_reference (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    parameter     text COLLATE "C" NOT NULL,
    target_type   text,
    target_id     text NOT NULL,
    url           text
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_reference_value_idx ON search_reference (project_id, resource_type, parameter, target_id, target_type, resource_id);
CREATE INDEX search_reference_resource_idx ON search_reference (resource_id, resource_type, project_id, parameter);

-- Date: the range a value covers at its precision, [low, high): '2020' is all of 2020; a Period
-- open at one end reaches to -infinity/infinity; a Timing counts by its outer limits. Prefixes
-- that bound the start (eq, lt, le, sa) are ranges on low and those that bound the end (gt, ge,
-- eb) ranges on high, hence an index on each; they also give `_sort=date` (by low) and
-- `_sort=-date` (by high) in index order for keyset paging. The resource index includes both
-- bounds so that a date criterion checked after another criterion stays index-only.
CREATE TABLE search_date (
    project_id    uuid        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    parameter     text        COLLATE "C" NOT NULL,
    low           timestamptz NOT NULL,
    high          timestamptz NOT NULL
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_date_low_idx ON search_date (project_id, resource_type, parameter, low, resource_id) INCLUDE (high);
CREATE INDEX search_date_high_idx ON search_date (project_id, resource_type, parameter, high, resource_id) INCLUDE (low);
CREATE INDEX search_date_resource_idx ON search_date (resource_id, resource_type, project_id, parameter) INCLUDE (low, high);

-- Number: a decimal or integer is the point [v, v]. The search value's precision makes the
-- range that eq matches (100 is [99.5, 100.5)), so the stored value needs none.
CREATE TABLE search_number (
    project_id    uuid    NOT NULL,
    resource_type text    NOT NULL,
    resource_id   text    NOT NULL,
    parameter     text    COLLATE "C" NOT NULL,
    low           numeric NOT NULL,
    high          numeric NOT NULL
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_number_value_idx ON search_number (project_id, resource_type, parameter, low, resource_id) INCLUDE (high);
CREATE INDEX search_number_resource_idx ON search_number (resource_id, resource_type, project_id, parameter) INCLUDE (low, high);

-- Quantity: Quantity (and Age, Duration, ...) is [v, v], a Range [low, high] with open ends at
-- -Infinity/Infinity (numeric infinities: PostgreSQL 14+), Money has the ISO 4217 currency as
-- code. Units are checked after the index finds the values; canonical (UCUM-normalized) low,
-- high and unit columns come with unit conversion.
CREATE TABLE search_quantity (
    project_id    uuid    NOT NULL,
    resource_type text    NOT NULL,
    resource_id   text    NOT NULL,
    parameter     text    COLLATE "C" NOT NULL,
    low           numeric NOT NULL,
    high          numeric NOT NULL,
    system        text    COLLATE "C",
    code          text    COLLATE "C",
    unit          text
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_quantity_value_idx ON search_quantity (project_id, resource_type, parameter, low, resource_id) INCLUDE (high);
CREATE INDEX search_quantity_resource_idx ON search_quantity (resource_id, resource_type, project_id, parameter) INCLUDE (low, high);

-- Uri: :below is a prefix range on value; :above is value = ANY(the search value's prefixes).
CREATE TABLE search_uri (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    parameter     text COLLATE "C" NOT NULL,
    value         text COLLATE "C" NOT NULL
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_uri_value_idx ON search_uri (project_id, resource_type, parameter, value, resource_id);
CREATE INDEX search_uri_resource_idx ON search_uri (resource_id, resource_type, project_id, parameter);

-- _lastUpdated is read from the resource table, through this index. Its predicate restricts it
-- to queries that constrain last_updated: `last_updated IS NOT NULL` always holds (the column is
-- NOT NULL), but PostgreSQL uses a partial index only for a query that implies its predicate,
-- and only a comparison on last_updated (or the same IS NOT NULL, which `_sort=_lastUpdated`
-- states) implies it. Reads by id, `_id=` and the store's `read_many` therefore keep the
-- primary key: with `NOT deleted` alone as predicate, the planner took this index for
-- `id = ANY(...)` on an unanalyzed table and filtered every Observation (3 ms instead of 0.02).
CREATE INDEX resource_last_updated_idx ON resource (project_id, resource_type, last_updated, id)
    WHERE NOT deleted AND last_updated IS NOT NULL;
