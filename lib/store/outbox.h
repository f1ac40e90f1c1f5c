/*
 * outbox.h - the alert outbox: callback_event rows (what happened, written
 * by the planners and workers), the alert_delivery rows the alert sender
 * makes of them (one per event and connection), SLA misses, and the
 * retention of processed events (docs/alerts.md).
 *
 * A delivery is claimed by one statement that moves it to 'sending',
 * counts the attempt and sets next_attempt_at to the end of the lease; the
 * attempt's result is written by one statement guarded by (leased_by,
 * attempts, state 'sending'), so a delivery another sender took over after
 * the lease is not overwritten. Webhook URLs never reach these tables.
 *
 * Functions return 0 (UPDRAFT_OK) or a negative code of core/error.h:
 * UPDRAFT_EDB when a statement failed (db_error() says why; an open
 * transaction is aborted and the caller rolls back), UPDRAFT_ENOMEM,
 * UPDRAFT_ENOTFOUND where said. Rows go to the caller as a PGresult (*out,
 * caller PQclear()s) whose columns are listed with each function.
 */
#ifndef UPDRAFT_STORE_OUTBOX_H
#define UPDRAFT_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "core/db.h"

/* Processed events one retention statement deletes at most. */
#define OUTBOX_PRUNE_BATCH 5000

/* ---- intake: events to deliveries ----------------------------------------- */

/*
 * Locks (FOR UPDATE SKIP LOCKED) up to max unprocessed callback events,
 * oldest first, in the caller's transaction. *out: (id, kind, task_id,
 * the run's dag_version_id).
 */
int outbox_take_events(db_t *db, int max, PGresult **out);

/*
 * Inserts the deliveries of rows_json (a JSON array of objects: event_id
 * as a string, conn_id, kind, text, channel); one that exists for its
 * (event, connection) already is left alone.
 */
int outbox_add_deliveries(db_t *db, const char *rows_json);

/* Marks the n events of ids processed now. */
int outbox_mark_processed(db_t *db, const int64_t *ids, size_t n);

/*
 * One callback event with what its message needs, UPDRAFT_ENOTFOUND when
 * it no longer exists. *out (one row): kind, dag_id, run_id, task_id,
 * map_index, try_number, max_tries, hostname, duration; the run's logical
 * date, data_interval_start and _end (epoch microseconds), conf (text) and
 * id; the last log_fetch bytes of the try's last 64 log chunks (task
 * events, else NULL); the SLA deadline (epoch microseconds, sla_miss only).
 */
int outbox_event_get(db_t *db, int64_t event_id, int log_fetch, PGresult **out);

/* ---- SLA misses --------------------------------------------------------------- */

/* The database's clock_timestamp() as text (malloc'd, caller frees). */
int outbox_clock(db_t *db, char **now);

/*
 * Records the SLA misses of tasks_json (a JSON array of objects: dag_id,
 * task_id, sla in seconds): a task of a scheduled run whose deadline
 * (data_interval_end + sla) has passed without it succeeding (or being
 * skipped or removed) by then. Only runs whose deadline passed since, or
 * that were created since, since (the previous check's outbox_clock, less
 * 60 s for late commits; NULL: lookback_sec ago) are looked at; deadlines
 * older than lookback_sec are not reported. Each miss is recorded once
 * (sla_miss) with its sla_miss callback event. *out: (dag_id, run_id,
 * task_id) of the misses recorded.
 */
int outbox_record_sla_misses(db_t *db, const char *tasks_json, const char *since, int lookback_sec,
                             PGresult **out);

/* ---- deliveries -------------------------------------------------------------- */

/*
 * Fails the due deliveries created more than give_up_after_sec ago.
 * *out: (id, conn_id, attempts) of those given up.
 */
int outbox_give_up(db_t *db, int give_up_after_sec, PGresult **out);

/*
 * Claims up to max due deliveries for owner (a lease of lease_sec),
 * soonest first, skipping locked rows. *out: (id, event_id, conn_id, kind,
 * text, channel, attempts, body).
 */
int outbox_claim(db_t *db, const char *owner, int lease_sec, size_t max, PGresult **out);

/* The result of one attempt at a delivery. */
typedef struct outbox_result {
    const char *outcome; /* "sent", "retry" (after delay_ms) or "failed" */
    int delay_ms;
    long status;       /* HTTP status; <= 0: no answer */
    const char *error; /* what went wrong, never a URL ("" when sent) */
    const char *body;  /* the body to keep; NULL: keep the one stored */
} outbox_result_t;

typedef enum outbox_state {
    OUTBOX_TAKEN_OVER, /* not written: the lease was lost to another sender */
    OUTBOX_DELIVERED,
    OUTBOX_PENDING, /* to be retried */
    OUTBOX_FAILED   /* for good (a retry past give_up_after_sec included) */
} outbox_state_t;

/*
 * Writes the result of owner's attempt number attempts at delivery id: a
 * retry that would fall after created_at + give_up_after_sec fails it
 * instead. *state: what the delivery became.
 */
int outbox_write_result(db_t *db, int64_t id, const char *owner, int attempts,
                        int give_up_after_sec, const outbox_result_t *res, outbox_state_t *state);

/* Releases an attempt that was never answered (a stop): pending and due now. */
int outbox_release(db_t *db, int64_t id, const char *owner, int attempts);

/* Milliseconds until the next pending or sending delivery is due (negative: past due; 1e9: none).
 */
int outbox_next_due_ms(db_t *db, double *ms);

/* ---- retention --------------------------------------------------------------- */

/*
 * Deletes processed events older than days (their deliveries go with
 * them), oldest first, OUTBOX_PRUNE_BATCH per statement and at most 100
 * statements, keeping any event whose delivery is still pending or
 * sending. *deleted: events deleted (also when a later statement failed).
 */
int outbox_prune(db_t *db, int days, long *deleted);

#endif
