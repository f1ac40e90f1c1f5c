/*
 * dagadmin.h - what the REST API's write routes read and change about a
 * DAG, its runs and their task instances, outside the scheduler's own
 * paths: a run's note, and the existence checks that decide between 404
 * answers before a write is attempted (pausing is dags_set_paused, dags.h).
 *
 * Every function returns the error contract of core/error.h: 0,
 * UPDRAFT_ENOTFOUND when the named object does not exist, UPDRAFT_EDB when
 * a statement failed. Results come back through out-parameters.
 */
#ifndef UPDRAFT_STORE_DAGADMIN_H
#define UPDRAFT_STORE_DAGADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/db.h"
#include "core/timeutil.h"

/* Sets the note of the DAG run whose row id is run_pk. */
int dagadmin_set_run_note(db_t *db, int64_t run_pk, const char *note);

/* 0 when dag_id exists and has a parsed version, else UPDRAFT_ENOTFOUND. */
int dagadmin_check_dag(db_t *db, const char *dag_id);

/*
 * Whether the parsed version of dag_id has task task_id, in *has.
 * UPDRAFT_ENOTFOUND when the DAG (or its parsed version) does not exist.
 */
int dagadmin_dag_has_task(db_t *db, const char *dag_id, const char *task_id, bool *has);

/* The logical date of DAG run (dag_id, run_id) in *logical (may be NULL). */
int dagadmin_find_run(db_t *db, const char *dag_id, const char *run_id, ts_us_t *logical);

/*
 * The logical date of the run of the unmapped task instance (dag_id,
 * run_id, task_id) in *logical; UPDRAFT_ENOTFOUND when there is no such
 * task instance.
 */
int dagadmin_find_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                     ts_us_t *logical);

#endif
