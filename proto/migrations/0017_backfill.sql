-- Backfills stored and driven by the scheduler, as Airflow 3: a backfill
-- is a row (the range, the conf its runs get, how existing runs are
-- treated, its own max_active_runs, paused or not), and its plan one row
-- per logical date in backfill_dag_run, in the order the runs start
-- (sort_ordinal). The scheduler creates (or clears) the next rows' runs
-- while fewer than max_active_runs of them are live, and sets
-- completed_at once every planned run has finished; a cancelled backfill
-- gets completed_at at once.
CREATE TABLE backfill (
    id                 bigserial PRIMARY KEY,
    dag_id             text NOT NULL REFERENCES dag (dag_id) ON DELETE CASCADE,
    from_date          timestamptz NOT NULL,
    to_date            timestamptz NOT NULL,
    dag_run_conf       jsonb NOT NULL DEFAULT '{}',
    is_paused          boolean NOT NULL DEFAULT false,
    reprocess_behavior text NOT NULL DEFAULT 'none'
                       CHECK (reprocess_behavior IN ('none', 'failed', 'completed')),
    max_active_runs    integer NOT NULL DEFAULT 10 CHECK (max_active_runs >= 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- The scheduler's list of active backfills, and at most one active
-- backfill per DAG (Airflow refuses a second one with 409).
CREATE UNIQUE INDEX backfill_active ON backfill (dag_id) WHERE completed_at IS NULL;
CREATE INDEX backfill_dag ON backfill (dag_id, id);

-- One row per logical date of the range. action is what the scheduler
-- does when the row's turn comes: 'create' a run, 'clear' the existing
-- run (every task instance), 'clear_failed' (its failed and
-- upstream_failed task instances); NULL when the date is skipped, with
-- Airflow's exception_reason ('already exists', 'in flight'). started_at
-- is set when the scheduler acted on the row (NULL: still to do);
-- dag_run_id names the run (the existing one from the plan, the new one
-- once created).
CREATE TABLE backfill_dag_run (
    id               bigserial PRIMARY KEY,
    backfill_id      bigint NOT NULL REFERENCES backfill (id) ON DELETE CASCADE,
    dag_run_id       bigint REFERENCES dag_run (id) ON DELETE SET NULL,
    exception_reason text,
    logical_date     timestamptz NOT NULL,
    data_interval_end timestamptz NOT NULL,
    sort_ordinal     integer NOT NULL,
    action           text CHECK (action IN ('create', 'clear', 'clear_failed')),
    started_at       timestamptz,
    UNIQUE (backfill_id, logical_date),
    UNIQUE (backfill_id, sort_ordinal)
);
-- The next rows of a backfill to act on, in order.
CREATE INDEX backfill_dag_run_todo ON backfill_dag_run (backfill_id, sort_ordinal)
    WHERE started_at IS NULL AND action IS NOT NULL;
CREATE INDEX backfill_dag_run_run ON backfill_dag_run (dag_run_id);
