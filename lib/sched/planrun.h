/*
 * planrun.h - planning one DAG run: moving its task instances along as
 * their upstream settles (planner.h decides, this applies), and settling
 * the run itself once every task instance is final.
 *
 * Two callers share it. The scheduler plans a run in a transaction of its
 * own (planrun_plan) and leaves ready tasks 'scheduled' for its critical
 * section. A worker's mini-scheduler plans the runs of the tries it just
 * finished inside the transaction that writes their outcomes
 * (planrun_plan_tx with queue_ready) and moves ready tasks straight on to
 * 'queued' with the next try number, within the DAG's max_active_tasks.
 *
 * Concurrency: the run row is taken FOR UPDATE SKIP LOCKED (a run held by
 * another planner is skipped, and the caller tells the scheduler); queueing
 * takes the DAG's advisory lock (LOCK_DAG_CLASS, store/locks.h), the one the
 * scheduler's critical section takes too, so that two planners never both
 * fill the same max_active_tasks headroom.
 *
 * Run semantics (docs/scheduling.md): a queued run starts only while its
 * DAG has fewer running runs than max_active_runs, oldest logical date
 * first, and not while the DAG is paused (manual and backfill runs excepted); a
 * started run gets its timeout_at from its version's dagrun_timeout. A
 * run's final state comes from its leaves (planner_run_verdict_leaves).
 * A task instance whose task is not in the run's version (a run keeps the
 * version it was created with, so only a row written by other means) is
 * set to 'removed' unless it is queued or running.
 *
 * Parsed DAG versions come from the caller's version cache
 * (store/dagver.h), owned by the caller's thread.
 */
#ifndef UPDRAFT_PLANRUN_H
#define UPDRAFT_PLANRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "store/dagver.h"

/* What planning reads besides the database. */
typedef struct planrun_ctx {
    dagver_cache_t *versions; /* the thread's version cache */
    int max_map_length;       /* core.max_map_length; <= 0: OPERATOR_MAX_MAP_LENGTH_DEFAULT */
} planrun_ctx_t;

/* A task instance planrun_plan_tx queued. */
typedef struct planrun_queued {
    int64_t ti_id;
    int32_t try_number;
    char queue[128];
} planrun_queued_t;

typedef struct planrun_result {
    bool planned;             /* false: the run was not live, or another planner holds it */
    bool finished;            /* the run reached success or failed */
    size_t n_scheduled;       /* task instances made ready (left 'scheduled' unless queued below) */
    size_t n_left;            /* queue_ready: ready task instances left 'scheduled' (limit, lock) */
    planrun_queued_t *queued; /* queue_ready: malloc'd, n_queued entries; caller frees */
    size_t n_queued;
} planrun_result_t;

/*
 * Plans dag_run id in its own transaction (the caller has none open),
 * leaving ready tasks 'scheduled'. Returns 0 (see *res), or UPDRAFT_EDB
 * (or UPDRAFT_ENOMEM) rolled back; the connection may need db_ensure(). A
 * version that cannot be read is logged and the run left alone.
 */
int planrun_plan(db_t *db, const planrun_ctx_t *ctx, int64_t run_id, planrun_result_t *res);

/*
 * The same inside the caller's open transaction (nothing is committed or
 * rolled back here; on an error the caller must roll back, at least to a
 * savepoint). queue_ready: move the tasks made ready to 'queued' (try_number
 * + 1) by priority while the DAG stays within max_active_tasks, listing them
 * in res->queued; the caller publishes them after its commit.
 * planrun_result_free() releases res->queued.
 */
int planrun_plan_tx(db_t *db, const planrun_ctx_t *ctx, int64_t run_id, bool queue_ready,
                    planrun_result_t *res);
void planrun_result_free(planrun_result_t *res);

/*
 * dagrun_timeout: fails the running runs whose timeout_at has passed (at
 * most max), each in its own transaction: every unfinished task instance
 * becomes skipped (a running try loses its fencing guard, so its worker
 * kills it) and the run failed; max_consecutive_failed_dag_runs may pause
 * the DAG. The caller has no transaction open. *n_timed_out counts the
 * runs failed. Returns 0 or UPDRAFT_EDB (or ENOMEM).
 */
int planrun_timeout_due(db_t *db, const planrun_ctx_t *ctx, size_t max, size_t *n_timed_out);

/*
 * The ids of the live (queued or running) runs, oldest first, at most max.
 * *ids is malloc'd (caller frees). Returns 0, UPDRAFT_EDB or ENOMEM.
 */
int planrun_list_live(db_t *db, size_t max, int64_t **ids, size_t *n);

#endif
