-- A user's note on a task instance (Airflow's TaskInstanceNote, set with
-- PATCH .../taskInstances/{task_id}[/{map_index}]/setNote), as dag_run.note
-- is a run's. At most 1000 characters, as Airflow's; the API checks it.
-- Nullable without a default: adding it rewrites nothing.
ALTER TABLE task_instance ADD COLUMN note text;
