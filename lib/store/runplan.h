/*
 * runplan.h - the statements that run planning applies (sched/planrun.h
 * decides; this reads and writes). Every function runs inside the
 * caller's transaction (none begins or commits), in one round trip unless
 * it says otherwise, and returns 0 or a negative code of core/error.h.
 *
 * The task instance writes are set-based (WHERE id = ANY($1)) and repeat
 * the state they expect, so a row changed concurrently by a worker or a
 * user is left as they left it. Queueing the ready ones is
 * pools_queue_scheduled (store/pools.h).
 */
#ifndef UPDRAFT_STORE_RUNPLAN_H
#define UPDRAFT_STORE_RUNPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/timeutil.h"
#include "model/dag.h"
#include "model/planner.h"

/* A live run, as its planner locked it. */
typedef struct runplan_run {
    int64_t version_id;
    char dag_id[DAG_ID_MAX + 1];
    char run_id[256];
    bool queued;                          /* state 'queued' (else 'running') */
    bool dag_locked;                      /* the DAG's queueing lock was asked for and taken */
    bool manual;                          /* not a scheduled run, or triggered externally */
    ts_us_t interval_start, interval_end; /* TS_NONE when unset */
} runplan_run_t;

/* A task instance of the run being planned. */
typedef struct runplan_ti {
    int64_t id;
    const char *task_id; /* borrowed from the list */
    ti_state_t state;    /* TI_NONE when the stored state is unknown */
    bool retry_due;      /* up_for_retry or up_for_reschedule whose time has come */
    int map_index;
} runplan_ti_t;

typedef struct runplan_tis {
    runplan_ti_t *items;
    size_t n;
    PGresult *res; /* owns the task ids */
} runplan_tis_t;

/* Rows of (task id, text), borrowed from the result the list holds. */
typedef struct runplan_pair {
    const char *task_id;
    const char *text;
} runplan_pair_t;

typedef struct runplan_pairs {
    runplan_pair_t *items;
    size_t n;
    PGresult *res;
} runplan_pairs_t;

void runplan_tis_free(runplan_tis_t *l);
void runplan_pairs_free(runplan_pairs_t *l);

/* ---- the run ------------------------------------------------------------ */

/*
 * Locks live (queued or running) run run_id FOR UPDATE SKIP LOCKED; with
 * try_dag_lock also tries the DAG's queueing lock (LOCK_DAG_CLASS) in the
 * same round trip, held to the caller's commit. 0 (*out filled),
 * UPDRAFT_ENOTFOUND (not live, or held by another planner) or UPDRAFT_EDB.
 */
int runplan_lock_run(db_t *db, int64_t run_id, bool try_dag_lock, runplan_run_t *out);

/*
 * Whether queued run run_id may start now (two statements): takes the DAG's run-start lock
 * (LOCK_RUNS_CLASS, held to the commit) and counts its running runs and
 * the older queued ones against max_active_runs (1 for @continuous); a
 * paused DAG starts only manual and backfill runs. 0 (*may) or UPDRAFT_EDB.
 */
int runplan_may_start(db_t *db, const char *dag_id, int64_t run_id, bool *may);

/*
 * Starts run run_id (running, start date, timeout_at when timeout_sec > 0).
 * *started: the start date set now (epoch microseconds), TS_NONE when the
 * run kept one from before a clear. 0 or UPDRAFT_EDB.
 */
int runplan_start(db_t *db, int64_t run_id, int timeout_sec, ts_us_t *started);

/*
 * Ends run run_id in state ("success" or "failed"). *duration_sec: end
 * minus start date (-1 when it has none); *first_task_start: the earliest
 * start date of its task instances (TS_NONE when none started). 0 or
 * UPDRAFT_EDB.
 */
int runplan_finish(db_t *db, int64_t run_id, const char *state, double *duration_sec,
                   ts_us_t *first_task_start);

/* Records that run run_id was planned (last_scheduling_decision). 0 or UPDRAFT_EDB. */
int runplan_touch(db_t *db, int64_t run_id);

/*
 * max_consecutive_failed_dag_runs: pauses dag_id when its n latest runs (by
 * logical date) all failed; n <= 0 does nothing. *paused: it was paused
 * now. 0 or UPDRAFT_EDB.
 */
int runplan_pause_if_failing(db_t *db, const char *dag_id, int n, bool *paused);

/* The ids of the live runs, oldest first, at most max (*ids malloc'd). 0, UPDRAFT_EDB or ENOMEM. */
int runplan_list_live(db_t *db, size_t max, int64_t **ids, size_t *n);

/* ---- what planning reads ------------------------------------------------ */

/* The task instances of run run_id by task id and map index. 0, UPDRAFT_EDB or ENOMEM. */
int runplan_load_tis(db_t *db, int64_t run_id, runplan_tis_t *out);

/* The skipmixin XComs (task id, JSON) of run run_id. 0, UPDRAFT_EDB or ENOMEM. */
int runplan_load_skipmixins(db_t *db, int64_t run_id, runplan_pairs_t *out);

/*
 * The task instances (task id, state) of the run before run_id by logical
 * date (none for the first run). 0, UPDRAFT_EDB or ENOMEM.
 */
int runplan_load_previous(db_t *db, int64_t run_id, runplan_pairs_t *out);

/* ---- what planning writes ----------------------------------------------- */

/*
 * Makes ids 'scheduled' from state from ("none", "up_for_retry",
 * "up_for_reschedule"), clearing next_try_at and copying each one's
 * max_active_tis_per_dag/_per_dagrun (per_dag[i], per_run[i], 0 = none)
 * onto its row for the queueing statement. n == 0 does nothing. 0,
 * UPDRAFT_EDB or ENOMEM.
 */
int runplan_schedule(db_t *db, const int64_t *ids, const int *per_dag, const int *per_run, size_t n,
                     const char *from);

/* Tasks the planner runs itself (empty ones): 'none' to success, now. 0, UPDRAFT_EDB or ENOMEM. */
int runplan_succeed(db_t *db, const int64_t *ids, size_t n);

/* Rows whose task is not in the run's version: to 'removed' unless queued or running. */
int runplan_remove(db_t *db, const int64_t *ids, size_t n);

/* 'none' to a final state (skipped, upstream_failed, failed), ended now. 0, UPDRAFT_EDB or ENOMEM.
 */
int runplan_settle(db_t *db, const int64_t *ids, size_t n, const char *state);

/*
 * Expands mapped task instance ti_id ('none', map index -1) into n >= 1
 * instances: it becomes map index 0 and rows 1..n-1 are added, all
 * 'scheduled', with the per-task limits per_dag/per_run. The new rows' ids
 * are appended to ids (room for n - 1 more), *nids advanced. 0 or
 * UPDRAFT_EDB.
 */
int runplan_expand(db_t *db, int64_t ti_id, size_t n, int per_dag, int per_run, int64_t *ids,
                   size_t *nids);

/* latest_only's decision: the skipmixin XCom (JSON) of task instance ti_id. 0 or UPDRAFT_EDB. */
int runplan_write_skipmixin(db_t *db, int64_t ti_id, const char *json);

/* ---- dagrun_timeout ----------------------------------------------------- */

/* The running runs whose timeout_at has passed, at most max (*ids malloc'd). */
int runplan_list_timed_out(db_t *db, size_t max, int64_t **ids, size_t *n);

/*
 * Locks run run_id if it is still running past its timeout (FOR UPDATE
 * SKIP LOCKED), filling out's dag_id, run_id and version_id. 0,
 * UPDRAFT_ENOTFOUND (finished meanwhile, or held by a planner) or
 * UPDRAFT_EDB.
 */
int runplan_lock_timed_out(db_t *db, int64_t run_id, runplan_run_t *out);

/*
 * Fails run run_id (two statements): every unfinished task instance becomes skipped (a
 * running try loses its guard), then the run failed. *skipped counts the
 * task instances. 0 or UPDRAFT_EDB.
 */
int runplan_time_out(db_t *db, int64_t run_id, long *skipped);

#endif
