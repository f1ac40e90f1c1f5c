-- Task semantics: sensors in reschedule mode, and the events that
-- callbacks and alerts are made from.

-- Reschedule mode (docs/dag-format.md "Sensors"): a sensor that is not
-- done gives its slot back as 'up_for_reschedule' with next_try_at set,
-- keeping its try number. first_poke_at is when the try's first poke
-- started (the sensor's timeout counts from it); poke_count how many
-- pokes the try has made (exponential_backoff). Both are reset when a
-- new try starts.
ALTER TABLE task_instance ADD COLUMN first_poke_at timestamptz;
ALTER TABLE task_instance ADD COLUMN poke_count integer NOT NULL DEFAULT 0;
CREATE INDEX ti_reschedule ON task_instance (next_try_at) WHERE state = 'up_for_reschedule';

-- Callback events: every task state change that would call one of
-- Airflow's task callbacks (on_failure, on_retry, on_success,
-- on_skipped), and every DAG run that ends (the DAG's on_success and
-- on_failure callbacks). Written by triggers, so in the same transaction
-- as the state change whatever wrote it (worker outcome, zombie reaper,
-- run timeout, a user's mark); consumers (alerts) mark processed_at.
-- Only tries that ran count: a task the planner skips or fails upstream
-- never ran, and Airflow calls no callback for it.
CREATE TABLE callback_event (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('task_failure', 'task_retry', 'task_success',
                                               'task_skipped', 'dag_failure', 'dag_success')),
    dag_run_id   bigint NOT NULL REFERENCES dag_run (id) ON DELETE CASCADE,
    dag_id       text NOT NULL,
    run_id       text NOT NULL,
    task_id      text,                     -- NULL for DAG run events
    map_index    integer NOT NULL DEFAULT -1,
    ti_id        bigint,
    try_number   integer,
    max_tries    integer,
    hostname     text NOT NULL DEFAULT '',
    duration     double precision,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    processed_at timestamptz
);
CREATE INDEX callback_event_pending ON callback_event (id) WHERE processed_at IS NULL;
CREATE INDEX callback_event_run ON callback_event (dag_run_id);

CREATE FUNCTION updraft_ti_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callback_event (kind, dag_run_id, dag_id, run_id, task_id, map_index, ti_id,
                                try_number, max_tries, hostname, duration)
    VALUES (CASE NEW.state WHEN 'failed' THEN 'task_failure'
                           WHEN 'up_for_retry' THEN 'task_retry'
                           WHEN 'success' THEN 'task_success'
                           ELSE 'task_skipped' END,
            NEW.dag_run_id, NEW.dag_id, NEW.run_id, NEW.task_id, NEW.map_index, NEW.id,
            NEW.try_number, NEW.max_tries, NEW.hostname, NEW.duration);
    RETURN NULL;
END
$$;

CREATE TRIGGER ti_callback_event AFTER UPDATE OF state ON task_instance
    FOR EACH ROW
    WHEN (OLD.state IN ('queued', 'running')
          AND NEW.state IN ('success', 'failed', 'up_for_retry', 'skipped'))
    EXECUTE FUNCTION updraft_ti_event();

CREATE FUNCTION updraft_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callback_event (kind, dag_run_id, dag_id, run_id, duration)
    VALUES (CASE NEW.state WHEN 'failed' THEN 'dag_failure' ELSE 'dag_success' END,
            NEW.id, NEW.dag_id, NEW.run_id,
            extract(epoch FROM coalesce(NEW.end_date, now()) - NEW.start_date));
    RETURN NULL;
END
$$;

CREATE TRIGGER dag_run_callback_event AFTER UPDATE OF state ON dag_run
    FOR EACH ROW
    WHEN (OLD.state IN ('queued', 'running') AND NEW.state IN ('success', 'failed'))
    EXECUTE FUNCTION updraft_run_event();
