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

-- Token signing keys. The private key is encrypted with the server's secret key. The newest
-- unretired key signs; retired_at is when a newer one replaced it (fireside/auth/keys.py).
-- resource_id is the key's JsonWebKey resource in the admin project, its public record, written
-- in the same transaction as the row; NULL until published (keys made before migration 0012).
CREATE TABLE signing_key (
    kid                   text        PRIMARY KEY,
    algorithm             text        NOT NULL,
    private_key_encrypted bytea       NOT NULL,
    public_jwk            jsonb       NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    retired_at            timestamptz,
    resource_id           text
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

-- 0005: the job queue (procrastinate 3.10) and the status of jobs a client follows.
--
-- The procrastinate tables, types, functions and triggers below are procrastinate 3.10's own
-- schema.sql, verbatim (`procrastinate schema --read`), so that `fireside migrate` sets up
-- everything and procrastinate's `apply_schema` is never run. Upgrading procrastinate past 3.10
-- means adding its later files from procrastinate/sql/migrations as new Fireside migrations; the
-- pin in pyproject.toml (~=3.10.0) keeps that from happening by accident.


DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS plpgsql WITH SCHEMA pg_catalog;
EXCEPTION
    WHEN OTHERS THEN
        -- On managed PostgreSQL services (e.g. Azure Database for PostgreSQL, Amazon RDS,
        -- Google Cloud SQL), CREATE EXTENSION may fail with various error codes:
        -- insufficient_privilege, feature_not_supported, or provider-specific errors.
        -- Before ignoring, verify the extension actually exists — if it does not exist
        -- and cannot be created, re-raise so the failure is explicit.
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'plpgsql') THEN
            RAISE NOTICE 'plpgsql extension already exists, skipping creation.';
        ELSE
            RAISE;
        END IF;
END;
$$;

-- Enums

CREATE TYPE procrastinate_job_status AS ENUM (
    'todo',  -- The job is queued
    'doing',  -- The job has been fetched by a worker
    'succeeded',  -- The job ended successfully
    'failed',  -- The job ended with an error
    'cancelled', -- The job was cancelled
    'aborting',  -- legacy, not used anymore since v3.0.0
    'aborted'  -- The job was aborted
);

CREATE TYPE procrastinate_job_event_type AS ENUM (
    'deferred',  -- Job created, in todo
    'started',  -- todo -> doing
    'deferred_for_retry',  -- doing -> todo
    'failed',  -- doing -> failed
    'succeeded',  -- doing -> succeeded
    'cancelled', -- todo -> cancelled
    'abort_requested', -- not a state transition, but set in a separate field
    'aborted', -- doing -> aborted (only allowed when abort_requested field is set)
    'scheduled', -- not a state transition, but recording when a task is scheduled for
    'retried' -- Manually retried failed job
);

-- Composite Types

CREATE TYPE procrastinate_job_to_defer_v1 AS (
    queue_name character varying,
    task_name character varying,
    priority integer,
    lock text,
    queueing_lock text,
    args jsonb,
    scheduled_at timestamp with time zone
);

-- Tables

CREATE TABLE procrastinate_workers(
    id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    last_heartbeat timestamp with time zone NOT NULL DEFAULT NOW()
);

CREATE TABLE procrastinate_jobs (
    id bigserial PRIMARY KEY,
    queue_name character varying(128) NOT NULL,
    task_name character varying(128) NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    lock text,
    queueing_lock text,
    args jsonb DEFAULT '{}' NOT NULL,
    status procrastinate_job_status DEFAULT 'todo'::procrastinate_job_status NOT NULL,
    scheduled_at timestamp with time zone NULL,
    attempts integer DEFAULT 0 NOT NULL,
    abort_requested boolean DEFAULT false NOT NULL,
    worker_id bigint REFERENCES procrastinate_workers(id) ON DELETE SET NULL,
    CONSTRAINT check_not_todo_abort_requested CHECK (NOT (status = 'todo' AND abort_requested = true))
);

CREATE TABLE procrastinate_periodic_defers (
    id bigserial PRIMARY KEY,
    task_name character varying(128) NOT NULL,
    defer_timestamp bigint,
    job_id bigint REFERENCES procrastinate_jobs(id) NULL,
    periodic_id character varying(128) NOT NULL DEFAULT '',
    CONSTRAINT procrastinate_periodic_defers_unique UNIQUE (task_name, periodic_id, defer_timestamp)
);

CREATE TABLE procrastinate_events (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES procrastinate_jobs ON DELETE CASCADE,
    type procrastinate_job_event_type,
    at timestamp with time zone DEFAULT NOW() NULL
);

-- Constraints & Indices

-- this prevents from having several jobs with the same queueing lock in the "todo" state
CREATE UNIQUE INDEX procrastinate_jobs_queueing_lock_idx_v1 ON procrastinate_jobs (queueing_lock) WHERE status = 'todo';
-- this prevents from having several jobs with the same lock in the "doing" state
CREATE UNIQUE INDEX procrastinate_jobs_lock_idx_v1 ON procrastinate_jobs (lock) WHERE status = 'doing';

-- Index for select_stalled_jobs_by_heartbeat query
CREATE INDEX idx_procrastinate_jobs_worker_not_null ON procrastinate_jobs(worker_id) WHERE worker_id IS NOT NULL AND status = 'doing'::procrastinate_job_status;

CREATE INDEX procrastinate_jobs_queue_name_idx_v1 ON procrastinate_jobs(queue_name);
CREATE INDEX procrastinate_jobs_id_lock_idx_v1 ON procrastinate_jobs (id, lock) WHERE status = ANY (ARRAY['todo'::procrastinate_job_status, 'doing'::procrastinate_job_status]);
CREATE INDEX procrastinate_jobs_priority_idx_v1 ON procrastinate_jobs(priority desc, id asc) WHERE (status = 'todo'::procrastinate_job_status);

CREATE INDEX procrastinate_events_job_id_fkey_v1 ON procrastinate_events(job_id);

CREATE INDEX procrastinate_periodic_defers_job_id_fkey_v1 ON procrastinate_periodic_defers(job_id);

CREATE INDEX idx_procrastinate_workers_last_heartbeat ON procrastinate_workers(last_heartbeat);

-- Functions
CREATE FUNCTION procrastinate_defer_jobs_v1(
    jobs procrastinate_job_to_defer_v1[]
)
    RETURNS bigint[]
    LANGUAGE plpgsql
AS $$
DECLARE
    job_ids bigint[];
BEGIN
    WITH inserted_jobs AS (
        INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
        SELECT (job).queue_name,
               (job).task_name,
               (job).priority,
               (job).lock,
               (job).queueing_lock,
               (job).args,
               (job).scheduled_at
        FROM unnest(jobs) AS job
        RETURNING id
    )
    SELECT array_agg(id) FROM inserted_jobs INTO job_ids;

    RETURN job_ids;
END;
$$;

CREATE FUNCTION procrastinate_defer_periodic_job_v2(
    _queue_name character varying,
    _lock character varying,
    _queueing_lock character varying,
    _task_name character varying,
    _priority integer,
    _periodic_id character varying,
    _defer_timestamp bigint,
    _args jsonb
)
    RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
	_job_id bigint;
	_defer_id bigint;
BEGIN
    INSERT
        INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp)
        VALUES (_task_name, _periodic_id, _defer_timestamp)
        ON CONFLICT DO NOTHING
        RETURNING id into _defer_id;

    IF _defer_id IS NULL THEN
        RETURN NULL;
    END IF;

    UPDATE procrastinate_periodic_defers
        SET job_id = (
            SELECT COALESCE((
                SELECT unnest(procrastinate_defer_jobs_v1(
                    ARRAY[
                        ROW(
                            _queue_name,
                            _task_name,
                            _priority,
                            _lock,
                            _queueing_lock,
                            _args,
                            NULL::timestamptz
                        )
                    ]::procrastinate_job_to_defer_v1[]
                ))
            ), NULL)
        )
        WHERE id = _defer_id
        RETURNING job_id INTO _job_id;

    DELETE
        FROM procrastinate_periodic_defers
        USING (
            SELECT id
            FROM procrastinate_periodic_defers
            WHERE procrastinate_periodic_defers.task_name = _task_name
            AND procrastinate_periodic_defers.periodic_id = _periodic_id
            AND procrastinate_periodic_defers.defer_timestamp < _defer_timestamp
            ORDER BY id
            FOR UPDATE
        ) to_delete
        WHERE procrastinate_periodic_defers.id = to_delete.id;

    RETURN _job_id;
END;
$$;

CREATE FUNCTION procrastinate_fetch_job_v2(
    target_queue_names character varying[],
    p_worker_id bigint
)
    RETURNS procrastinate_jobs
    LANGUAGE plpgsql
AS $$
DECLARE
	found_jobs procrastinate_jobs;
BEGIN
    WITH candidate AS (
        SELECT jobs.*
            FROM procrastinate_jobs AS jobs
            WHERE
                -- reject the job if its lock has earlier or higher priority jobs
                NOT EXISTS (
                    SELECT 1
                        FROM procrastinate_jobs AS other_jobs
                        WHERE
                            jobs.lock IS NOT NULL
                            AND other_jobs.lock = jobs.lock
                            AND (
                                -- job with same lock is already running
                                other_jobs.status = 'doing'
                                OR
                                -- job with same lock is waiting and has higher priority (or same priority but was queued first)
                                (
                                    other_jobs.status = 'todo'
                                    AND (
                                        other_jobs.priority > jobs.priority
                                        OR (
                                        other_jobs.priority = jobs.priority
                                        AND other_jobs.id < jobs.id
                                        )
                                    )
                                )
                            )
                )
                AND jobs.status = 'todo'
                AND (target_queue_names IS NULL OR jobs.queue_name = ANY( target_queue_names ))
                AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
            ORDER BY jobs.priority DESC, jobs.id ASC LIMIT 1
            FOR UPDATE OF jobs SKIP LOCKED
    )
    UPDATE procrastinate_jobs
        SET status = 'doing', worker_id = p_worker_id
        FROM candidate
        WHERE procrastinate_jobs.id = candidate.id
        RETURNING procrastinate_jobs.* INTO found_jobs;

 RETURN found_jobs;
END;
$$;

CREATE FUNCTION procrastinate_finish_job_v1(job_id bigint, end_status procrastinate_job_status, delete_job boolean)
    RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    _job_id bigint;
BEGIN
    IF end_status NOT IN ('succeeded', 'failed', 'aborted') THEN
        RAISE 'End status should be either "succeeded", "failed" or "aborted" (job id: %)', job_id;
    END IF;
    IF delete_job THEN
        DELETE FROM procrastinate_jobs
        WHERE id = job_id AND status IN ('todo', 'doing')
        RETURNING id INTO _job_id;
    ELSE
        UPDATE procrastinate_jobs
        SET status = end_status,
            abort_requested = false,
            attempts = CASE status
                WHEN 'doing' THEN attempts + 1 ELSE attempts
            END
        WHERE id = job_id AND status IN ('todo', 'doing')
        RETURNING id INTO _job_id;
    END IF;
    IF _job_id IS NULL THEN
        RAISE 'Job was not found or not in "doing" or "todo" status (job id: %)', job_id;
    END IF;
END;
$$;

CREATE FUNCTION procrastinate_cancel_job_v1(job_id bigint, abort boolean, delete_job boolean)
    RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
    _job_id bigint;
BEGIN
    IF delete_job THEN
        DELETE FROM procrastinate_jobs
        WHERE id = job_id AND status = 'todo'
        RETURNING id INTO _job_id;
    END IF;
    IF _job_id IS NULL THEN
        IF abort THEN
            UPDATE procrastinate_jobs
            SET abort_requested = true,
                status = CASE status
                    WHEN 'todo' THEN 'cancelled'::procrastinate_job_status ELSE status
                END
            WHERE id = job_id AND status IN ('todo', 'doing')
            RETURNING id INTO _job_id;
        ELSE
            UPDATE procrastinate_jobs
            SET status = 'cancelled'::procrastinate_job_status
            WHERE id = job_id AND status = 'todo'
            RETURNING id INTO _job_id;
        END IF;
    END IF;
    RETURN _job_id;
END;
$$;

CREATE FUNCTION procrastinate_retry_job_v1(
    job_id bigint,
    retry_at timestamp with time zone,
    new_priority integer,
    new_queue_name character varying,
    new_lock character varying
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    _job_id bigint;
    _abort_requested boolean;
BEGIN
    SELECT abort_requested FROM procrastinate_jobs
    WHERE id = job_id AND status = 'doing'
    FOR UPDATE
    INTO _abort_requested;
    IF _abort_requested THEN
        UPDATE procrastinate_jobs
        SET status = 'failed'::procrastinate_job_status
        WHERE id = job_id AND status = 'doing'
        RETURNING id INTO _job_id;
    ELSE
        UPDATE procrastinate_jobs
        SET status = 'todo'::procrastinate_job_status,
            attempts = attempts + 1,
            scheduled_at = retry_at,
            priority = COALESCE(new_priority, priority),
            queue_name = COALESCE(new_queue_name, queue_name),
            lock = COALESCE(new_lock, lock)
        WHERE id = job_id AND status = 'doing'
        RETURNING id INTO _job_id;
    END IF;

    IF _job_id IS NULL THEN
        RAISE 'Job was not found or not in "doing" status (job id: %)', job_id;
    END IF;
END;
$$;

CREATE FUNCTION procrastinate_retry_job_v2(
    job_id bigint,
    retry_at timestamp with time zone,
    new_priority integer,
    new_queue_name character varying,
    new_lock character varying
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    _job_id bigint;
    _abort_requested boolean;
    _current_status procrastinate_job_status;
BEGIN
    SELECT status, abort_requested FROM procrastinate_jobs
    WHERE id = job_id AND status IN ('doing', 'failed')
    FOR UPDATE
    INTO _current_status, _abort_requested;
    IF _current_status = 'doing' AND _abort_requested THEN
        UPDATE procrastinate_jobs
        SET status = 'failed'::procrastinate_job_status
        WHERE id = job_id AND status = 'doing'
        RETURNING id INTO _job_id;
    ELSE
        UPDATE procrastinate_jobs
        SET status = 'todo'::procrastinate_job_status,
            attempts = attempts + 1,
            scheduled_at = retry_at,
            priority = COALESCE(new_priority, priority),
            queue_name = COALESCE(new_queue_name, queue_name),
            lock = COALESCE(new_lock, lock)
        WHERE id = job_id AND status IN ('doing', 'failed')
        RETURNING id INTO _job_id;
    END IF;

    IF _job_id IS NULL THEN
        RAISE 'Job was not found or has an invalid status to retry (job id: %)', job_id;
    END IF;

END;
$$;

CREATE FUNCTION procrastinate_notify_queue_job_inserted_v1()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    payload TEXT;
BEGIN
    SELECT json_build_object('type', 'job_inserted', 'job_id', NEW.id)::text INTO payload;
	PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
	PERFORM pg_notify('procrastinate_any_queue_v1', payload);
	RETURN NEW;
END;
$$;

CREATE FUNCTION procrastinate_notify_queue_abort_job_v1()
RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    payload TEXT;
BEGIN
    SELECT json_build_object('type', 'abort_job_requested', 'job_id', NEW.id)::text INTO payload;
	PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
	PERFORM pg_notify('procrastinate_any_queue_v1', payload);
	RETURN NEW;
END;
$$;

CREATE FUNCTION procrastinate_trigger_function_status_events_insert_v1()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO procrastinate_events(job_id, type)
        VALUES (NEW.id, 'deferred'::procrastinate_job_event_type);
	RETURN NEW;
END;
$$;

CREATE FUNCTION procrastinate_trigger_function_status_events_update_v1()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    WITH t AS (
        SELECT CASE
            WHEN OLD.status = 'todo'::procrastinate_job_status
                AND NEW.status = 'doing'::procrastinate_job_status
                THEN 'started'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'todo'::procrastinate_job_status
                THEN 'deferred_for_retry'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'failed'::procrastinate_job_status
                THEN 'failed'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'succeeded'::procrastinate_job_status
                THEN 'succeeded'::procrastinate_job_event_type
            WHEN OLD.status = 'todo'::procrastinate_job_status
                AND (
                    NEW.status = 'cancelled'::procrastinate_job_status
                    OR NEW.status = 'failed'::procrastinate_job_status
                    OR NEW.status = 'succeeded'::procrastinate_job_status
                )
                THEN 'cancelled'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'aborted'::procrastinate_job_status
                THEN 'aborted'::procrastinate_job_event_type
            WHEN OLD.status = 'failed'::procrastinate_job_status
                AND NEW.status = 'todo'::procrastinate_job_status
                THEN 'retried'::procrastinate_job_event_type
            ELSE NULL
        END as event_type
    )
    INSERT INTO procrastinate_events(job_id, type)
        SELECT NEW.id, t.event_type
        FROM t
        WHERE t.event_type IS NOT NULL;
	RETURN NEW;
END;
$$;

CREATE FUNCTION procrastinate_trigger_function_scheduled_events_v1()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO procrastinate_events(job_id, type, at)
        VALUES (NEW.id, 'scheduled'::procrastinate_job_event_type, NEW.scheduled_at);

	RETURN NEW;
END;
$$;

CREATE FUNCTION procrastinate_trigger_abort_requested_events_procedure_v1()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO procrastinate_events(job_id, type)
        VALUES (NEW.id, 'abort_requested'::procrastinate_job_event_type);
    RETURN NEW;
END;
$$;

CREATE FUNCTION procrastinate_unlink_periodic_defers_v1()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE procrastinate_periodic_defers
    SET job_id = NULL
    WHERE job_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE FUNCTION procrastinate_register_worker_v1()
    RETURNS TABLE(worker_id bigint)
    LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY
    INSERT INTO procrastinate_workers DEFAULT VALUES
    RETURNING procrastinate_workers.id;
END;
$$;

CREATE FUNCTION procrastinate_unregister_worker_v1(worker_id bigint)
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM procrastinate_workers
    WHERE id = worker_id;
END;
$$;

CREATE FUNCTION procrastinate_update_heartbeat_v1(worker_id bigint)
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE procrastinate_workers
    SET last_heartbeat = NOW()
    WHERE id = worker_id;
END;
$$;

CREATE FUNCTION procrastinate_prune_stalled_workers_v1(seconds_since_heartbeat float)
    RETURNS TABLE(worker_id bigint)
    LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY
    DELETE FROM procrastinate_workers
    WHERE last_heartbeat < NOW() - (seconds_since_heartbeat || 'SECOND')::INTERVAL
    RETURNING procrastinate_workers.id;
END;
$$;

-- Triggers

CREATE TRIGGER procrastinate_jobs_notify_queue_job_inserted_v1
    AFTER INSERT ON procrastinate_jobs
    FOR EACH ROW WHEN ((new.status = 'todo'::procrastinate_job_status))
    EXECUTE PROCEDURE procrastinate_notify_queue_job_inserted_v1();

CREATE TRIGGER procrastinate_jobs_notify_queue_job_aborted_v1
    AFTER UPDATE OF abort_requested ON procrastinate_jobs
    FOR EACH ROW WHEN ((old.abort_requested = false AND new.abort_requested = true AND new.status = 'doing'::procrastinate_job_status))
    EXECUTE PROCEDURE procrastinate_notify_queue_abort_job_v1();

CREATE TRIGGER procrastinate_trigger_status_events_update_v1
    AFTER UPDATE OF status ON procrastinate_jobs
    FOR EACH ROW
    EXECUTE PROCEDURE procrastinate_trigger_function_status_events_update_v1();

CREATE TRIGGER procrastinate_trigger_status_events_insert_v1
    AFTER INSERT ON procrastinate_jobs
    FOR EACH ROW WHEN ((new.status = 'todo'::procrastinate_job_status))
    EXECUTE PROCEDURE procrastinate_trigger_function_status_events_insert_v1();

CREATE TRIGGER procrastinate_trigger_scheduled_events_v1
    AFTER UPDATE OR INSERT ON procrastinate_jobs
    FOR EACH ROW WHEN ((new.scheduled_at IS NOT NULL AND new.status = 'todo'::procrastinate_job_status))
    EXECUTE PROCEDURE procrastinate_trigger_function_scheduled_events_v1();

CREATE TRIGGER procrastinate_trigger_abort_requested_events_v1
    AFTER UPDATE OF abort_requested ON procrastinate_jobs
    FOR EACH ROW WHEN ((new.abort_requested = true))
    EXECUTE PROCEDURE procrastinate_trigger_abort_requested_events_procedure_v1();

CREATE TRIGGER procrastinate_trigger_delete_jobs_v1
    BEFORE DELETE ON procrastinate_jobs
    FOR EACH ROW EXECUTE PROCEDURE procrastinate_unlink_periodic_defers_v1();

-- What a client sees of a background job (https://hl7.org/fhir/R4/async.html): its progress,
-- and where it has got to, so a job killed with its worker carries on from the last committed
-- batch. Keyed by project like every other table: only the project that started a job sees it.
CREATE TABLE job_status (
    project_id   uuid        NOT NULL,
    id           uuid        NOT NULL,
    kind         text        NOT NULL,
    state        text        NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    parameters   jsonb       NOT NULL DEFAULT '{}',
    done         bigint      NOT NULL DEFAULT 0,
    total        bigint,
    -- The last (resource_type, id) a finished batch covered: {"type": "Patient", "id": "..."}.
    position     jsonb,
    result       jsonb,
    queue_job_id bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (project_id, id)
);

-- Migration 0003: composite search parameters and Location `near`.

-- Composite: one row per combination of component values found in ONE element (an
-- Observation.component, a useContext, the Observation itself), so that the components of a
-- search value are matched together, never across elements. Up to three components, each in
-- seven slots of which its type uses some (fireside/store/indexing/composites.py):
--   token      system, value          reference  system (target type), value (target id), extra (url)
--   string     value (normalized)     quantity   low, high, system, value (code), extra (unit)
--   uri        value                  number     low, high
--   date       date_low, date_high
-- Unused slots are NULL, which costs a bit each in the row header. The value index leads with
-- the first component (a code in every R4 composite); the second component is checked on the
-- rows of that code. Including it in the index would make those checks index-only at about
-- twice the index size, which the expected use (a code, then a value) does not yet justify.
CREATE TABLE search_composite (
    project_id    uuid NOT NULL,
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    parameter     text COLLATE "C" NOT NULL,
    c1_system     text COLLATE "C",
    c1_value      text COLLATE "C",
    c1_extra      text COLLATE "C",
    c1_low        numeric,
    c1_high       numeric,
    c1_date_low   timestamptz,
    c1_date_high  timestamptz,
    c2_system     text COLLATE "C",
    c2_value      text COLLATE "C",
    c2_extra      text COLLATE "C",
    c2_low        numeric,
    c2_high       numeric,
    c2_date_low   timestamptz,
    c2_date_high  timestamptz,
    c3_system     text COLLATE "C",
    c3_value      text COLLATE "C",
    c3_extra      text COLLATE "C",
    c3_low        numeric,
    c3_high       numeric,
    c3_date_low   timestamptz,
    c3_date_high  timestamptz
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_composite_value_idx ON search_composite (project_id, resource_type, parameter, c1_value, c1_system, resource_id);
CREATE INDEX search_composite_resource_idx ON search_composite (resource_id, resource_type, project_id, parameter);

-- Position: Location.position in WGS84 degrees. `near` is a bounding box on (latitude,
-- longitude) through the value index (a latitude range; longitude checked inside the index),
-- then the exact great-circle distance on what the box keeps. A B-tree, not a GiST index on a
-- point: no extension (PostGIS, cube/earthdistance) is needed, and Locations are few.
CREATE TABLE search_position (
    project_id    uuid             NOT NULL,
    resource_type text             NOT NULL,
    resource_id   text             NOT NULL,
    parameter     text             COLLATE "C" NOT NULL,
    latitude      double precision NOT NULL,
    longitude     double precision NOT NULL
) WITH (autovacuum_vacuum_insert_scale_factor = 0.02);
CREATE INDEX search_position_value_idx ON search_position (project_id, resource_type, parameter, latitude, longitude, resource_id);
CREATE INDEX search_position_resource_idx ON search_position (resource_id, resource_type, project_id, parameter);

-- Full-text search on the narrative (_text, https://hl7.org/fhir/R4/search.html#text): a GIN
-- expression index on the resource table, kept current by PostgreSQL with the content, so no
-- rows are written from Python. The 'simple' configuration lower-cases words and neither stems
-- nor drops stop words: clinical text mixes languages, codes and names, where one language's
-- stemmer would conflate terms. Tags and entities of the XHTML are not words to the parser, so
-- the div is indexed as it is.
--
-- _content (every string of the resource) has no index: one over jsonb_to_tsvector(content)
-- added 16-50% to the store's ingest CPU on the sample bundles (2.6-3.9 s of PostgreSQL CPU per
-- 17k resources), so _content is evaluated on the rows the other criteria leave (see
-- fireside/search/filters/full_text.py). This index, on resources that each carry a ~40-row
-- generated narrative, added 2.5 s (13%).
--
-- Content is kept as the client's JSON text, which may escape NUL (\u0000); jsonb cannot hold
-- NUL, so a plain content::jsonb would fail the write that indexes such a resource and any
-- query that scans it. fireside_content_jsonb drops those escapes first (escaped backslashes
-- are swapped out beforehand so that \\u0000, a backslash and 'u0000', is left alone). The
-- strpos test keeps the common case to a single scan.
CREATE FUNCTION fireside_content_jsonb(content text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE WHEN strpos(content, '\u0000') = 0 THEN content::jsonb
        ELSE replace(replace(content, '\\', U&'\E000'), '\u0000', '')::jsonb END;

CREATE INDEX resource_narrative_text_idx ON resource
    USING gin (to_tsvector('simple'::regconfig, fireside_content_jsonb(content) -> 'text' ->> 'div'));

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

-- Writes that change what a token may reach, announced to every API process
-- (fireside/auth/changes.py), which then drops what it cached. NOTIFY is delivered at commit, so a
-- listener never re-reads the state from before the change, and a rolled-back write says nothing.

-- A membership, access policy or client (its allowed scopes) written or deleted: the project id.
CREATE FUNCTION fireside_notify_access_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fireside_access', NEW.project_id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER resource_access_change AFTER INSERT OR UPDATE ON resource FOR EACH ROW
    WHEN (NEW.resource_type IN ('ProjectMembership', 'AccessPolicy', 'ClientApplication'))
    EXECUTE FUNCTION fireside_notify_access_change();

-- A token or Login revoked: "<project id> <revoked id>".
CREATE FUNCTION fireside_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fireside_revocation', NEW.project_id::text || ' ' || NEW.revoked_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER token_revocation_notify AFTER INSERT OR UPDATE ON token_revocation FOR EACH ROW
    EXECUTE FUNCTION fireside_notify_revocation();
