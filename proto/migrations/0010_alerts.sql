-- Alerts (docs/alerts.md): the outbox of Slack and webhook deliveries made
-- from callback events, SLA misses, and the wake-up of the sender.

-- SLA misses are callback events too: one per (run, task), written by the
-- scheduler's alert sender when a task with an sla has not succeeded by
-- its run's data_interval_end + sla.
ALTER TABLE callback_event DROP CONSTRAINT callback_event_kind_check;
ALTER TABLE callback_event ADD CONSTRAINT callback_event_kind_check
    CHECK (kind IN ('task_failure', 'task_retry', 'task_success', 'task_skipped',
                    'dag_failure', 'dag_success', 'sla_miss'));

-- Every miss found, so that each is reported once whatever the number of
-- schedulers (the primary key is the guard).
CREATE TABLE sla_miss (
    dag_run_id  bigint NOT NULL REFERENCES dag_run (id) ON DELETE CASCADE,
    task_id     text NOT NULL,
    dag_id      text NOT NULL,
    run_id      text NOT NULL,
    deadline    timestamptz NOT NULL,      -- data_interval_end + sla
    detected_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (dag_run_id, task_id)
);

-- The SLA check reads the scheduled runs of a DAG whose deadline passed,
-- or that were created, since its last check: never the whole history.
CREATE INDEX dag_run_sla_window ON dag_run (dag_id, data_interval_end)
    WHERE run_type = 'scheduled';
CREATE INDEX dag_run_sla_queued ON dag_run (dag_id, queued_at)
    WHERE run_type = 'scheduled';

-- The outbox: one row per (event, connection), written in the transaction
-- that marks the event processed. The unique key is what makes "never the
-- same alert twice" hold with any number of senders: a delivery is claimed
-- by one sender at a time (FOR UPDATE SKIP LOCKED, then a lease in
-- next_attempt_at while 'sending'), and every result is written back
-- guarded by (leased_by, attempts).
--   pending    waiting for next_attempt_at
--   sending    claimed by leased_by until next_attempt_at (the lease); a
--              sender that died leaves it to be taken over after that
--   delivered  the receiver answered 2xx
--   failed     a permanent error (4xx other than 429, no such connection,
--              a bad URL) or gave up after alerts.give_up_after_sec;
--              last_error says why
CREATE TABLE alert_delivery (
    id              bigserial PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES callback_event (id) ON DELETE CASCADE,
    conn_id         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('slack', 'webhook', 'auto')),
    text            text,                  -- the alert's text template, NULL = default text
    channel         text,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    leased_by       text,
    body            text,                  -- the request body, kept from the first attempt
    last_status     integer,               -- HTTP status of the last attempt, NULL = none
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    UNIQUE (event_id, conn_id)
);
CREATE INDEX alert_delivery_due ON alert_delivery (next_attempt_at)
    WHERE state IN ('pending', 'sending');

-- Wake the sender (LISTEN updraft_alerts) when an event is written; the
-- notification is sent at commit, once per transaction.
CREATE FUNCTION updraft_alert_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('updraft_alerts', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER callback_event_notify AFTER INSERT ON callback_event
    FOR EACH ROW EXECUTE FUNCTION updraft_alert_notify();
