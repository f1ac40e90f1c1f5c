-- updraft metadata schema, version 1.
--
-- Postgres is the single source of truth. Names follow Airflow's metadata
-- database where a concept is shared (dag, dag_run, task_instance, job,
-- import_error) so that operators recognise them. Every index on a hot table
-- is partial on live states: the scheduler never scans history.

CREATE TABLE dag (
    dag_id            text PRIMARY KEY,
    fileloc           text NOT NULL,
    is_paused         boolean NOT NULL DEFAULT true,
    is_active         boolean NOT NULL DEFAULT true,
    description       text,
    schedule          text,                -- as written: cron, preset, NULL = manual only
    catchup           boolean NOT NULL DEFAULT true,
    start_date        timestamptz,
    end_date          timestamptz,
    tags              text[] NOT NULL DEFAULT '{}',
    owners            text NOT NULL DEFAULT 'airflow',
    max_active_runs   integer NOT NULL DEFAULT 16,
    max_active_tasks  integer NOT NULL DEFAULT 16,
    version_id        bigint,              -- latest dag_version.id
    next_dagrun       timestamptz,         -- logical date of the next scheduled run
    next_dagrun_create_after timestamptz,  -- when that run becomes due (its interval end)
    last_parsed_time  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Serialized DAG versions: a new row only when the parsed content changes.
-- Workers read task specs from here, so they need no DAG files.
CREATE TABLE dag_version (
    id             bigserial PRIMARY KEY,
    dag_id         text NOT NULL REFERENCES dag (dag_id) ON DELETE CASCADE,
    version_number integer NOT NULL,
    hash           text NOT NULL,          -- sha256 of data, hex
    data           jsonb NOT NULL,         -- see proto/PROTOCOL.md "Serialized DAG"
    fileloc        text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dag_id, version_number)
);
CREATE INDEX dag_version_dag_hash ON dag_version (dag_id, hash);

-- Files the DAG processor has seen, for change detection across restarts.
CREATE TABLE dag_file (
    path           text PRIMARY KEY,
    hash           text NOT NULL,
    mtime          timestamptz,
    size           bigint,
    dag_ids        text[] NOT NULL DEFAULT '{}',
    last_parsed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE import_error (
    id          bigserial PRIMARY KEY,
    filename    text NOT NULL UNIQUE,
    stack_trace text NOT NULL,             -- "path:line:col: message" lines
    "timestamp" timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dag_run (
    id                  bigserial PRIMARY KEY,
    dag_id              text NOT NULL REFERENCES dag (dag_id) ON DELETE CASCADE,
    run_id              text NOT NULL,
    dag_version_id      bigint NOT NULL REFERENCES dag_version (id),
    run_type            text NOT NULL
                        CHECK (run_type IN ('scheduled', 'manual', 'backfill', 'dataset_triggered')),
    state               text NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'running', 'success', 'failed')),
    logical_date        timestamptz NOT NULL,
    data_interval_start timestamptz,
    data_interval_end   timestamptz,
    queued_at           timestamptz NOT NULL DEFAULT now(),
    start_date          timestamptz,
    end_date            timestamptz,
    conf                jsonb NOT NULL DEFAULT '{}',
    external_trigger    boolean NOT NULL DEFAULT false,
    last_scheduling_decision timestamptz,
    note                text,
    UNIQUE (dag_id, run_id),
    UNIQUE (dag_id, logical_date)
);
CREATE INDEX dag_run_live ON dag_run (dag_id, id) WHERE state IN ('queued', 'running');
CREATE INDEX dag_run_dag_logical ON dag_run (dag_id, logical_date DESC);

-- One row per (run, task, map index); the current try lives here. Log rows
-- keep every try. state 'none' is Airflow's NULL state (the API shows null).
CREATE TABLE task_instance (
    id              bigserial PRIMARY KEY,
    dag_run_id      bigint NOT NULL REFERENCES dag_run (id) ON DELETE CASCADE,
    dag_id          text NOT NULL,
    run_id          text NOT NULL,
    task_id         text NOT NULL,
    map_index       integer NOT NULL DEFAULT -1,
    state           text NOT NULL DEFAULT 'none'
                    CHECK (state IN ('none', 'scheduled', 'queued', 'running', 'success',
                                     'failed', 'skipped', 'upstream_failed', 'up_for_retry',
                                     'up_for_reschedule', 'deferred', 'removed', 'restarting')),
    try_number      integer NOT NULL DEFAULT 0,
    max_tries       integer NOT NULL DEFAULT 0,
    operator        text NOT NULL,
    queue           text NOT NULL DEFAULT 'default',
    pool            text NOT NULL DEFAULT 'default_pool',
    pool_slots      integer NOT NULL DEFAULT 1,
    priority_weight integer NOT NULL DEFAULT 1,
    hostname        text NOT NULL DEFAULT '',
    pid             integer,
    worker_id       bigint,                -- job.id of the worker that claimed the try
    queued_at       timestamptz,
    start_date      timestamptz,
    end_date        timestamptz,
    duration        double precision,      -- seconds
    heartbeat_at    timestamptz,
    next_try_at     timestamptz,           -- up_for_retry: when the next try is due
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dag_run_id, task_id, map_index)
);
CREATE INDEX ti_live ON task_instance (dag_run_id)
    WHERE state IN ('none', 'scheduled', 'queued', 'running', 'up_for_retry',
                    'up_for_reschedule', 'deferred', 'restarting');
CREATE INDEX ti_scheduled ON task_instance (priority_weight DESC, id) WHERE state = 'scheduled';
CREATE INDEX ti_queued ON task_instance (queued_at) WHERE state = 'queued';
CREATE INDEX ti_running ON task_instance (worker_id) WHERE state = 'running';
CREATE INDEX ti_retry ON task_instance (next_try_at) WHERE state = 'up_for_retry';
CREATE INDEX ti_dag_task ON task_instance (dag_id, task_id);

-- Task logs, shipped by the worker in chunks while the try runs.
CREATE TABLE task_log (
    id          bigserial PRIMARY KEY,
    ti_id       bigint NOT NULL REFERENCES task_instance (id) ON DELETE CASCADE,
    try_number  integer NOT NULL,
    data        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_log_ti_try ON task_log (ti_id, try_number, id);

-- Component heartbeats, as Airflow's job table.
CREATE TABLE job (
    id               bigserial PRIMARY KEY,
    job_type         text NOT NULL CHECK (job_type IN ('SchedulerJob', 'WorkerJob', 'WebserverJob')),
    hostname         text NOT NULL,
    pid              integer NOT NULL,
    state            text NOT NULL DEFAULT 'running'
                     CHECK (state IN ('running', 'success', 'failed')),
    queues           text[] NOT NULL DEFAULT '{}',
    start_date       timestamptz NOT NULL DEFAULT now(),
    end_date         timestamptz,
    latest_heartbeat timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_live ON job (job_type, latest_heartbeat DESC) WHERE state = 'running';
