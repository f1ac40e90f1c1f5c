/*
 * runs_read.h - what the operator commands read of DAG runs and their task
 * instances (dag_run, task_instance, task_log): finding a run by run id or
 * logical date, run and task states, the runs of a date range, the live
 * runs against max_active_runs, a try's log, and the task spec a run was
 * created with. One write sits here too, because it belongs to the same
 * command: `dags test` replaces the run at a logical date (runs_delete_at).
 *
 * Every function returns 0 or a negative core/error.h code: UPDRAFT_ENOTFOUND
 * (err left as is) when the named run, task or DAG does not exist,
 * UPDRAFT_EDB or UPDRAFT_ENOMEM with err filled.
 */
#ifndef UPDRAFT_RUNS_READ_H
#define UPDRAFT_RUNS_READ_H

#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "store/dagrun.h"

#define RUNS_STATE_MAX 24 /* bytes of a state name, NUL included */

/* A DAG run as the commands name it. */
typedef struct runs_ref {
    int64_t id;
    char run_id[DAGRUN_ID_MAX + 1];
    char state[RUNS_STATE_MAX];
    ts_us_t logical_date;
} runs_ref_t;

/*
 * dag_id's run whose run_id is run_or_date, or else whose logical date it
 * is (ISO 8601): 0 with *out, UPDRAFT_ENOTFOUND, UPDRAFT_EDB.
 */
int runs_find(db_t *db, const char *dag_id, const char *run_or_date, runs_ref_t *out, char *err,
              size_t errlen);

/* The runs of dag_id whose logical date is in [from, to]: *out (free()) of *n. */
int runs_in_range(db_t *db, const char *dag_id, ts_us_t from, ts_us_t to, runs_ref_t **out,
                  size_t *n, char *err, size_t errlen);

/*
 * The state of each run of ids[0..n) that exists, in *out (free()) of
 * *nout; only id and state are set.
 */
int runs_states(db_t *db, const int64_t *ids, size_t n, runs_ref_t **out, size_t *nout, char *err,
                size_t errlen);

/* The state of run id into state (RUNS_STATE_MAX bytes): 0, UPDRAFT_ENOTFOUND, UPDRAFT_EDB. */
int runs_state(db_t *db, int64_t id, char *state, char *err, size_t errlen);

/* The conf of run id as JSON text in *conf (malloc'd), NULL when it is {}. */
int runs_conf(db_t *db, int64_t id, char **conf, char *err, size_t errlen);

/*
 * The live (queued or running) runs of dag_id in *live and the DAG's
 * max_active_runs (at least 1) in *max: UPDRAFT_ENOTFOUND when the DAG is gone.
 */
int runs_live_count(db_t *db, const char *dag_id, long *live, long *max, char *err, size_t errlen);

/*
 * The logical date and data interval end of dag_id's latest scheduled run
 * (TS_NONE where NULL): UPDRAFT_ENOTFOUND when it has none.
 */
int runs_last_scheduled(db_t *db, const char *dag_id, ts_us_t *logical, ts_us_t *interval_end,
                        char *err, size_t errlen);

/* Deletes dag_id's run at logical (and its task instances); *deleted: rows gone (0 or 1). */
int runs_delete_at(db_t *db, const char *dag_id, ts_us_t logical, long *deleted, char *err,
                   size_t errlen);

/* A task instance (map index -1) of a run. */
typedef struct runs_ti {
    int64_t id;
    char task_id[256];
    char state[RUNS_STATE_MAX];
    int try_number;
} runs_ti_t;

/*
 * The unmapped task instances of run id, by start (or end) date then id,
 * in *out (free()) of *n, and the run's state, read in the same statement
 * (so that a final state means the task instances read are final too)
 * into run_state (RUNS_STATE_MAX bytes; "" when the run does not exist).
 */
int runs_list_tis(db_t *db, int64_t id, char *run_state, runs_ti_t **out, size_t *n, char *err,
                  size_t errlen);

/*
 * The state of task_id (map index -1) in run id into state
 * (RUNS_STATE_MAX bytes): 0, UPDRAFT_ENOTFOUND, UPDRAFT_EDB.
 */
int runs_ti_state(db_t *db, int64_t id, const char *task_id, char *state, char *err, size_t errlen);

/* Calls each(chunk, ud) for every log chunk of a try of task instance ti_id, in order. */
int runs_ti_log(db_t *db, int64_t ti_id, int try_number, void (*each)(const char *chunk, void *ud),
                void *ud, char *err, size_t errlen);

/* What rendering a task of a run needs: the version's spec and the run's conf and dates. */
typedef struct runs_task_spec {
    char *spec; /* the task's JSON in the run's DAG version; NULL: no such task */
    char *conf; /* the run's conf (JSON text) */
    ts_us_t interval_start, interval_end; /* TS_NONE when NULL */
} runs_task_spec_t;

/* Reads task_id's spec in run id's version: UPDRAFT_ENOTFOUND when the run is gone. */
int runs_task_spec(db_t *db, int64_t id, const char *task_id, runs_task_spec_t *out, char *err,
                   size_t errlen);
void runs_task_spec_free(runs_task_spec_t *s);

#endif
