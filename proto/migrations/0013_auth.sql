-- Who may use the webserver and the API, and what they did.
--
-- ab_user keeps Airflow's (Flask-AppBuilder's) table name and columns, so
-- an Airflow operator recognises it. roles holds role names from the one
-- permission table in the code (lib/model/roles.c): Public, Viewer, User,
-- Op, Admin. password is a yescrypt hash ($y$...), never clear text.
CREATE TABLE ab_user (
    id                 bigserial   PRIMARY KEY,
    username           text        NOT NULL UNIQUE,
    first_name         text        NOT NULL DEFAULT '',
    last_name          text        NOT NULL DEFAULT '',
    email              text        NOT NULL UNIQUE,
    password           text,
    active             boolean     NOT NULL DEFAULT true,
    roles              text[]      NOT NULL DEFAULT '{}',
    login_count        integer     NOT NULL DEFAULT 0,
    failed_login_count integer     NOT NULL DEFAULT 0,
    last_login         timestamptz,
    created_on         timestamptz NOT NULL DEFAULT now(),
    changed_on         timestamptz NOT NULL DEFAULT now()
);

-- API tokens (`updraft users token create`): only the SHA-256 of the
-- token is kept (it is 32 random bytes, so a fast hash is as good as a
-- slow one); prefix is its first characters, to tell tokens apart.
CREATE TABLE api_token (
    id           bigserial   PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES ab_user (id) ON DELETE CASCADE,
    digest       text        NOT NULL UNIQUE,
    prefix       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_token_user ON api_token (user_id);

-- Browser sessions: the SHA-256 of the cookie's value, never the value.
CREATE TABLE web_session (
    digest       text        PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES ab_user (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    address      text
);
CREATE INDEX web_session_user ON web_session (user_id);
CREATE INDEX web_session_expires ON web_session (expires_at);

-- The event log (Airflow's `log` table, served as /api/v1/eventLogs):
-- every state change made through the API or the CLI, and every login.
CREATE TABLE event_log (
    id             bigserial   PRIMARY KEY,
    dttm           timestamptz NOT NULL DEFAULT clock_timestamp(),
    event          text        NOT NULL,
    dag_id         text,
    task_id        text,
    run_id         text,
    map_index      integer,
    try_number     integer,
    execution_date timestamptz,
    owner          text,
    owner_display_name text,
    address        text,
    extra          text
);
CREATE INDEX event_log_dttm ON event_log (dttm);
CREATE INDEX event_log_dag ON event_log (dag_id, dttm) WHERE dag_id IS NOT NULL;
