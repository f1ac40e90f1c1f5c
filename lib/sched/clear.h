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

#include "model/dag.h"
#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"

#define CLEAR_MAX_TIS 100000 /* a selection larger than this is refused */

typedef struct clear_filter {
    const char *dag_id;
    const char *task_regex; /* POSIX extended regex searched in task ids; NULL = every task */
    ts_us_t start, end;     /* logical date range, inclusive; TS_NONE = open */
    const char *run_id;     /* only this run (dag_run.run_id); NULL = any run */
    bool upstream;          /* add the upstream tasks of the matched ones, transitively */
    bool downstream;        /* add their downstream tasks, transitively */
    bool only_failed;       /* only failed and upstream_failed task instances */
    /* Exact task ids (the API's task_ids); when not NULL they replace
     * task_regex. Ids the DAG does not have select nothing. */
    const char *const *task_ids;
    size_t n_task_ids;
    bool only_running;     /* only running task instances */
    const char *not_state; /* leave out task instances already in this state (NULL: none) */
} clear_filter_t;

/* What clearing does to the runs of the cleared task instances. */
typedef enum clear_runs {
    CLEAR_RUNS_ALL = 0,  /* every affected run back to 'queued' (`updraft tasks clear`) */
    CLEAR_RUNS_FINISHED, /* finished runs back to 'queued', others unchanged (the API's
                            reset_dag_runs, Airflow's dag_run_state=QUEUED) */
    CLEAR_RUNS_KEEP      /* runs keep their state (the API without reset_dag_runs) */
} clear_runs_t;

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
 * Pure: the same for a list of exact task ids (Airflow's partial_subset
 * with a list); ids the DAG does not have are ignored. Returns the number
 * selected, or -1 when out of memory.
 */
int clear_select_task_ids(const dag_t *dag, const char *const *ids, size_t n_ids, bool upstream,
                          bool downstream, bool *selected);

/*
 * Lists the task instances the filter selects (never 'removed' ones),
 * ordered by logical date and task id. Returns 0 (out filled, caller frees
 * with clear_list_free), or with err filled UPDRAFT_ENOTFOUND (the DAG does
 * not exist, or has no parsed version), UPDRAFT_EINVALID (bad dag_id or
 * regex, more than CLEAR_MAX_TIS, a version that does not read),
 * UPDRAFT_EDB or UPDRAFT_ENOMEM.
 */
int clear_find(db_t *db, const clear_filter_t *f, clear_list_t *out, char *err, size_t errlen);

/*
 * Clears the listed task instances in one transaction (the caller has none
 * open) and wakes the scheduler for their runs. *cleared: rows changed.
 * Returns 0, or UPDRAFT_EDB or UPDRAFT_ENOMEM with err filled.
 */
int clear_apply(db_t *db, const clear_list_t *l, long *cleared, char *err, size_t errlen);

/*
 * The same, with the runs handled as mode says. The scheduler is woken for
 * every affected run whatever the mode.
 */
int clear_apply_mode(db_t *db, const clear_list_t *l, clear_runs_t mode, long *cleared, char *err,
                     size_t errlen);

/*
 * Marks a run as Airflow 2's set_dag_run_state_to_success/failed/queued do:
 * "success" sets every task instance that is not success (nor removed) to
 * success; "failed" sets running, deferred and up_for_reschedule ones to
 * failed and the other unfinished ones to skipped. The run gets the state
 * and an end date. Running tries lose their guard and are killed by their
 * worker. "queued" changes the run only (its task instances keep their
 * states, as in Airflow 2): it goes back to 'queued' with its start and end
 * dates reset, and the scheduler is woken. Returns 0, or with err filled
 * UPDRAFT_EINVALID (bad state), UPDRAFT_ENOTFOUND (no such run) or
 * UPDRAFT_EDB.
 */
int clear_mark_run(db_t *db, const char *dag_id, const char *run_id, const char *state, char *err,
                   size_t errlen);

/*
 * Sets the listed task instances to state ("success", "failed" or
 * "skipped") as clear_mark_ti does each (those already in it are left
 * alone), in one statement that wakes the scheduler for their runs.
 * *marked: rows changed. Returns 0, or with err filled UPDRAFT_EINVALID
 * (bad state), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int clear_mark_tis(db_t *db, const clear_list_t *l, const char *state, long *marked, char *err,
                   size_t errlen);

/*
 * What Airflow 2's DAG.set_task_instance_state does after marking task_id:
 * the failed and upstream_failed task instances downstream of task_id
 * (transitively, in the DAG's latest version; task_id itself excluded) in
 * the runs scope selects (its dag_id, and run_id or logical date range;
 * its other members are ignored) are cleared, and their finished runs put
 * back to 'queued', so that they run again. *cleared: task instances
 * cleared. Returns 0, or an error of clear_find or clear_apply_mode with
 * err filled.
 */
int clear_resume_downstream(db_t *db, const clear_filter_t *scope, const char *task_id,
                            long *cleared, char *err, size_t errlen);

/*
 * Sets one task instance (map index -1) of a run to state ("success",
 * "failed" or "skipped"), as Airflow 2's TaskInstance.set_state: start date
 * kept or set, end date now; a running try loses its guard. The scheduler
 * is woken for the run. Returns 0, or with err filled UPDRAFT_EINVALID
 * (bad state), UPDRAFT_ENOTFOUND (no such task instance) or UPDRAFT_EDB.
 */
int clear_mark_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                  const char *state, char *err, size_t errlen);

#endif
