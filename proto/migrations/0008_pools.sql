-- Pools (Airflow's slot_pool): a task instance is queued only while the
-- pool_slots of its pool's queued and running task instances, plus its
-- own, fit in the pool's slots. default_pool always exists.
CREATE TABLE slot_pool (
    pool             text PRIMARY KEY CHECK (length(pool) BETWEEN 1 AND 256),
    slots            integer NOT NULL CHECK (slots >= -1),   -- -1: unlimited, as Airflow
    description      text NOT NULL DEFAULT '',
    include_deferred boolean NOT NULL DEFAULT false
);
INSERT INTO slot_pool (pool, slots, description)
    VALUES ('default_pool', 128, 'Default pool') ON CONFLICT DO NOTHING;

-- Per-task limits, copied from the DAG version onto the row when the
-- planner makes it 'scheduled' (NULL: no limit), so that queueing reads
-- them set-based without the serialized DAG.
ALTER TABLE task_instance ADD COLUMN max_active_tis_per_dag integer;
ALTER TABLE task_instance ADD COLUMN max_active_tis_per_dagrun integer;

-- The pools' used slots are summed over the active task instances.
CREATE INDEX ti_active_pool ON task_instance (pool) WHERE state IN ('queued', 'running');
