-- When each scheduler's DAG processor last showed progress (a scan or a
-- file finished, or idle between scans), as the scheduler's loop saw it at
-- its own heartbeat; /health reports the DAG processor from it. NULL until
-- the first heartbeat after the start. Nullable without a default: adding
-- it rewrites nothing.
ALTER TABLE job ADD COLUMN dag_processor_heartbeat timestamptz;
