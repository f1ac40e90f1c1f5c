-- dagrun_timeout: when a running run times out. Set when the run starts
-- (start_date + the dagrun_timeout of the run's DAG version), NULL when
-- the version has none; the scheduler's timer finds due runs through the
-- partial index without reading any DAG version.
ALTER TABLE dag_run ADD COLUMN timeout_at timestamptz;
CREATE INDEX dag_run_timeout ON dag_run (timeout_at)
    WHERE state = 'running' AND timeout_at IS NOT NULL;
