/*
 * dagrun.h - the dag_run table: creating DAG runs, shared by the scheduler
 * (scheduled runs), the REST API and the CLI (manual runs); the scheduler's
 * reads of runs; and what the commands, the REST API and the operators that
 * watch other DAGs (ExternalTaskSensor, TriggerDagRunOperator) read and
 * change of a run outside the scheduler's paths: finding a run, its state,
 * its conf, the runs of a date range, the live runs against
 * max_active_runs, a run's note, deleting a run, the run states of DAGs
 * (the REST API's dagStats), the counts of a watched run's task
 * instances, and `dags test`'s replacing of the run at a logical date.
 * (Marking a run and clearing it back to 'queued' are user actions on its
 * task instances: store/ti_admin.h. The scheduler's run transitions are
 * store/runplan.h.)
 *
 * A run is created against the DAG's latest dag_version, with one
 * task_instance (state 'none') per task of that version, in one transaction,
 * and the scheduler is woken with NOTIFY updraft_scheduler.
 *
 * Errors are core/error.h's codes, under the names below. The functions
 * that take (err, errlen) fill it on UPDRAFT_EDB and UPDRAFT_ENOMEM and
 * leave it as is on UPDRAFT_ENOTFOUND.
 */
#ifndef UPDRAFT_DAGRUN_H
#define UPDRAFT_DAGRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/db.h"
#include "core/error.h"
#include "core/timeutil.h"

#define DAGRUN_ID_MAX 250
#define DAGRUN_STATE_MAX 24 /* bytes of a state name, NUL included */

typedef enum dagrun_type { DAGRUN_SCHEDULED = 0, DAGRUN_MANUAL, DAGRUN_BACKFILL } dagrun_type_t;

typedef struct dagrun_spec {
    const char *dag_id;
    const char *run_id; /* NULL: generated as Airflow does (<type>__<logical date>) */
    dagrun_type_t type;
    ts_us_t logical_date;   /* TS_NONE: now (manual runs) */
    ts_us_t interval_start; /* TS_NONE: logical_date */
    ts_us_t interval_end;   /* TS_NONE: logical_date */
    const char *conf_json;  /* a JSON object as text, NULL = {} */
} dagrun_spec_t;

#define DAGRUN_CONF_MAX (64 * 1024) /* a conf (given, or with the params' defaults) */

/*
 * Creating a run fails with one of core/error.h's codes:
 *   UPDRAFT_EDB        database error (retry later)
 *   UPDRAFT_EEXISTS    run_id or logical date already taken
 *   UPDRAFT_ENOTFOUND  unknown dag_id, or the DAG has no parsed version
 *   UPDRAFT_EINVALID   bad dag_id, run_id or conf
 */

/*
 * The conf a run stores: the DAG's params (in the version the run uses)
 * with their defaults, overridden by the given conf, as Airflow 2 with
 * core.dag_run_conf_overrides_params; a param without a default must be
 * given, and values must match a Param's "type"/"enum" (dag_params_resolve).
 * A conf that is not a JSON object, or breaks a param, is UPDRAFT_EINVALID.
 */

/*
 * Parses a conf given by a user: a JSON object of at most DAGRUN_CONF_MAX
 * bytes (NULL: {}). Returns 0 with *out the tree (caller cJSON_Delete()s),
 * or -1 with err filled ("conf is not valid JSON (error at byte 7)").
 */
int dagrun_conf_parse(const char *conf, cJSON **out, char *err, size_t errlen);

/*
 * Creates the run (state 'queued') and its task instances, in its own
 * transaction (the caller must not have one open). Returns 0 with the new
 * dag_run.id in *id_out and the run id in run_id_out (DAGRUN_ID_MAX+1 bytes,
 * may be NULL), or one of the codes above with a message in err.
 */
int dagrun_create(db_t *db, const dagrun_spec_t *spec, int64_t *id_out, char *run_id_out, char *err,
                  size_t errlen);

/*
 * The same inside the caller's open transaction (the scheduler holds its
 * DAG row lock across it). A conflict does not abort the transaction; any
 * other error does (the caller rolls back). Nothing is logged.
 */
int dagrun_create_in_tx(db_t *db, const dagrun_spec_t *spec, int64_t *id_out, char *run_id_out,
                        char *err, size_t errlen);

/*
 * The data interval of dag_id's latest scheduled run (by logical date):
 * *start its logical date, *end its data_interval_end (TS_NONE when not
 * stored); both TS_NONE when there is none. 0 or UPDRAFT_EDB.
 */
int dagrun_last_scheduled(db_t *db, const char *dag_id, ts_us_t *start, ts_us_t *end);

/*
 * Wakes the schedulers about run id (NOTIFY on CHANNEL_SCHEDULER, payload
 * the id), delivered at the caller's commit (at once when no transaction
 * is open). 0 or UPDRAFT_EDB.
 */
int dagrun_notify(db_t *db, int64_t id);

/*
 * Queued runs that may be able to start: their DAG is below its
 * max_active_runs in running runs, and is not paused or the run is not a
 * scheduled one; oldest logical date first, at most 1000. *out: (id),
 * caller PQclear()s. 0 or UPDRAFT_EDB.
 */
int dagrun_list_startable(db_t *db, PGresult **out);

/* "scheduled", "manual", "backfill" (dag_run.run_type). */
const char *dagrun_type_name(dagrun_type_t type);
/* Airflow's run id: "manual__2024-01-01T00:00:00+00:00". buf: DAGRUN_ID_MAX+1. */
void dagrun_make_run_id(dagrun_type_t type, ts_us_t logical_date, char *buf, size_t buflen);
/* Airflow's allowed run id pattern ^[A-Za-z0-9_.~:+-]+$, at most DAGRUN_ID_MAX chars. */
bool dagrun_run_id_valid(const char *run_id);

/* ---- what the commands, the API and the watching operators read ---------- */

/* A DAG run as the commands name it. */
typedef struct dagrun_ref {
    int64_t id;
    char run_id[DAGRUN_ID_MAX + 1];
    char state[DAGRUN_STATE_MAX];
    ts_us_t logical_date;
} dagrun_ref_t;

/*
 * dag_id's run named run_id or, failing that, at logical_date (timestamptz
 * text; NULL: by run id only): 0 with *out, UPDRAFT_ENOTFOUND or
 * UPDRAFT_EDB.
 */
int dagrun_find(db_t *db, const char *dag_id, const char *run_id, const char *logical_date,
                dagrun_ref_t *out);

/* The runs of dag_id whose logical date is in [from, to]: *out (free()) of *n. */
int dagrun_list_in_range(db_t *db, const char *dag_id, ts_us_t from, ts_us_t to, dagrun_ref_t **out,
                         size_t *n, char *err, size_t errlen);

/*
 * Whether any run of ids[0..n) belongs to dag_id: 1 yes, 0 no, or an
 * error code (core/error.h).
 */
int dagrun_any_of_dag(db_t *db, const char *dag_id, const int64_t *ids, size_t n);

/*
 * The state of each run of ids[0..n) that exists, in *out (free()) of
 * *nout; only id and state are set.
 */
int dagrun_states(db_t *db, const int64_t *ids, size_t n, dagrun_ref_t **out, size_t *nout,
                  char *err, size_t errlen);

/*
 * The state of run id into state[0..len) ("" unless found): 0,
 * UPDRAFT_ENOTFOUND or UPDRAFT_EDB.
 */
int dagrun_state(db_t *db, int64_t id, char *state, size_t len);

/*
 * The state of dag_id's run at logical_date (timestamptz text) into
 * state[0..len): 0, UPDRAFT_ENOTFOUND (no such run) or UPDRAFT_EDB.
 */
int dagrun_state_at(db_t *db, const char *dag_id, const char *logical_date, char *state,
                    size_t len);

/* The conf of run id as JSON text in *conf (malloc'd), NULL when it is {}. */
int dagrun_get_conf(db_t *db, int64_t id, char **conf, char *err, size_t errlen);

/*
 * The live (queued or running) runs of dag_id in *live and the DAG's
 * max_active_runs (at least 1) in *max: UPDRAFT_ENOTFOUND when the DAG is gone.
 */
int dagrun_live_count(db_t *db, const char *dag_id, long *live, long *max, char *err,
                      size_t errlen);

/* Deletes dag_id's run at logical (and its task instances); *deleted: rows gone (0 or 1). */
int dagrun_delete_at(db_t *db, const char *dag_id, ts_us_t logical, long *deleted, char *err,
                     size_t errlen);

/*
 * Deletes dag_id's run run_id with its task instances, XComs and logs (the
 * REST API's DELETE of a run), and wakes the schedulers. 0,
 * UPDRAFT_ENOTFOUND or UPDRAFT_EDB.
 */
int dagrun_delete(db_t *db, const char *dag_id, const char *run_id);

/* Columns of dagrun_state_counts' rows. */
enum { DAGRUN_COUNT_COL_DAG_ID, DAGRUN_COUNT_COL_STATE, DAGRUN_COUNT_COL_COUNT };

/*
 * How many runs each DAG of dag_ids_json (a JSON array of ids) has in each
 * state, in one statement: one row per existing DAG and state (queued,
 * running, success, failed, in that order; count 0 included), by dag_id.
 * Ids with no DAG have no rows. *out: caller PQclear()s. 0 or UPDRAFT_EDB.
 */
int dagrun_state_counts(db_t *db, const char *dag_ids_json, PGresult **out);

/* Sets the note of the DAG run whose row id is run_pk. 0 or UPDRAFT_EDB. */
int dagrun_set_note(db_t *db, int64_t run_pk, const char *note);

/* Per task id of a watched run: how many rows (map indexes), and in which states. */
typedef struct dagrun_counts {
    char *task_id;
    long total;
    long allowed; /* state in the allowed states */
    long failed;  /* in the failed states */
    long skipped; /* in the skipped states */
} dagrun_counts_t;

/*
 * The task instances of dag_id's run at logical_date (timestamptz text)
 * counted per task id, in task id order: the tasks named in
 * task_ids_json (a JSON array) when group is NULL or "", else the tasks
 * of group ("<group>."...). allowed, failed and skipped are text[]
 * literals of states. 0 with *out (n entries; dagrun_counts_free), or
 * UPDRAFT_ENOMEM / UPDRAFT_EDB.
 */
int dagrun_task_counts(db_t *db, const char *dag_id, const char *logical_date,
                       const char *task_ids_json, const char *group, const char *allowed,
                       const char *failed, const char *skipped, dagrun_counts_t **out, size_t *n);
void dagrun_counts_free(dagrun_counts_t *c, size_t n);

#endif
