/*
 * planrun.h - planning one DAG run: moving its task instances along as
 * their upstream settles (planner.h decides, this applies), and settling
 * the run itself once every task instance is final.
 *
 * Parsed DAG versions are kept in a small cache keyed by dag_version.id
 * (versions never change once written), owned by one thread.
 */
#ifndef UPDRAFT_SCHEDULER_PLANRUN_H
#define UPDRAFT_SCHEDULER_PLANRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/db.h"

typedef struct planrun_cache planrun_cache_t;

/* A cache of at most cap parsed versions; NULL on OOM. */
planrun_cache_t *planrun_cache_new(size_t cap);
void planrun_cache_free(planrun_cache_t *c);

typedef struct planrun_result {
    bool planned;        /* false: the run was not live, or another scheduler holds it */
    bool finished;       /* the run reached success or failed */
    size_t n_scheduled;  /* task instances moved to 'scheduled' */
} planrun_result_t;

/*
 * Plans dag_run id in its own transaction (the caller has none open), with
 * the run row taken FOR UPDATE SKIP LOCKED. Returns 0 (see *res), or -1 on
 * a database error (rolled back; the connection may need db_ensure()).
 * A version that cannot be read is logged and the run left alone.
 */
int planrun_plan(db_t *db, planrun_cache_t *cache, int64_t run_id, planrun_result_t *res);

/*
 * The ids of the live (queued or running) runs, oldest first, at most max.
 * *ids is malloc'd (caller frees). Returns 0 or -1.
 */
int planrun_list_live(db_t *db, size_t max, int64_t **ids, size_t *n);

#endif
