-- The web UI's grid (store/uiquery.c) reads the state, try and times of
-- every task instance of the last N runs of a DAG: 100,000 rows for 1,000
-- runs of 100 tasks. Fetching them from the heap costs ~10x an index-only
-- scan, so the unique index on (dag_run_id, task_id, map_index) carries
-- those columns. Every update that changes them already writes a new
-- entry into this index (state is in the partial indexes' predicates, so
-- such an update is never HOT): only the entries grow. The constraint
-- keeps its name.
ALTER TABLE task_instance ADD CONSTRAINT task_instance_run_task_map_cover
    UNIQUE (dag_run_id, task_id, map_index) INCLUDE (state, try_number, start_date, end_date);
ALTER TABLE task_instance DROP CONSTRAINT task_instance_dag_run_id_task_id_map_index_key;
ALTER TABLE task_instance RENAME CONSTRAINT task_instance_run_task_map_cover
    TO task_instance_dag_run_id_task_id_map_index_key;
