-- XCom: small values tasks pass to each other (Airflow's xcom table).
--
-- One row per (DAG run, task, map index, key); value is the JSON the task
-- pushed (a bash task's return_value is a JSON string). Rows go with their
-- DAG run; a task's rows are replaced when it runs again.

CREATE TABLE xcom (
    id          bigserial PRIMARY KEY,
    dag_run_id  bigint NOT NULL REFERENCES dag_run (id) ON DELETE CASCADE,
    dag_id      text NOT NULL,
    run_id      text NOT NULL,
    task_id     text NOT NULL,
    map_index   integer NOT NULL DEFAULT -1,
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 512),
    value       jsonb,
    timestamp   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT xcom_unique UNIQUE (dag_run_id, task_id, map_index, key)
);

CREATE INDEX xcom_dag_run_task ON xcom (dag_id, run_id, task_id, key);
