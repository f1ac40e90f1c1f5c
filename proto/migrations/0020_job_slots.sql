-- A worker's slots: how many tries it runs at once (worker.concurrency),
-- recorded when it registers, so the web UI's Jobs page can show slots
-- used / total next to the running-task count. NULL for schedulers and for
-- rows written before this column existed.
ALTER TABLE job ADD COLUMN concurrency integer CHECK (concurrency IS NULL OR concurrency > 0);
