-- Mini-scheduler: a worker that finishes a try queues the newly ready tasks
-- of its run itself, within the DAG's max_active_tasks, so it counts the
-- DAG's active task instances on every hop. Partial on live states: the
-- count never touches history.
CREATE INDEX ti_active_dag ON task_instance (dag_id) WHERE state IN ('queued', 'running');
