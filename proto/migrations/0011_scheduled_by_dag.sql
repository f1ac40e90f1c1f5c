-- Queueing reads a DAG's 'scheduled' task instances by priority
-- (common/pools.c): per DAG, so that one DAG's backlog never slows the
-- queueing of another's.
CREATE INDEX ti_scheduled_dag ON task_instance (dag_id, priority_weight DESC, id)
    WHERE state = 'scheduled';
