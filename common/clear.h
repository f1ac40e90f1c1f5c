/*
 * clear.h - clearing task instances and marking DAG runs, as Airflow 2's
 * `tasks clear` and the REST API's clearTaskInstances / PATCH dagRun do.
 * Shared by the CLI and (later) the webserver.
 *
 * Clearing selects task instances of one DAG by task id regex (plus their
 * upstream and/or downstream tasks in the DAG's latest version, as
 * Airflow's partial_subset), by logical date range or run id, optionally
 * only failed ones; then sets them to 'none' with max_tries raised to
 * try_number + the task's retries (so a cleared task gets its retries
 * again), and puts their runs back to 'queued'. The scheduler then plans
 * them and queues each with the next try number. A cleared try that is
 * still running loses its fencing guard (state is no longer 'running'), so
 * its worker kills its process group at its next heartbeat or log flush.
 */
#ifndef UPDRAFT_CLEAR_H
#define UPDRAFT_CLEAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dag.h"
#include "common/db.h"
#include "common/timeutil.h"

#define CLEAR_MAX_TIS 100000 /* a selection larger than this is refused */

typedef struct clear_filter {
    const char *dag_id;
    const char *task_regex; /* POSIX extended regex searched in task ids; NULL = every task */
    ts_us_t start, end;     /* logical date range, inclusive; TS_NONE = open */
    const char *run_id;     /* only this run (dag_run.run_id); NULL = any run */
    bool upstream;          /* add the upstream tasks of the matched ones, transitively */
    bool downstream;        /* add their downstream tasks, transitively */
    bool only_failed;       /* only failed and upstream_failed task instances */
} clear_filter_t;

typedef struct clear_ti {
    int64_t id;
    int64_t dag_run_id;
    char *run_id;  /* owned */
    char *task_id; /* owned */
    char state[24];
    int try_number;
    ts_us_t logical_date;
} clear_ti_t;

typedef struct clear_list {
    clear_ti_t *items;
    size_t n;
} clear_list_t;

void clear_list_free(clear_list_t *l);

/*
 * Pure: marks in selected[i] (dag->n_tasks entries) the tasks of dag whose
 * id the regex matches anywhere (NULL: all), plus their upstream/downstream
 * closure when asked. Returns the number selected, or -1 with err filled
 * when the regex does not compile.
 */
int clear_select_tasks(const dag_t *dag, const char *regex, bool upstream, bool downstream,
                       bool *selected, char *err, size_t errlen);

/*
 * Lists the task instances the filter selects (never 'removed' ones),
 * ordered by logical date and task id. Returns 0 (out filled, caller frees with clear_list_free), or -1
 * with err filled (unknown DAG, bad regex, too many, database error).
 */
int clear_find(db_t *db, const clear_filter_t *f, clear_list_t *out, char *err, size_t errlen);

/*
 * Clears the listed task instances in one transaction (the caller has none
 * open) and wakes the scheduler for their runs. *cleared: rows changed.
 * Returns 0 or -1 with err filled.
 */
int clear_apply(db_t *db, const clear_list_t *l, long *cleared, char *err, size_t errlen);

/*
 * Marks a run as Airflow 2's set_dag_run_state_to_success/failed do:
 * "success" sets every task instance that is not success (nor removed) to
 * success; "failed" sets running, deferred and up_for_reschedule ones to
 * failed and the other unfinished ones to skipped. The run gets the state
 * and an end date. Running tries lose their guard and are killed by their
 * worker. Returns 0, -1 with err filled (database error, bad state), or -2
 * when the run does not exist.
 */
int clear_mark_run(db_t *db, const char *dag_id, const char *run_id, const char *state, char *err,
                   size_t errlen);

#endif
