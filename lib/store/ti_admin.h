/*
 * ti_admin.h - what users (the REST API, the CLI) change and read of task
 * instances, outside the scheduler's and the workers' paths (sched/clear.h
 * decides what to change; this reads and writes).
 *
 * The transitions held here (docs/design.md "State machine", users' row):
 *   - clear: any selected task instance (never 'removed') -> none, its
 *     try's traces reset and max_tries raised by the task's retries; its
 *     run -> queued (all, or only finished ones, as asked);
 *   - mark a run success: every task instance not success nor removed ->
 *     success; mark it failed: running, deferred, up_for_reschedule ->
 *     failed, the other unfinished ones -> skipped; the run -> success or
 *     failed, or back to queued (Airflow's set_dag_run_state_to_queued);
 *   - mark one task instance (map index -1), or a list of them, -> the
 *     state asked;
 *   - a task instance's note (not a state change).
 * Every state change wakes the scheduler for the runs changed (NOTIFY on
 * CHANNEL_SCHEDULER). The workers' fenced transitions are store/ti.h, the
 * scheduler's store/ti_sched.h, store/runplan.h and store/pools.h.
 *
 * The reads: a DAG's latest version and the task instances a clear
 * selects; the unmapped task instance a PATCH names; and what the commands
 * read of a run's task instances (`dags test`, `tasks state`, `tasks
 * render`).
 *
 * Each function is one statement unless it says otherwise, in the caller's
 * transaction when it has one open (else its own), and returns 0 or a negative code of
 * core/error.h. Where a user must read why, err is filled too (not on
 * UPDRAFT_ENOTFOUND unless said).
 */
#ifndef UPDRAFT_STORE_TI_ADMIN_H
#define UPDRAFT_STORE_TI_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/timeutil.h"
#include "model/dag.h"
#include "store/dagrun.h"

#define TI_ADMIN_VERSION_MAX (64 << 20) /* a serialized version larger than this is refused */

/*
 * The latest version of dag_id, parsed, in *out (caller dag_free()s).
 * Returns 0, UPDRAFT_ENOTFOUND (no such DAG, or none parsed), UPDRAFT_EINVALID
 * (the version does not read), UPDRAFT_EDB; err filled on every error.
 */
int ti_admin_load_latest_dag(db_t *db, const char *dag_id, dag_t **out, char *err, size_t errlen);

/* Which task instances of one DAG a clear selects (never 'removed' ones). */
typedef struct ti_admin_filter {
    const char *dag_id;
    const char *const *task_ids; /* the selected tasks */
    size_t n_task_ids;
    ts_us_t start, end;    /* logical date range, inclusive; TS_NONE = open */
    const char *run_id;    /* NULL = any run */
    bool only_failed;      /* failed and upstream_failed only */
    bool only_running;     /* running only */
    const char *not_state; /* NULL, or leave out task instances in this state */
    size_t limit;          /* at most this many rows */
} ti_admin_filter_t;

/* A selected task instance; strings borrowed from the list. */
typedef struct ti_admin_ti {
    int64_t id;
    int64_t dag_run_id;
    const char *run_id;
    const char *task_id;
    const char *state;
    int try_number;
    ts_us_t logical_date;
} ti_admin_ti_t;

typedef struct ti_admin_tis {
    ti_admin_ti_t *items;
    size_t n;
    PGresult *res; /* owns the strings */
} ti_admin_tis_t;

void ti_admin_tis_free(ti_admin_tis_t *l);

/*
 * The task instances f selects, by logical date, task id and map index.
 * 0, UPDRAFT_EDB or UPDRAFT_ENOMEM (err filled).
 */
int ti_admin_find(db_t *db, const ti_admin_filter_t *f, ti_admin_tis_t *out, char *err,
                  size_t errlen);

/*
 * Clears task instances ids (state 'none', max_tries raised by each task's
 * retries in its run's version, the try's traces reset), puts their runs
 * back to 'queued' as mode says ("all", "finished": only finished ones,
 * "keep": none) and wakes the scheduler for each run, in one statement.
 * *cleared, *runs (woken) and *runs_queued count what changed. 0, UPDRAFT_EDB or
 * UPDRAFT_ENOMEM (err filled).
 */
int ti_admin_clear(db_t *db, const int64_t *ids, size_t n, const char *mode, long *cleared,
                   long *runs, long *runs_queued, char *err, size_t errlen);

/* Locks run (dag_id, run_id) FOR UPDATE. 0 (*id), UPDRAFT_ENOTFOUND or UPDRAFT_EDB. */
int ti_admin_lock_run(db_t *db, const char *dag_id, const char *run_id, int64_t *id);

/*
 * Airflow 2's set_dag_run_state_to_queued: run id back to 'queued' with
 * its dates reset (unless queued already), and the scheduler woken (two
 * statements). 0 or UPDRAFT_EDB.
 */
int ti_admin_requeue_run(db_t *db, int64_t id);

/*
 * The task instances of a run marked success: every one that is not
 * success nor removed becomes success. *n counts them. 0 or UPDRAFT_EDB.
 */
int ti_admin_succeed_tis(db_t *db, int64_t run_id, long *n);

/*
 * The task instances of a run marked failed: running, deferred and
 * up_for_reschedule ones become failed, the other unfinished ones skipped.
 * *n counts them. 0 or UPDRAFT_EDB.
 */
int ti_admin_fail_tis(db_t *db, int64_t run_id, long *n);

/* Run id gets state and an end date (start date kept or set). 0 or UPDRAFT_EDB. */
int ti_admin_set_run_state(db_t *db, int64_t id, const char *state);

/*
 * Task instance (dag_id, run_id, task_id, map index -1) gets state, its
 * start date kept or set and end date now, and the scheduler is woken for
 * its run, in one statement. *n: rows changed (0: no such task instance).
 * 0 or UPDRAFT_EDB.
 */
int ti_admin_mark_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                     const char *state, long *n);

/*
 * Task instances ids that are not in state get state, as ti_admin_mark_ti
 * does, and the scheduler is woken for each of their runs, in one
 * statement. *marked: rows changed. 0, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int ti_admin_mark_tis(db_t *db, const int64_t *ids, size_t n, const char *state, long *marked);

/*
 * Sets the note (NULL: none) of task instance (dag_id, run_id, task_id,
 * map_index). 0, UPDRAFT_ENOTFOUND (no such task instance) or UPDRAFT_EDB.
 */
int ti_admin_set_note(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                      int map_index, const char *note);

/*
 * The logical date of the run of the unmapped task instance (dag_id,
 * run_id, task_id) in *logical; UPDRAFT_ENOTFOUND when there is no such
 * task instance, or UPDRAFT_EDB.
 */
int ti_admin_find_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                     ts_us_t *logical);

/* ---- what the commands read of a run's task instances ------------------- */

/* A task instance (map index -1) of a run. */
typedef struct ti_admin_row {
    int64_t id;
    char task_id[256];
    char state[DAGRUN_STATE_MAX];
    int try_number;
} ti_admin_row_t;

/*
 * The unmapped task instances of run id, by start (or end) date then id,
 * in *out (free()) of *n, and the run's state, read in the same statement
 * (so that a final state means the task instances read are final too)
 * into run_state (DAGRUN_STATE_MAX bytes; "" when the run does not exist).
 */
int ti_admin_list_run(db_t *db, int64_t id, char *run_state, ti_admin_row_t **out, size_t *n,
                      char *err, size_t errlen);

/*
 * The state of task_id (map index -1) in run id into state
 * (DAGRUN_STATE_MAX bytes): 0, UPDRAFT_ENOTFOUND, UPDRAFT_EDB.
 */
int ti_admin_state(db_t *db, int64_t id, const char *task_id, char *state, char *err,
                   size_t errlen);

/* What rendering a task of a run needs: the version's spec and the run's conf and dates. */
typedef struct ti_admin_spec {
    char *spec; /* the task's JSON in the run's DAG version; NULL: no such task */
    char *conf; /* the run's conf (JSON text) */
    ts_us_t interval_start, interval_end; /* TS_NONE when NULL */
} ti_admin_spec_t;

/* Reads task_id's spec in run id's version: UPDRAFT_ENOTFOUND when the run is gone. */
int ti_admin_task_spec(db_t *db, int64_t id, const char *task_id, ti_admin_spec_t *out, char *err,
                       size_t errlen);
void ti_admin_spec_free(ti_admin_spec_t *s);

#endif
