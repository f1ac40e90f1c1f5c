/*
 * dagrun.h - the dag_run table: creating DAG runs, shared by the scheduler
 * (scheduled runs), the REST API and the CLI (manual runs), and the
 * scheduler's reads of runs.
 *
 * A run is created against the DAG's latest dag_version, with one
 * task_instance (state 'none') per task of that version, in one transaction,
 * and the scheduler is woken with NOTIFY updraft_scheduler.
 *
 * Errors are core/error.h's codes, under the names below.
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

#endif
