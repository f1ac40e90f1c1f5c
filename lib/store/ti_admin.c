/*
 * ti_admin.c - the statements of user-driven task instance and run changes
 * and the users' reads of task instances (see ti_admin.h), each a named
 * constant next to the function that runs it. These run once per user
 * action, so they go unprepared (but for the REST API's lookup of a task
 * instance and its note, prepared like the API's other lookups).
 *
 * A clear is one statement (task instances, then their runs back to
 * 'queued', then one NOTIFY per run for the scheduler), so a reader never
 * sees a cleared task in a finished run.
 */
#include "store/ti_admin.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/pgarray.h"
#include "store/channels.h"
#include "store/result.h"

static const char SQL_LATEST[] =
    "SELECT v.data::text FROM dag d JOIN dag_version v ON v.id = d.version_id"
    " WHERE d.dag_id = $1";

int ti_admin_load_latest_dag(db_t *db, const char *dag_id, dag_t **out, char *err, size_t errlen)
{
    const char *p[] = {dag_id};
    cJSON *j = NULL;
    int rc = UPDRAFT_EINVALID;
    *out = NULL;
    PGresult *r = db_query(db, NULL, SQL_LATEST, 1, p);
    if (!r) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    if (PQntuples(r) == 0) {
        snprintf(err, errlen, "dag '%s' not found", dag_id);
        rc = UPDRAFT_ENOTFOUND;
        goto out;
    }
    size_t len = (size_t)PQgetlength(r, 0, 0);
    if (len > TI_ADMIN_VERSION_MAX) {
        snprintf(err, errlen, "dag '%s': serialized version too large", dag_id);
        goto out;
    }
    j = cJSON_ParseWithLengthOpts(PQgetvalue(r, 0, 0), len + 1, NULL, 1);
    if (!j) {
        snprintf(err, errlen, "dag '%s': serialized version is not valid JSON", dag_id);
        goto out;
    }
    char derr[256];
    *out = dag_from_json(j, derr, sizeof(derr));
    if (!*out)
        snprintf(err, errlen, "dag '%s': %s", dag_id, derr);
    else
        rc = UPDRAFT_OK;
out:
    cJSON_Delete(j);
    PQclear(r);
    return rc;
}

void ti_admin_tis_free(ti_admin_tis_t *l)
{
    if (!l)
        return;
    free(l->items);
    PQclear(l->res);
    memset(l, 0, sizeof(*l));
}

static const char SQL_FIND[] =
    "SELECT ti.id, ti.dag_run_id, ti.run_id, ti.task_id, ti.state, ti.try_number,"
    " (extract(epoch FROM dr.logical_date) * 1000000)::bigint"
    " FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id"
    " WHERE ti.dag_id = $1 AND dr.dag_id = $1"
    " AND ti.task_id IN (SELECT jsonb_array_elements_text($2::jsonb))"
    " AND ($3::timestamptz IS NULL OR dr.logical_date >= $3::timestamptz)"
    " AND ($4::timestamptz IS NULL OR dr.logical_date <= $4::timestamptz)"
    " AND ($5::text IS NULL OR dr.run_id = $5::text)"
    " AND (NOT $6::boolean OR ti.state IN ('failed', 'upstream_failed'))"
    " AND (NOT $8::boolean OR ti.state = 'running')"
    " AND ($9::text IS NULL OR ti.state <> $9::text)"
    " AND ti.state <> 'removed'"
    " ORDER BY dr.logical_date, ti.task_id, ti.map_index LIMIT $7::bigint";

/* The task ids as a JSON array (the statement's $2). NULL on OOM. */
static char *ids_json(const char *const *ids, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    char *text = NULL;
    for (size_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(ids[i])))
            goto out;
    text = a ? cJSON_PrintUnformatted(a) : NULL;
out:
    cJSON_Delete(a);
    return text;
}

int ti_admin_find(db_t *db, const ti_admin_filter_t *f, ti_admin_tis_t *out, char *err,
                  size_t errlen)
{
    char a[TS_ISO_LEN], b[TS_ISO_LEN], lim[24];
    memset(out, 0, sizeof(*out));
    char *ids = ids_json(f->task_ids, f->n_task_ids);
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    snprintf(lim, sizeof(lim), "%zu", f->limit);
    const char *p[] = {f->dag_id,
                       ids,
                       f->start == TS_NONE ? NULL : ts_format_iso(f->start, a),
                       f->end == TS_NONE ? NULL : ts_format_iso(f->end, b),
                       f->run_id,
                       f->only_failed ? "true" : "false",
                       lim,
                       f->only_running ? "true" : "false",
                       f->not_state};
    PGresult *r = db_query(db, NULL, SQL_FIND, 9, p);
    free(ids);
    if (!r) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    size_t n = (size_t)PQntuples(r);
    out->items = calloc(n + 1, sizeof(*out->items));
    if (!out->items) {
        PQclear(r);
        snprintf(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int row = (int)i;
        out->items[i] = (ti_admin_ti_t){.id = db_get_i64(r, row, 0),
                                        .dag_run_id = db_get_i64(r, row, 1),
                                        .run_id = PQgetvalue(r, row, 2),
                                        .task_id = PQgetvalue(r, row, 3),
                                        .state = PQgetvalue(r, row, 4),
                                        .try_number = db_get_int(r, row, 5),
                                        .logical_date = db_get_i64(r, row, 6)};
    }
    out->n = n;
    out->res = r;
    return UPDRAFT_OK;
}

static const char SQL_CLEAR[] =
    "WITH c AS ("
    " UPDATE task_instance t SET state = 'none',"
    "  max_tries = t.try_number"
    "   + greatest(coalesce((v.data->'tasks'->t.task_id->>'retries')::int, 0), 0),"
    "  hostname = '', pid = NULL, worker_id = NULL, queued_at = NULL,"
    "  start_date = NULL, end_date = NULL, duration = NULL, heartbeat_at = NULL,"
    "  next_try_at = NULL, updated_at = now()"
    " FROM dag_run dr JOIN dag_version v ON v.id = dr.dag_version_id"
    " WHERE t.id = ANY($1::bigint[]) AND dr.id = t.dag_run_id"
    " RETURNING t.dag_run_id),"
    " runs AS ("
    " UPDATE dag_run SET state = 'queued', start_date = NULL, end_date = NULL,"
    "  last_scheduling_decision = NULL"
    " WHERE id IN (SELECT dag_run_id FROM c)"
    "  AND ($2 = 'all' OR ($2 = 'finished' AND state IN ('success', 'failed')))"
    " RETURNING id),"
    " n AS (SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", d::text)"
    "  FROM (SELECT DISTINCT dag_run_id AS d FROM c) x)"
    " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM n),"
    "  (SELECT count(*) FROM runs)";

int ti_admin_clear(db_t *db, const int64_t *ids, size_t n, const char *mode, long *cleared,
                   long *runs, long *runs_queued, char *err, size_t errlen)
{
    *cleared = *runs = *runs_queued = 0;
    char *arr = pgarray_int64(ids, n);
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    const char *p[] = {arr, mode};
    /* One statement, so one implicit transaction. */
    PGresult *r = db_query(db, NULL, SQL_CLEAR, 2, p);
    free(arr);
    if (!r) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    *cleared = (long)db_get_i64(r, 0, 0);
    *runs = (long)db_get_i64(r, 0, 1);
    *runs_queued = (long)db_get_i64(r, 0, 2);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_LOCK_RUN[] =
    "SELECT id FROM dag_run WHERE dag_id = $1 AND run_id = $2 FOR UPDATE";

int ti_admin_lock_run(db_t *db, const char *dag_id, const char *run_id, int64_t *id)
{
    const char *p[] = {dag_id, run_id};
    PGresult *r = db_query(db, NULL, SQL_LOCK_RUN, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    int rc = PQntuples(r) == 0 ? UPDRAFT_ENOTFOUND : UPDRAFT_OK;
    if (rc == 0)
        *id = db_get_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static const char SQL_REQUEUE_RUN[] =
    "UPDATE dag_run SET state = 'queued', queued_at = now(), start_date = NULL,"
    " end_date = NULL, last_scheduling_decision = NULL"
    " WHERE id = $1::bigint AND state <> 'queued'";

int ti_admin_requeue_run(db_t *db, int64_t id)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};
    if (db_exec(db, NULL, SQL_REQUEUE_RUN, 1, p) < 0 || dagrun_notify(db, id) < 0)
        return UPDRAFT_EDB;
    return UPDRAFT_OK;
}

static const char SQL_SUCCEED_TIS[] =
    "UPDATE task_instance SET state = 'success',"
    " start_date = coalesce(start_date, now()), end_date = now(),"
    " updated_at = now(), next_try_at = NULL"
    " WHERE dag_run_id = $1::bigint AND state NOT IN ('success', 'removed')";

int ti_admin_succeed_tis(db_t *db, int64_t run_id, long *n)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, run_id);
    const char *p[] = {idbuf};
    *n = db_exec(db, NULL, SQL_SUCCEED_TIS, 1, p);
    return *n < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

static const char SQL_FAIL_TIS[] =
    "UPDATE task_instance SET state = CASE WHEN state IN ('running',"
    " 'deferred', 'up_for_reschedule') THEN 'failed' ELSE 'skipped' END,"
    " start_date = coalesce(start_date, now()), end_date = now(),"
    " updated_at = now(), next_try_at = NULL"
    " WHERE dag_run_id = $1::bigint AND state NOT IN ('success', 'failed',"
    " 'skipped', 'upstream_failed', 'removed')";

int ti_admin_fail_tis(db_t *db, int64_t run_id, long *n)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, run_id);
    const char *p[] = {idbuf};
    *n = db_exec(db, NULL, SQL_FAIL_TIS, 1, p);
    return *n < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

static const char SQL_SET_RUN_STATE[] =
    "UPDATE dag_run SET state = $2, start_date = coalesce(start_date, now()),"
    " end_date = now() WHERE id = $1::bigint";

int ti_admin_set_run_state(db_t *db, int64_t id, const char *state)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf, state};
    return db_exec(db, NULL, SQL_SET_RUN_STATE, 2, p) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

/*
 * What marking sets, as Airflow 2's TaskInstance.set_state: the state, the
 * start date kept or set, the end date and duration now.
 */
#define MARK_SET(state)                                                                            \
    " SET state = " state ", start_date = coalesce(ti.start_date, now()), end_date = now(),"       \
    " duration = extract(epoch FROM now() - coalesce(ti.start_date, now())),"                      \
    " next_try_at = NULL, updated_at = now()"

/* One statement: the update and the wake-up commit together. */
static const char SQL_MARK_TI[] =
    "WITH u AS ("
    " UPDATE task_instance ti" MARK_SET(
        "$4") " FROM dag_run dr WHERE dr.dag_id = $1 AND dr.run_id = $2"
              "  AND ti.dag_run_id = dr.id AND ti.task_id = $3 AND ti.map_index = -1"
              " RETURNING ti.dag_run_id)"
              " SELECT count(*), count(pg_notify(" CHANNEL_SCHEDULER_SQL ", dag_run_id::text))"
              " FROM u";

int ti_admin_mark_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                     const char *state, long *n)
{
    const char *p[] = {dag_id, run_id, task_id, state};
    *n = 0;
    PGresult *r = db_query(db, NULL, SQL_MARK_TI, 4, p);
    if (!r)
        return UPDRAFT_EDB;
    *n = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

/* One statement; the scheduler is woken once per run changed. */
static const char SQL_MARK_TIS[] =
    "WITH u AS ("
    " UPDATE task_instance ti" MARK_SET(
        "$2") " WHERE ti.id = ANY($1::bigint[]) AND ti.state <> $2"
              " RETURNING ti.dag_run_id),"
              " n AS (SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", d::text)"
              "  FROM (SELECT DISTINCT dag_run_id AS d FROM u) x)"
              " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM n)";

int ti_admin_mark_tis(db_t *db, const int64_t *ids, size_t n, const char *state, long *marked)
{
    char *arr = pgarray_int64(ids, n);
    PGresult *r;

    *marked = 0;
    if (!arr)
        return UPDRAFT_ENOMEM;
    const char *p[] = {arr, state};
    r = db_query(db, NULL, SQL_MARK_TIS, 2, p);
    free(arr);
    if (!r)
        return UPDRAFT_EDB;
    *marked = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_SET_NOTE[] =
    "UPDATE task_instance ti SET note = $5 FROM dag_run dr"
    " WHERE dr.dag_id = $1 AND dr.run_id = $2 AND ti.dag_run_id = dr.id"
    " AND ti.task_id = $3 AND ti.map_index = $4::int";

int ti_admin_set_note(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                      int map_index, const char *note)
{
    char mi[16];
    const char *p[] = {dag_id, run_id, task_id, mi, note};
    long n;

    snprintf(mi, sizeof(mi), "%d", map_index);
    n = db_exec(db, "ti_admin_set_note", SQL_SET_NOTE, 5, p);
    if (n < 0)
        return UPDRAFT_EDB;
    return n > 0 ? UPDRAFT_OK : UPDRAFT_ENOTFOUND;
}

static const char SQL_FIND_TI[] =
    "SELECT (extract(epoch from dr.logical_date) * 1000000)::int8 FROM task_instance ti"
    " JOIN dag_run dr ON dr.id = ti.dag_run_id WHERE dr.dag_id = $1"
    " AND dr.run_id = $2 AND ti.task_id = $3 AND ti.map_index = -1";

int ti_admin_find_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                     ts_us_t *logical)
{
    const char *p[] = {dag_id, run_id, task_id};
    PGresult *r = db_query(db, "ti_admin_find_ti", SQL_FIND_TI, 3, p);
    int rc = UPDRAFT_ENOTFOUND;

    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) > 0) {
        *logical = db_get_i64(r, 0, 0);
        rc = UPDRAFT_OK;
    }
    PQclear(r);
    return rc;
}

/* ---- what the commands read of a run's task instances ------------------- */

/* The run's state in every row: read together, a final run state means final rows. */
static const char SQL_LIST_RUN[] =
    "SELECT (SELECT state FROM dag_run WHERE id = $1::bigint),"
    " ti.id, ti.task_id, ti.state, ti.try_number FROM task_instance ti"
    " WHERE ti.dag_run_id = $1::bigint AND ti.map_index = -1"
    " ORDER BY coalesce(ti.start_date, ti.end_date, 'infinity'), ti.id";

int ti_admin_list_run(db_t *db, int64_t id, char *run_state, ti_admin_row_t **out, size_t *n,
                      char *err, size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};
    PGresult *r;
    ti_admin_row_t *list;
    size_t rows;

    *out = NULL;
    *n = 0;
    run_state[0] = '\0';
    r = db_query(db, NULL, SQL_LIST_RUN, 1, p);
    if (!r)
        return store_db_failed(db, err, errlen);
    rows = (size_t)PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        int rc = dagrun_state(db, id, run_state, DAGRUN_STATE_MAX);
        if (rc == UPDRAFT_EDB)
            return store_db_failed(db, err, errlen);
        return rc == UPDRAFT_ENOTFOUND ? 0 : rc;
    }
    list = calloc(rows, sizeof(*list));
    if (!list) {
        PQclear(r);
        return store_out_of_memory(err, errlen);
    }
    store_copy_str(run_state, DAGRUN_STATE_MAX, db_get_str(r, 0, 0));
    for (size_t i = 0; i < rows; i++) {
        list[i].id = db_get_i64(r, (int)i, 1);
        store_copy_str(list[i].task_id, sizeof(list[i].task_id), db_get_str(r, (int)i, 2));
        store_copy_str(list[i].state, sizeof(list[i].state), db_get_str(r, (int)i, 3));
        list[i].try_number = db_get_int(r, (int)i, 4);
    }
    PQclear(r);
    *out = list;
    *n = rows;
    return 0;
}

static const char SQL_STATE[] = "SELECT state FROM task_instance WHERE dag_run_id = $1::bigint"
                                " AND task_id = $2 AND map_index = -1";

int ti_admin_state(db_t *db, int64_t id, const char *task_id, char *state, char *err, size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf, task_id};
    PGresult *r = db_query(db, NULL, SQL_STATE, 2, p);
    int rc = UPDRAFT_ENOTFOUND;

    state[0] = '\0';
    if (!r)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) > 0) {
        store_copy_str(state, DAGRUN_STATE_MAX, db_get_str(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_TASK_SPEC[] =
    "SELECT (v.data -> 'tasks' -> $2)::text, dr.conf::text,"
    " " STORE_US_COL("dr.data_interval_start") ", " STORE_US_COL(
        "dr.data_interval_end") " FROM dag_run dr JOIN dag_version v ON v.id = dr.dag_version_id "
                                "WHERE dr.id = $1::bigint";

int ti_admin_task_spec(db_t *db, int64_t id, const char *task_id, ti_admin_spec_t *out, char *err,
                       size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf, task_id};
    PGresult *r = db_query(db, NULL, SQL_TASK_SPEC, 2, p);
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->interval_start = out->interval_end = TS_NONE;
    if (!r)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    const char *spec = db_get_str(r, 0, 0), *conf = db_get_str(r, 0, 1);
    if ((spec && !(out->spec = strdup(spec))) || (conf && !(out->conf = strdup(conf)))) {
        ti_admin_spec_free(out);
        rc = store_out_of_memory(err, errlen);
    }
    out->interval_start = store_get_ts(r, 0, 2);
    out->interval_end = store_get_ts(r, 0, 3);
    PQclear(r);
    return rc;
}

void ti_admin_spec_free(ti_admin_spec_t *s)
{
    if (!s)
        return;
    free(s->spec);
    free(s->conf);
    s->spec = s->conf = NULL;
}
