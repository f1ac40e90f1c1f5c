-- The templated fields of a task instance as its latest try rendered them
-- (Airflow's rendered_task_instance_fields), for the web UI's Rendered tab
-- and the REST API's TaskInstance.rendered_fields. The worker writes the
-- row in the statement that stores the try's first log chunk or its
-- outcome (no round trip of its own), masked as the log is and each field
-- bounded by core.max_templated_field_length.
--
-- One row per task instance: a later try replaces it (as Airflow keeps
-- one row per instance), try_number says which try rendered it. The row
-- goes with its task instance (and so with its run). dag_id, task_id and
-- the run's logical_date are copied so that the worker can trim, in the
-- same statement, the rows of a task outside its DAG's latest
-- core.max_num_rendered_ti_fields_per_task runs on the index below.
-- json, not jsonb: the fields keep the operator's order.
CREATE TABLE rendered_task_instance_fields (
    ti_id           bigint PRIMARY KEY REFERENCES task_instance (id) ON DELETE CASCADE,
    try_number      integer NOT NULL,
    dag_id          text NOT NULL,
    task_id         text NOT NULL,
    logical_date    timestamptz NOT NULL,
    rendered_fields json NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rendered_task_instance_fields_trim
    ON rendered_task_instance_fields (dag_id, task_id, logical_date);
