/*
 * uiquery.h - the aggregated reads behind the web UI's JSON endpoints
 * (webserver/api_ui.c, docs/api.md "UI endpoints"): the DAG list with each
 * DAG's recent runs and the task states of its newest run, the grid (a
 * DAG's tasks and the task instances of its last N runs), the Gantt chart
 * of one run (with the earlier tries the schema keeps), the task
 * durations and landing times of the last N runs, and a year of daily run
 * outcomes.
 *
 * Each read is a fixed number of statements whatever the page size, on
 * these indexes: dag_run (dag_id, logical_date DESC) for a DAG's runs,
 * task_instance (dag_run_id, task_id, map_index) for a run's task
 * instances (covering the grid's columns since migration 0016),
 * callback_event (dag_run_id) for earlier tries.
 *
 * Timestamps are selected as epoch microseconds (bigint; SQL NULL when
 * unset); the two reads of up to 100,000 rows (the grid's task
 * instances, the durations) differ, as said with each. Functions that
 * return rows hand over the PGresult (*out, the caller PQclear()s),
 * except those two, which hand their rows to a callback in batches
 * through a cursor; the columns are listed with each function. Every
 * function returns 0, UPDRAFT_ENOTFOUND where said, UPDRAFT_EINVALID where
 * said (err filled), UPDRAFT_ENOMEM, or UPDRAFT_EDB (db_error() says why).
 */
#ifndef UPDRAFT_STORE_UIQUERY_H
#define UPDRAFT_STORE_UIQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"

#define UIQ_RECENT_RUNS 8         /* runs per DAG in the DAG list */
#define UIQ_GANTT_MAX_TIS 20000   /* task instances of one Gantt answer at most */
#define UIQ_GANTT_MAX_TRIES 50000 /* earlier tries of one Gantt answer at most */

/* ---- the DAG list ----------------------------------------------------------- */

/* Which active DAGs the list shows; NULL / -1 members do not filter. */
typedef struct uiq_dags_filter {
    const char *dag_id_pattern; /* a case-insensitive substring (ILIKE) */
    const char *tags_json;      /* a JSON array of tags: a DAG with any of them */
    const char *owners_json;    /* a JSON array of owners: a DAG with any of them */
    int paused;                 /* -1 any, 0 unpaused only, 1 paused only */
} uiq_dags_filter_t;

/*
 * How many active DAGs f selects, in *total, and how many files have an
 * import error, in *import_errors. One statement.
 */
int uiq_dags_count(db_t *db, const uiq_dags_filter_t *f, long *total, long *import_errors);

/*
 * The page (limit, offset) of the DAGs f selects, ordered by order_by
 * (NULL: "dag_id"; dag_id, owners, is_paused, next_dagrun, each with '-'
 * for descending; else UPDRAFT_EINVALID with err), then dag_id. One
 * statement; one row per (DAG, recent run), the DAG's newest
 * UIQ_RECENT_RUNS runs newest first, or one row with NULL run columns for
 * a DAG without runs. Columns:
 *   0 dag_id, 1 description, 2 owners (a JSON array of the trimmed
 *   names), 3 tags (a JSON array), 4 is_paused ('t'/'f'), 5 schedule,
 *   6 next_dagrun (us), 7 next_dagrun_create_after (us),
 *   8 has_import_errors ('t'/'f'), 9 the task-instance states of the
 *   newest run as a JSON object {state: count} (NULL: no run), 10 run_id,
 *   11 run state, 12 run logical_date (us).
 */
int uiq_dags_page(db_t *db, const uiq_dags_filter_t *f, const char *order_by, long limit,
                  long offset, PGresult **out, char *err, size_t errlen);

/* ---- a DAG's structure ------------------------------------------------------ */

/*
 * The tasks of dag_id's parsed version (dag.version_id) in the DAG's
 * task_order (a topological order). UPDRAFT_ENOTFOUND when there is no
 * such DAG. One row per task; a DAG without a parsed version or tasks
 * gives one row with NULL task columns. Columns:
 *   0 task_id, 1 task_group (its full group id; NULL outside groups),
 *   2 is_mapped ('t'/'f': the task has expand), 3 operator,
 *   4 upstream_task_ids (a JSON array), 5 on the first row only: the
 *   version's task_groups tree as stored (proto/PROTOCOL.md; NULL when
 *   the DAG has no groups).
 */
int uiq_dag_tasks(db_t *db, const char *dag_id, PGresult **out);

/* ---- the grid --------------------------------------------------------------- */

/*
 * dag_id's newest limit runs whose logical_date is before before
 * (TS_NONE: any), newest first. Columns:
 *   0 id, 1 run_id, 2 state, 3 run_type, 4 logical_date, 5 start_date,
 *   6 end_date, 7 queued_at, 8 note, 9 data_interval_start,
 *   10 data_interval_end (timestamps in us).
 */
int uiq_grid_runs(db_t *db, const char *dag_id, ts_us_t before, long limit, PGresult **out);

/* Rows a uiq_rows_fn gets at once at most. */
#define UIQ_GRID_BATCH 8192

/* Takes one batch of rows (borrowed: valid during the call); 0 to go on, else a code that stops. */
typedef int (*uiq_rows_fn)(const PGresult *rows, void *arg);

/*
 * One row of uiq_grid_tis: an unmapped task instance (map_index -1) as
 * itself, or the instances of a mapped task in one state folded into one.
 * Strings are borrowed: valid during the call.
 */
typedef struct uiq_grid_ti {
    int64_t run;         /* the run's position in run_ids, from 1 */
    const char *task_id; /* NUL-terminated */
    const char *state;   /* NUL-terminated */
    int64_t try_number;  /* the largest of the folded instances */
    ts_us_t start_date;  /* the earliest; TS_NONE when unset */
    ts_us_t end_date;    /* the latest; TS_NONE when unset or while one has none */
    int64_t count;       /* 0 for an unmapped instance, else the mapped instances folded */
} uiq_grid_ti_t;

/* Takes one row (borrowed); 0 to go on, else a code that stops. */
typedef int (*uiq_grid_fn)(const uiq_grid_ti_t *ti, void *arg);

/*
 * The task instances of the runs run_ids[0..n) (dag_run.id) in one
 * statement (one snapshot), handed to fn one at a time, in no particular
 * order: an unmapped instance (map_index -1) as itself, the instances of
 * a mapped task folded into one row per (run, task, state). They are read
 * through a cursor, UIQ_GRID_FETCH_RUNS runs at a time, in a read-only
 * transaction that is over when this returns.
 * 0, what fn returned when it stopped, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int uiq_grid_tis(db_t *db, const int64_t *run_ids, size_t n, uiq_grid_fn fn, void *arg);

/* Runs whose task instances one FETCH of uiq_grid_tis brings at most. */
#define UIQ_GRID_FETCH_RUNS 32

/*
 * Hands fn the unmapped task instances of run (its position, from 1)
 * packed in p[0..len) as uiq_grid_tis's statement packs them: per
 * instance try_number (int4), start_date and end_date (timestamptz, -infinity
 * for unset), all binary big-endian, then state, a NUL byte and task_id;
 * instances separated by a NUL byte. p[len] must be a NUL byte (libpq ends
 * every value with one). 0, what fn returned, or UPDRAFT_EDB for a packing
 * that does not parse.
 */
int uiq_grid_unpack(const char *p, size_t len, int64_t run, uiq_grid_fn fn, void *arg);

/* An integer field (int2, int4, int8) of a binary result: *v, or false for SQL NULL (or not one).
 */
bool uiq_field_int(const PGresult *rows, int row, int col, int64_t *v);

/* A timestamptz field of a binary result as epoch microseconds; TS_NONE for SQL NULL. */
ts_us_t uiq_field_ts(const PGresult *rows, int row, int col);

/* ---- one run ---------------------------------------------------------------- */

/*
 * The run run_id of dag_id. UPDRAFT_ENOTFOUND when there is none (the DAG
 * or the run). Columns: 0 id, 1 run_id, 2 state, 3 run_type,
 * 4 logical_date, 5 queued_at, 6 start_date, 7 end_date,
 * 8 data_interval_start, 9 data_interval_end (us).
 */
int uiq_run(db_t *db, const char *dag_id, const char *run_id, PGresult **out);

/*
 * The task instances of run id (dag_run.id), by start_date (not started
 * last), task_id, map_index; at most UIQ_GANTT_MAX_TIS + 1 rows (one more
 * tells the caller that it cut). Columns:
 *   0 id, 1 task_id, 2 map_index, 3 state, 4 try_number, 5 queued_at,
 *   6 start_date, 7 end_date (us), 8 duration (seconds, float8),
 *   9 hostname.
 */
int uiq_gantt_tis(db_t *db, int64_t run_id, PGresult **out);

/*
 * The earlier tries of the task instances of run id, from the callback
 * events (migration 0009) written when a try that ran ended: one row per
 * (task instance, try) below the instance's current try, by task
 * instance id then try; at most UIQ_GANTT_MAX_TRIES rows. An event is
 * kept alerts.event_retention_days, so older tries are gone. The span is
 * the event's time less the try's duration up to the event's time (the
 * try's end, to the commit). Columns:
 *   0 ti_id, 1 try_number, 2 state (up_for_retry, failed, success or
 *   skipped: how the try ended), 3 start (us; NULL when the event has no
 *   duration), 4 end (us), 5 hostname.
 */
int uiq_gantt_tries(db_t *db, int64_t run_id, PGresult **out);

/* ---- durations and the calendar --------------------------------------------- */

/*
 * For the runs run_ids[0..n) (dag_run.id): one row per (run, task) of
 * their task instances, handed to fn in batches as uiq_grid_tis does.
 * Columns:
 *   0 the run's position in run_ids, from 1, 1 task_id, 2 duration (epoch
 *   ms: the last end less the first start, which for one instance is its
 *   duration; NULL until every instance ended), 3 landing time (ms: the
 *   last end less the run's data_interval_end; NULL until every instance
 *   ended).
 * 0, what fn returned when it stopped, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int uiq_durations(db_t *db, const int64_t *run_ids, size_t n, uiq_rows_fn fn, void *arg);

/*
 * dag_id's runs whose logical_date falls in year (UTC), counted per UTC
 * day and state, by day then state. UPDRAFT_ENOTFOUND when there is no
 * such DAG; a year without runs gives one row of NULLs. Columns:
 *   0 day ('YYYY-MM-DD'), 1 state, 2 count.
 */
int uiq_calendar(db_t *db, const char *dag_id, int year, PGresult **out);

#endif
