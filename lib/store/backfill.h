/*
 * backfill.h - the backfill and backfill_dag_run tables (Airflow 3's
 * stored backfills): inserting a planned backfill, reading backfills with
 * their progress, pausing, unpausing and cancelling them, and the
 * scheduler's steps that act on their plans.
 *
 * A backfill's plan is one backfill_dag_run row per logical date, in
 * start order (sort_ordinal); sched/backfill.h computes it. The scheduler
 * takes the next rows whose turn has come (backfill_lock_step,
 * backfill_next_rows), creates or clears their runs and marks them
 * started (backfill_mark_row), all in one transaction that holds the
 * backfill's row lock (FOR UPDATE SKIP LOCKED): two schedulers never act
 * on one backfill at once, and a pause or a cancel (which take the same
 * row lock, waiting) never interleaves with a step. The row lock is taken
 * before the advisory locks of store/locks.h and no advisory lock is held
 * while waiting for it.
 *
 * Errors are core/error.h's codes. The functions that take (err, errlen)
 * fill it on every error but UPDRAFT_ENOTFOUND.
 */
#ifndef UPDRAFT_STORE_BACKFILL_H
#define UPDRAFT_STORE_BACKFILL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"

#define BACKFILL_REASON_MAX 32

/* What the scheduler does with a planned logical date. */
typedef enum backfill_action {
    BACKFILL_CREATE = 0,   /* create a backfill run */
    BACKFILL_CLEAR,        /* clear every task instance of the existing run */
    BACKFILL_CLEAR_FAILED, /* clear its failed and upstream_failed task instances */
    BACKFILL_SKIP          /* leave the existing run alone (exception_reason says why) */
} backfill_action_t;

/* "create", "clear", "clear_failed", NULL for BACKFILL_SKIP (backfill_dag_run.action). */
const char *backfill_action_name(backfill_action_t a);

/* One planned logical date. */
typedef struct backfill_row {
    ts_us_t logical_date, interval_end;
    backfill_action_t action;
    int64_t dag_run_id; /* the existing run's id (0: none) */
    const char *reason; /* exception_reason of a skipped date, else NULL */
} backfill_row_t;

/* A new backfill. */
typedef struct backfill_new {
    const char *dag_id;
    ts_us_t from_date, to_date;
    const char *conf_json;          /* a JSON object as text; NULL: {} */
    const char *reprocess_behavior; /* "none", "failed" or "completed" */
    int max_active_runs;            /* at least 1 */
} backfill_new_t;

/*
 * Inserts the backfill and its rows (in start order) in the caller's
 * transaction and wakes the schedulers at commit. 0 with *id, or
 * UPDRAFT_EEXISTS (the DAG has an active backfill; the transaction is
 * aborted), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int backfill_insert(db_t *db, const backfill_new_t *b, const backfill_row_t *rows, size_t n,
                    int64_t *id, char *err, size_t errlen);

/* ---- reading -------------------------------------------------------------- */

/* A backfill as the API and the commands show it, with its progress. */
typedef struct backfill_info {
    int64_t id;
    char *dag_id;
    char *dag_run_conf; /* JSON text */
    char reprocess_behavior[16];
    ts_us_t from_date, to_date, created_at, updated_at, completed_at; /* completed: TS_NONE */
    bool is_paused;
    int max_active_runs;
    /* Its planned dates: total; skipped; not started yet; and the runs it
     * acted on by their current state. */
    long total, skipped, pending, queued, running, success, failed;
} backfill_info_t;

void backfill_info_free(backfill_info_t *b, size_t n); /* frees b too; NULL is a no-op */

/* Backfill id: 0 with *out (backfill_info_free(*out, 1)), UPDRAFT_ENOTFOUND or UPDRAFT_EDB. */
int backfill_get(db_t *db, int64_t id, backfill_info_t **out);

/*
 * dag_id's backfills by id (descending when desc), a page of at most
 * limit from offset: *out (n entries, backfill_info_free) and the count of
 * all in *total. 0, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int backfill_list(db_t *db, const char *dag_id, long limit, long offset, bool desc,
                  backfill_info_t **out, size_t *n, long *total);

/*
 * The runs backfill id acted on (created or cleared), by logical date:
 * *out (free()) of *n, with id, run_id, state and logical_date. 0,
 * UPDRAFT_ENOMEM or UPDRAFT_EDB. (dagrun_ref_t is store/dagrun.h's.)
 */
struct dagrun_ref;
int backfill_list_runs(db_t *db, int64_t id, struct dagrun_ref **out, size_t *n);

/* ---- changing ------------------------------------------------------------- */

/*
 * Pauses or unpauses backfill id (waking the schedulers on unpause). 0,
 * UPDRAFT_ENOTFOUND, UPDRAFT_ECONFLICT (it is completed) or UPDRAFT_EDB.
 */
int backfill_set_paused(db_t *db, int64_t id, bool paused);

/*
 * Cancels backfill id as Airflow 3 does, in one transaction: it is paused
 * and completed (no run is created or cleared for it any more), and its
 * runs still queued are set to failed; running runs finish. *failed: the
 * runs failed. 0, UPDRAFT_ENOTFOUND, UPDRAFT_ECONFLICT (already completed)
 * or UPDRAFT_EDB.
 */
int backfill_cancel(db_t *db, int64_t id, long *failed);

/* ---- the scheduler's steps ------------------------------------------------ */

/*
 * The backfills not completed, paused or not: *out (id), caller
 * PQclear()s. Served by the partial index backfill_active. 0 or UPDRAFT_EDB.
 */
int backfill_list_active(db_t *db, PGresult **out);

/* A backfill locked for a step. */
typedef struct backfill_step {
    char *dag_id;
    char *conf;  /* JSON text */
    bool paused; /* no run is created or cleared */
    long slots;  /* runs it may start now: both its and the DAG's max_active_runs */
} backfill_step_t;

void backfill_step_clear(backfill_step_t *s);

/*
 * In the caller's transaction: locks backfill id unless another
 * transaction holds it (FOR UPDATE SKIP LOCKED) or it is completed. 0 with
 * *s, UPDRAFT_ENOTFOUND (busy, completed or gone) or UPDRAFT_EDB.
 */
int backfill_lock_step(db_t *db, int64_t id, backfill_step_t *s);

/* A row whose turn has come. */
typedef struct backfill_todo {
    int64_t row_id;
    int64_t dag_run_id; /* 0: none */
    backfill_action_t action;
    ts_us_t logical_date, interval_end;
} backfill_todo_t;

/*
 * The next (at most max) rows of backfill id still to act on, in
 * sort_ordinal order: *out (free()) of *n. 0, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int backfill_next_rows(db_t *db, int64_t id, long max, backfill_todo_t **out, size_t *n);

/*
 * Marks row row_id started with its run (0: none) and, when it was
 * skipped after all, the reason. 0 or UPDRAFT_EDB.
 */
int backfill_mark_row(db_t *db, int64_t row_id, int64_t dag_run_id, const char *reason);

/*
 * Clears run dag_run_id for a backfill (all its task instances, or only
 * failed and upstream_failed ones) when it has finished; the run goes
 * back to 'queued' and the schedulers are woken. 1 cleared, 0 when the
 * run is live (in flight) or gone, or UPDRAFT_EDB.
 */
int backfill_clear_run(db_t *db, int64_t dag_run_id, bool only_failed);

/*
 * Completes backfill id when every planned row was acted on and none of
 * its runs is live. *completed tells. 0 or UPDRAFT_EDB.
 */
int backfill_complete_if_done(db_t *db, int64_t id, bool *completed);

#endif
