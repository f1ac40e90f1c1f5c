/*
 * dags_read.h - what the operator commands read of DAG definitions (dag,
 * dag_version, import_error): the active DAGs, the import errors, a DAG's
 * schedule from its latest serialized version, and one task's spec in
 * that version.
 *
 * Every function returns 0 or a negative core/error.h code: UPDRAFT_ENOTFOUND
 * (err left as is) when the DAG does not exist, UPDRAFT_EDB or
 * UPDRAFT_ENOMEM with err filled.
 */
#ifndef UPDRAFT_DAGS_READ_H
#define UPDRAFT_DAGS_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"

/* A row of `dags list`. */
typedef struct dags_row {
    char *dag_id;
    char *fileloc;
    char *owners;
    bool is_paused;
} dags_row_t;

/* The active DAGs by dag_id: *out of *n; free with dags_rows_free(). */
int dags_list_active(db_t *db, dags_row_t **out, size_t *n, char *err, size_t errlen);
void dags_rows_free(dags_row_t *rows, size_t n);

/* The stack traces of the import errors by file name: *out (n strings); free with
 * dags_strings_free(). */
int dags_import_errors(db_t *db, char ***out, size_t *n, char *err, size_t errlen);
void dags_strings_free(char **v, size_t n);

/* A DAG's schedule as its latest serialized version and its dag row give it. */
typedef struct dags_schedule {
    char *schedule;               /* the serialized "schedule" (NULL: none) */
    char *timezone;               /* the serialized "timezone" (NULL: none) */
    ts_us_t start_date, end_date; /* TS_NONE when not set */
    bool catchup, is_paused;
} dags_schedule_t;

/* Reads dag_id's schedule: UPDRAFT_ENOTFOUND when it does not exist or has no parsed version. */
int dags_schedule(db_t *db, const char *dag_id, dags_schedule_t *out, char *err, size_t errlen);
void dags_schedule_free(dags_schedule_t *s);

/*
 * task_id's spec (JSON text) and the params (JSON text) of dag_id's latest
 * version, malloc'd; *spec NULL when the task is not in it, *params NULL
 * when there are none. UPDRAFT_ENOTFOUND when the DAG has no version.
 */
int dags_latest_task(db_t *db, const char *dag_id, const char *task_id, char **spec, char **params,
                     char *err, size_t errlen);

#endif
