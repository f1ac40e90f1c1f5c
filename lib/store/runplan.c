/*
 * runplan.c - the statements of run planning (see runplan.h), each a named
 * constant next to the function that runs it. Statements are prepared once
 * per connection by name.
 */
#include "store/runplan.h"
#include "store/result.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/pgarray.h"
#include "model/operator.h"
#include "store/locks.h"

#define US(col) STORE_US_COL(col)

void runplan_tis_free(runplan_tis_t *l)
{
    if (!l)
        return;
    free(l->items);
    PQclear(l->res);
    memset(l, 0, sizeof(*l));
}

void runplan_pairs_free(runplan_pairs_t *l)
{
    if (!l)
        return;
    free(l->items);
    PQclear(l->res);
    memset(l, 0, sizeof(*l));
}

/* The first column of every row as ids (*ids malloc'd). Clears r. */
static int take_ids(PGresult *r, int64_t **ids, size_t *n)
{
    size_t rows = (size_t)PQntuples(r);
    *ids = calloc(rows + 1, sizeof(**ids));
    if (!*ids) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < rows; i++)
        (*ids)[i] = db_get_i64(r, (int)i, 0);
    *n = rows;
    PQclear(r);
    return UPDRAFT_OK;
}

/* Rows of two text columns as pairs borrowed from r, which out keeps. */
static int take_pairs(PGresult *r, runplan_pairs_t *out)
{
    size_t rows = (size_t)PQntuples(r);
    out->items = calloc(rows + 1, sizeof(*out->items));
    if (!out->items) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < rows; i++)
        out->items[i] = (runplan_pair_t){PQgetvalue(r, (int)i, 0), PQgetvalue(r, (int)i, 1)};
    out->n = rows;
    out->res = r;
    return UPDRAFT_OK;
}

/* Runs an id-array statement ($1 = ids, $2 = extra when not NULL); n == 0 does nothing. */
static int exec_ids(db_t *db, const char *name, const char *sql, const int64_t *ids, size_t n,
                    const char *extra)
{
    if (n == 0)
        return UPDRAFT_OK;
    char *arr = pgarray_int64(ids, n);
    if (!arr)
        return UPDRAFT_ENOMEM;
    const char *p[] = {arr, extra};
    long rows = db_exec(db, name, sql, extra ? 2 : 1, p);
    free(arr);
    return rows < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

/* ---- the run ------------------------------------------------------------ */

static const char SQL_LOCK_RUN[] =
    "SELECT state, dag_version_id, dag_id, run_id,"
    " $2::boolean AND pg_try_advisory_xact_lock(" LOCK_DAG_CLASS ", hashtext(dag_id)),"
    " run_type <> 'scheduled' OR external_trigger,"
    " " US("data_interval_start") ", " US(
        "data_interval_end") " FROM dag_run"
                             " WHERE id = $1::bigint AND state IN ('queued', 'running')"
                             " FOR UPDATE SKIP LOCKED";

int runplan_lock_run(db_t *db, int64_t run_id, bool try_dag_lock, runplan_run_t *out)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id, try_dag_lock ? "true" : "false"};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "planrun_lock", SQL_LOCK_RUN, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    out->queued = !strcmp(PQgetvalue(r, 0, 0), "queued");
    out->version_id = db_get_i64(r, 0, 1);
    snprintf(out->dag_id, sizeof(out->dag_id), "%s", PQgetvalue(r, 0, 2));
    snprintf(out->run_id, sizeof(out->run_id), "%s", PQgetvalue(r, 0, 3));
    out->dag_locked = db_get_bool(r, 0, 4);
    out->manual = db_get_bool(r, 0, 5);
    out->interval_start = PQgetisnull(r, 0, 6) ? TS_NONE : db_get_i64(r, 0, 6);
    out->interval_end = PQgetisnull(r, 0, 7) ? TS_NONE : db_get_i64(r, 0, 7);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_RUNS_LOCK[] =
    "SELECT pg_advisory_xact_lock(" LOCK_RUNS_CLASS ", hashtext($1))";

static const char SQL_MAY_START[] =
    "SELECT (NOT d.is_paused OR r.run_type <> 'scheduled')"
    " AND (SELECT count(*) FROM dag_run x WHERE x.dag_id = r.dag_id"
    "        AND x.state = 'running')"
    "   + (SELECT count(*) FROM dag_run x WHERE x.dag_id = r.dag_id"
    "        AND x.state = 'queued' AND (x.logical_date, x.id) < (r.logical_date, r.id)"
    "        AND (NOT d.is_paused OR x.run_type <> 'scheduled'))"
    "   < CASE WHEN lower(coalesce(d.schedule, '')) = '@continuous' THEN 1"
    "          ELSE d.max_active_runs END"
    " FROM dag_run r JOIN dag d ON d.dag_id = r.dag_id WHERE r.id = $1::bigint";

/* Two statements: the lock is taken before the count's snapshot. */
int runplan_may_start(db_t *db, const char *dag_id, int64_t run_id, bool *may)
{
    char id[24];
    const char *pl[] = {dag_id};
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id};
    *may = false;
    PGresult *r = db_query(db, "planrun_runs_lock", SQL_RUNS_LOCK, 1, pl);
    if (!r)
        return UPDRAFT_EDB;
    PQclear(r);
    r = db_query(db, "planrun_may_start", SQL_MAY_START, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    *may = PQntuples(r) == 1 && db_get_bool(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_START[] =
    "UPDATE dag_run SET state = 'running', start_date = coalesce(start_date, now()),"
    " timeout_at = CASE WHEN $2::int > 0 THEN coalesce(start_date, now())"
    "   + make_interval(secs => $2::int) END"
    " WHERE id = $1::bigint"
    /* a start date set now (not kept from before a clear) */
    " RETURNING CASE WHEN start_date = now() THEN " US("start_date") " END";

int runplan_start(db_t *db, int64_t run_id, int timeout_sec, ts_us_t *started)
{
    char id[24], tmo[24];
    snprintf(tmo, sizeof(tmo), "%d", timeout_sec > 0 ? timeout_sec : 0);
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id, tmo};
    *started = TS_NONE;
    PGresult *r = db_query(db, "planrun_start", SQL_START, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        *started = db_get_i64(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

/* The run's duration and its first task's start, read by primary key and
 * the run's own task instances (dag_run_id leads their unique key). */
static const char SQL_FINISH[] =
    "UPDATE dag_run SET state = $2, end_date = now(), last_scheduling_decision = now()"
    " WHERE id = $1::bigint"
    " RETURNING extract(epoch FROM end_date - start_date)::float8,"
    " (SELECT " US("min(t.start_date)") " FROM task_instance t WHERE t.dag_run_id = $1::bigint)";

int runplan_finish(db_t *db, int64_t run_id, const char *state, double *duration_sec,
                   ts_us_t *first_task_start)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id, state};
    *duration_sec = -1;
    *first_task_start = TS_NONE;
    PGresult *r = db_query(db, "planrun_finish", SQL_FINISH, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 1) {
        if (!PQgetisnull(r, 0, 0))
            *duration_sec = strtod(PQgetvalue(r, 0, 0), NULL);
        if (!PQgetisnull(r, 0, 1))
            *first_task_start = db_get_i64(r, 0, 1);
    }
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_TOUCH[] =
    "UPDATE dag_run SET last_scheduling_decision = now() WHERE id = $1::bigint";

int runplan_touch(db_t *db, int64_t run_id)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id};
    return db_exec(db, "planrun_touch", SQL_TOUCH, 1, p) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

static const char SQL_AUTOPAUSE[] =
    "UPDATE dag SET is_paused = true WHERE dag_id = $1 AND NOT is_paused"
    " AND (SELECT count(*) FILTER (WHERE state = 'failed') = $2::int"
    "      FROM (SELECT state FROM dag_run WHERE dag_id = $1"
    "            ORDER BY logical_date DESC LIMIT $2::int) l)";

int runplan_pause_if_failing(db_t *db, const char *dag_id, int n, bool *paused)
{
    char nb[16];
    *paused = false;
    if (n <= 0)
        return UPDRAFT_OK;
    snprintf(nb, sizeof(nb), "%d", n);
    const char *p[] = {dag_id, nb};
    long rows = db_exec(db, "planrun_autopause", SQL_AUTOPAUSE, 2, p);
    if (rows < 0)
        return UPDRAFT_EDB;
    *paused = rows > 0;
    return UPDRAFT_OK;
}

static const char SQL_LIVE[] = "SELECT id FROM dag_run WHERE state IN ('queued', 'running')"
                               " ORDER BY id LIMIT $1::bigint";

int runplan_list_live(db_t *db, size_t max, int64_t **ids, size_t *n)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *p[] = {lim};
    *ids = NULL;
    *n = 0;
    PGresult *r = db_query(db, "planrun_live", SQL_LIVE, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    return take_ids(r, ids, n);
}

/* ---- what planning reads ------------------------------------------------ */

static const char SQL_TIS[] =
    "SELECT id, task_id, state,"
    " state IN ('up_for_retry', 'up_for_reschedule')"
    "   AND coalesce(next_try_at <= now(), true), map_index"
    " FROM task_instance WHERE dag_run_id = $1::bigint ORDER BY task_id, map_index";

int runplan_load_tis(db_t *db, int64_t run_id, runplan_tis_t *out)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "planrun_tis", SQL_TIS, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    size_t n = (size_t)PQntuples(r);
    out->items = calloc(n + 1, sizeof(*out->items));
    if (!out->items) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        runplan_ti_t *t = &out->items[i];
        int row = (int)i;
        t->id = db_get_i64(r, row, 0);
        t->task_id = PQgetvalue(r, row, 1);
        if (planner_state_parse(PQgetvalue(r, row, 2), &t->state) < 0)
            t->state = TI_NONE;
        t->retry_due = db_get_bool(r, row, 3);
        t->map_index = db_get_int(r, row, 4);
    }
    out->n = n;
    out->res = r;
    return UPDRAFT_OK;
}

static const char SQL_SKIPMIXINS[] =
    "SELECT task_id, value::text FROM xcom WHERE dag_run_id = $1::bigint"
    " AND key = '" OPERATOR_SKIPMIXIN_KEY "' AND map_index = -1";

int runplan_load_skipmixins(db_t *db, int64_t run_id, runplan_pairs_t *out)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "planrun_skips", SQL_SKIPMIXINS, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    return take_pairs(r, out);
}

static const char SQL_PREVIOUS[] = "SELECT ti.task_id, ti.state FROM task_instance ti"
                                   " WHERE ti.dag_run_id = (SELECT p.id FROM dag_run p, dag_run r"
                                   "   WHERE r.id = $1::bigint AND p.dag_id = r.dag_id"
                                   "   AND p.logical_date < r.logical_date"
                                   "   ORDER BY p.logical_date DESC LIMIT 1)";

int runplan_load_previous(db_t *db, int64_t run_id, runplan_pairs_t *out)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "planrun_prev", SQL_PREVIOUS, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    return take_pairs(r, out);
}

/* ---- what planning writes ----------------------------------------------- */

static const char SQL_SCHEDULE[] =
    "UPDATE task_instance t SET state = 'scheduled', next_try_at = NULL, updated_at = now(),"
    " max_active_tis_per_dag = nullif(v.a, 0), max_active_tis_per_dagrun = nullif(v.b, 0)"
    " FROM unnest($1::bigint[], $2::int[], $3::int[]) v(id, a, b)"
    " WHERE t.id = v.id AND t.state = $4";

int runplan_schedule(db_t *db, const int64_t *ids, const int *per_dag, const int *per_run, size_t n,
                     const char *from)
{
    char *a_ids = NULL, *a_dag = NULL, *a_run = NULL;
    int rc = UPDRAFT_ENOMEM;
    if (n == 0)
        return UPDRAFT_OK;
    if (!(a_ids = pgarray_int64(ids, n)) || !(a_dag = pgarray_int(per_dag, n)) ||
        !(a_run = pgarray_int(per_run, n)))
        goto out;
    const char *p[] = {a_ids, a_dag, a_run, from};
    rc = db_exec(db, "planrun_schedule", SQL_SCHEDULE, 4, p) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
out:
    free(a_ids);
    free(a_dag);
    free(a_run);
    return rc;
}

static const char SQL_SUCCEED[] = "UPDATE task_instance SET state = 'success', start_date = now(),"
                                  " end_date = now(), duration = 0, updated_at = now()"
                                  " WHERE id = ANY($1::bigint[]) AND state = 'none'";

int runplan_succeed(db_t *db, const int64_t *ids, size_t n)
{
    return exec_ids(db, "planrun_empty", SQL_SUCCEED, ids, n, NULL);
}

static const char SQL_REMOVE[] =
    "UPDATE task_instance SET state = 'removed', updated_at = now()"
    " WHERE id = ANY($1::bigint[])"
    " AND state IN ('none', 'scheduled', 'up_for_retry', 'up_for_reschedule')";

int runplan_remove(db_t *db, const int64_t *ids, size_t n)
{
    return exec_ids(db, "planrun_removed", SQL_REMOVE, ids, n, NULL);
}

static const char SQL_SETTLE[] =
    "UPDATE task_instance SET state = $2, start_date = coalesce(start_date, now()),"
    " end_date = now(), updated_at = now()"
    " WHERE id = ANY($1::bigint[]) AND state = 'none'";

int runplan_settle(db_t *db, const int64_t *ids, size_t n, const char *state)
{
    return exec_ids(db, "planrun_settle", SQL_SETTLE, ids, n, state);
}

static const char SQL_EXPAND[] =
    "WITH first AS (UPDATE task_instance SET map_index = 0, state = 'scheduled',"
    "   updated_at = now(), max_active_tis_per_dag = nullif($3::int, 0),"
    "   max_active_tis_per_dagrun = nullif($4::int, 0)"
    "   WHERE id = $1::bigint AND state = 'none' AND map_index = -1 RETURNING *)"
    " INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, map_index, state,"
    "   try_number, max_tries, operator, queue, pool, pool_slots, priority_weight,"
    "   max_active_tis_per_dag, max_active_tis_per_dagrun)"
    " SELECT f.dag_run_id, f.dag_id, f.run_id, f.task_id, g, 'scheduled', f.try_number,"
    "   f.max_tries, f.operator, f.queue, f.pool, f.pool_slots, f.priority_weight,"
    "   f.max_active_tis_per_dag, f.max_active_tis_per_dagrun"
    " FROM first f, generate_series(1, $2::int - 1) g RETURNING id";

int runplan_expand(db_t *db, int64_t ti_id, size_t n, int per_dag, int per_run, int64_t *ids,
                   size_t *nids)
{
    char id[24], cnt[24], pd[16], pr[16];
    snprintf(cnt, sizeof(cnt), "%zu", n);
    snprintf(pd, sizeof(pd), "%d", per_dag);
    snprintf(pr, sizeof(pr), "%d", per_run);
    snprintf(id, sizeof(id), "%" PRId64, ti_id);
    const char *p[] = {id, cnt, pd, pr};
    PGresult *r = db_query(db, "planrun_expand", SQL_EXPAND, 4, p);
    if (!r)
        return UPDRAFT_EDB;
    for (int i = 0; i < PQntuples(r); i++)
        ids[(*nids)++] = db_get_i64(r, i, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_WRITE_SKIPMIXIN[] =
    "INSERT INTO xcom (dag_run_id, dag_id, run_id, task_id, map_index, key, value)"
    " SELECT dag_run_id, dag_id, run_id, task_id, -1, '" OPERATOR_SKIPMIXIN_KEY
    "', $2::jsonb FROM task_instance WHERE id = $1::bigint"
    " ON CONFLICT ON CONSTRAINT xcom_unique DO UPDATE SET value = EXCLUDED.value,"
    " timestamp = now()";

int runplan_write_skipmixin(db_t *db, int64_t ti_id, const char *json)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, ti_id);
    const char *p[] = {id, json};
    return db_exec(db, "planrun_latest_only", SQL_WRITE_SKIPMIXIN, 2, p) < 0 ? UPDRAFT_EDB
                                                                             : UPDRAFT_OK;
}

/* ---- dagrun_timeout ----------------------------------------------------- */

static const char SQL_TIMED_OUT[] = "SELECT id FROM dag_run WHERE state = 'running'"
                                    " AND timeout_at IS NOT NULL AND timeout_at <= now()"
                                    " ORDER BY timeout_at LIMIT $1::bigint";

int runplan_list_timed_out(db_t *db, size_t max, int64_t **ids, size_t *n)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *p[] = {lim};
    *ids = NULL;
    *n = 0;
    PGresult *r = db_query(db, "planrun_timeout_due", SQL_TIMED_OUT, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    return take_ids(r, ids, n);
}

static const char SQL_LOCK_TIMED_OUT[] =
    "SELECT dag_id, run_id, dag_version_id FROM dag_run WHERE id = $1::bigint"
    " AND state = 'running' AND timeout_at <= now() FOR UPDATE SKIP LOCKED";

int runplan_lock_timed_out(db_t *db, int64_t run_id, runplan_run_t *out)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id};
    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "planrun_timeout_lock", SQL_LOCK_TIMED_OUT, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    snprintf(out->dag_id, sizeof(out->dag_id), "%s", PQgetvalue(r, 0, 0));
    snprintf(out->run_id, sizeof(out->run_id), "%s", PQgetvalue(r, 0, 1));
    out->version_id = db_get_i64(r, 0, 2);
    out->interval_start = out->interval_end = TS_NONE;
    PQclear(r);
    return UPDRAFT_OK;
}

/* Airflow 2: every unfinished task instance becomes skipped; a running try
 * loses its guard and its worker kills it. */
static const char SQL_TIMEOUT_SKIP[] =
    "UPDATE task_instance SET state = 'skipped',"
    " start_date = coalesce(start_date, now()), end_date = now(),"
    " updated_at = now() WHERE dag_run_id = $1::bigint"
    " AND state IN ('none', 'scheduled', 'queued', 'running',"
    " 'up_for_retry', 'up_for_reschedule', 'deferred', 'restarting')";

static const char SQL_TIMEOUT_FAIL[] = "UPDATE dag_run SET state = 'failed', end_date = now(),"
                                       " last_scheduling_decision = now() WHERE id = $1::bigint";

/* Two statements, in the caller's transaction. */
int runplan_time_out(db_t *db, int64_t run_id, long *skipped)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, run_id);
    const char *p[] = {id};
    *skipped = db_exec(db, "planrun_timeout_skip", SQL_TIMEOUT_SKIP, 1, p);
    if (*skipped < 0 || db_exec(db, "planrun_timeout_fail", SQL_TIMEOUT_FAIL, 1, p) < 0)
        return UPDRAFT_EDB;
    return UPDRAFT_OK;
}
