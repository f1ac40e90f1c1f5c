/*
 * ti_sched.h - the scheduler's task-instance statements: the critical
 * section's locks (enqueue), the re-send of 'queued' rows whose message
 * may be lost, the reaper's guarded ends of zombie and stuck-queued tries,
 * and the loop's reads of what falls due (retries, reschedules).
 *
 * The transitions held here (docs/design.md "State machine", the
 * scheduler's row): running -> up_for_retry or failed when the heartbeat
 * is lost (zombie), queued -> up_for_retry or failed when stuck past
 * task_queued_timeout_sec; the re-send of a 'queued' row changes no state.
 * The scheduler's other transitions are run planning's (none -> scheduled,
 * skipped, upstream_failed or removed; up_for_retry / up_for_reschedule ->
 * scheduled when due; every unfinished state -> skipped at the run's
 * timeout: store/runplan.h) and the queueing itself
 * (scheduled -> queued within every limit: pools_queue_scheduled,
 * store/pools.h). The workers' fenced transitions live in store/ti.h, the
 * users' in store/ti_admin.h. Locks are taken as store/locks.h orders them.
 *
 * Functions return 0 (UPDRAFT_OK) or a negative code of core/error.h:
 * UPDRAFT_EDB when a statement failed (db_error() says why; an open
 * transaction is aborted and the caller rolls back), UPDRAFT_ENOMEM.
 * Rows go to the caller as a PGresult (*out, caller PQclear()s) whose
 * columns are listed with each function.
 */
#ifndef UPDRAFT_STORE_TI_SCHED_H
#define UPDRAFT_STORE_TI_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"

/* ---- the enqueue critical section --------------------------------------- */

/*
 * Tries the scheduler's critical-section lock (LOCK_ENQUEUE) inside the
 * caller's transaction: *taken false when another scheduler holds it.
 */
int ti_sched_try_enqueue_lock(db_t *db, bool *taken);

/*
 * Tries the DAG locks (LOCK_DAG_CLASS) of the DAGs that have 'scheduled'
 * task instances (at most 10000 DAGs), in a statement of its own so that a
 * later statement sees every row a worker committed before it released
 * its lock; DAGs a worker holds now are left out. *dags_arr: a text[]
 * literal of the DAGs locked (malloc'd, caller frees), for
 * pools_queue_scheduled.
 */
int ti_sched_lock_scheduled_dags(db_t *db, char **dags_arr);

/*
 * Refreshes queued_at of up to max 'queued' task instances queued at least
 * older_than_sec ago (0: all), oldest first, skipping locked rows, so that
 * they are re-sent once per older_than_sec. *out: (id, try_number, queue).
 */
int ti_sched_resend(db_t *db, int older_than_sec, int max, PGresult **out);

/* ---- the reaper ----------------------------------------------------------- */

/*
 * Candidates of the reaper, at most max each: running tries whose
 * heartbeat (else start, else last update) is older than threshold_sec
 * (zombies), and queued tries queued longer than timeout_sec ago (stuck).
 * *out: (id, try_number, max_tries, dag_run_id, dag_id, task_id, the run's
 * logical date in epoch microseconds, and the task's retry_delay_sec,
 * retry_exponential_backoff, max_retry_delay_sec from the run's DAG
 * version, then the run's run_id and the map_index).
 */
int ti_sched_list_zombies(db_t *db, int threshold_sec, size_t max, PGresult **out);
int ti_sched_list_stuck(db_t *db, int timeout_sec, size_t max, PGresult **out);

typedef enum ti_sched_stale {
    TI_SCHED_ZOMBIE, /* running, no heartbeat for limit_sec */
    TI_SCHED_STUCK   /* queued for more than limit_sec */
} ti_sched_stale_t;

/*
 * Ends one reaper candidate in its own transaction (the caller has none
 * open): up_for_retry after delay_sec when retry, else failed, guarded by
 * its id, try number, state (running or queued by kind) and staleness
 * (still older than limit_sec), so that a worker reporting meanwhile wins;
 * when it changed, log_line goes to the try's log. *changed: whether it
 * did.
 */
int ti_sched_end_stale(db_t *db, ti_sched_stale_t kind, int64_t id, int try_number, bool retry,
                       long long delay_sec, int limit_sec, const char *log_line, bool *changed);

/* ---- what falls due --------------------------------------------------------- */

/*
 * The runs that have an up_for_retry or up_for_reschedule task instance
 * whose next_try_at has come, at most 10000. *out: (dag_run_id).
 */
int ti_sched_list_retry_due(db_t *db, PGresult **out);

/*
 * Seconds until the next thing the loop acts on falls due: a run to create
 * (of an active, unpaused, scheduled DAG below its max_active_runs), a
 * retry or reschedule, a run's timeout, a queued row to re-send after
 * resend_after_sec. Negative when past due; 1e9 when nothing is.
 */
int ti_sched_next_due_in(db_t *db, int resend_after_sec, double *secs);

#endif
