/*
 * tiadmin.h - the statements of user-driven task instance and run changes
 * (sched/clear.h decides what to change; this reads and writes): reading a
 * DAG's latest version and the task instances a clear selects, clearing
 * them, marking a run or a task instance success or failed, and waking the
 * scheduler for the runs changed (NOTIFY on CHANNEL_SCHEDULER).
 *
 * Each function is one statement, in the caller's transaction when it has
 * one open (else its own), and returns 0 or a negative code of
 * core/error.h. Where a user must read why, err is filled too.
 */
#ifndef UPDRAFT_STORE_TIADMIN_H
#define UPDRAFT_STORE_TIADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/timeutil.h"
#include "model/dag.h"

#define TIADMIN_VERSION_MAX (64 << 20) /* a serialized version larger than this is refused */

/*
 * The latest version of dag_id, parsed, in *out (caller dag_free()s).
 * Returns 0, UPDRAFT_ENOTFOUND (no such DAG, or none parsed), UPDRAFT_EINVALID
 * (the version does not read), UPDRAFT_EDB; err filled on every error.
 */
int tiadmin_load_latest_dag(db_t *db, const char *dag_id, dag_t **out, char *err, size_t errlen);

/* Which task instances of one DAG a clear selects (never 'removed' ones). */
typedef struct tiadmin_filter {
    const char *dag_id;
    const char *const *task_ids; /* the selected tasks */
    size_t n_task_ids;
    ts_us_t start, end; /* logical date range, inclusive; TS_NONE = open */
    const char *run_id; /* NULL = any run */
    bool only_failed;   /* failed and upstream_failed only */
    bool only_running;  /* running only */
    size_t limit;       /* at most this many rows */
} tiadmin_filter_t;

/* A selected task instance; strings borrowed from the list. */
typedef struct tiadmin_ti {
    int64_t id;
    int64_t dag_run_id;
    const char *run_id;
    const char *task_id;
    const char *state;
    int try_number;
    ts_us_t logical_date;
} tiadmin_ti_t;

typedef struct tiadmin_tis {
    tiadmin_ti_t *items;
    size_t n;
    PGresult *res; /* owns the strings */
} tiadmin_tis_t;

void tiadmin_tis_free(tiadmin_tis_t *l);

/*
 * The task instances f selects, by logical date, task id and map index.
 * 0, UPDRAFT_EDB or UPDRAFT_ENOMEM (err filled).
 */
int tiadmin_find(db_t *db, const tiadmin_filter_t *f, tiadmin_tis_t *out, char *err, size_t errlen);

/*
 * Clears task instances ids (state 'none', max_tries raised by each task's
 * retries in its run's version, the try's traces reset), puts their runs
 * back to 'queued' as mode says ("all", "finished": only finished ones,
 * "keep": none) and wakes the scheduler for each run, in one statement.
 * *cleared, *runs (woken) and *runs_queued count what changed. 0, UPDRAFT_EDB or
 * UPDRAFT_ENOMEM (err filled).
 */
int tiadmin_clear(db_t *db, const int64_t *ids, size_t n, const char *mode, long *cleared,
                  long *runs, long *runs_queued, char *err, size_t errlen);

/* Locks run (dag_id, run_id) FOR UPDATE. 0 (*id), UPDRAFT_ENOTFOUND or UPDRAFT_EDB. */
int tiadmin_lock_run(db_t *db, const char *dag_id, const char *run_id, int64_t *id);

/*
 * Airflow 2's set_dag_run_state_to_queued: run id back to 'queued' with
 * its dates reset (unless queued already), and the scheduler woken (two
 * statements). 0 or UPDRAFT_EDB.
 */
int tiadmin_requeue_run(db_t *db, int64_t id);

/*
 * The task instances of a run marked success: every one that is not
 * success nor removed becomes success. *n counts them. 0 or UPDRAFT_EDB.
 */
int tiadmin_succeed_tis(db_t *db, int64_t run_id, long *n);

/*
 * The task instances of a run marked failed: running, deferred and
 * up_for_reschedule ones become failed, the other unfinished ones skipped.
 * *n counts them. 0 or UPDRAFT_EDB.
 */
int tiadmin_fail_tis(db_t *db, int64_t run_id, long *n);

/* Run id gets state and an end date (start date kept or set). 0 or UPDRAFT_EDB. */
int tiadmin_set_run_state(db_t *db, int64_t id, const char *state);

/*
 * Task instance (dag_id, run_id, task_id, map index -1) gets state, its
 * start date kept or set and end date now, and the scheduler is woken for
 * its run, in one statement. *n: rows changed (0: no such task instance).
 * 0 or UPDRAFT_EDB.
 */
int tiadmin_mark_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                    const char *state, long *n);

#endif
