-- Change notifications for the webserver's response cache (see
-- webserver/apicache.h): a statement that changes rows of a table the
-- cached answers read (the DAG list and detail read dag and import_error)
-- sends NOTIFY updraft_api with the table's name. The webserver drops its
-- cached answers on each notification.
--
-- Statement-level, so a 10,000-row upsert sends one notification (and
-- Postgres folds identical ones within a transaction); the transition
-- table lets a statement that touched no row stay silent (the scheduler's
-- and DAG processor's periodic statements often match nothing). Nothing
-- here is on task_instance or dag_run: the task hot path pays nothing.
CREATE FUNCTION updraft_api_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('updraft_api', TG_TABLE_NAME);
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM pg_notify('updraft_api', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER dag_api_insert AFTER INSERT ON dag REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();
CREATE TRIGGER dag_api_update AFTER UPDATE ON dag REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();
CREATE TRIGGER dag_api_delete AFTER DELETE ON dag REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();
CREATE TRIGGER dag_api_truncate AFTER TRUNCATE ON dag
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();

CREATE TRIGGER import_error_api_insert AFTER INSERT ON import_error REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();
CREATE TRIGGER import_error_api_update AFTER UPDATE ON import_error REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();
CREATE TRIGGER import_error_api_delete AFTER DELETE ON import_error REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();
CREATE TRIGGER import_error_api_truncate AFTER TRUNCATE ON import_error
    FOR EACH STATEMENT EXECUTE FUNCTION updraft_api_notify();
