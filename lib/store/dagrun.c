/*
 * dagrun.c - see dagrun.h.
 *
 * A run and its task instances are written in one transaction: the run row
 * first (INSERT ... ON CONFLICT DO NOTHING, so that a taken run id or
 * logical date leaves the transaction usable and is reported as a
 * conflict), then every task instance in one set-based INSERT ... SELECT
 * over the tasks of the DAG's latest serialized version. The NOTIFY that
 * wakes the scheduler is issued inside the transaction; Postgres delivers
 * it at commit, so no listener sees a run that is not there yet.
 *
 * The reads of the commands, the REST API and the watching operators come
 * last, each statement a named constant next to the function that runs
 * it; times travel as microseconds since the epoch. The commands' and the
 * operators' go unprepared (a command or an operator runner makes a few
 * calls and exits); those the REST API runs too (dagrun_find,
 * dagrun_set_note, dagrun_delete, dagrun_state_counts) are prepared.
 */
#include "store/dagrun.h"
#include "store/channels.h"
#include "store/result.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pgarray.h"
#include "model/cron.h"
#include "model/dag.h"

const char *dagrun_type_name(dagrun_type_t type)
{
    switch (type) {
    case DAGRUN_SCHEDULED:
        return "scheduled";
    case DAGRUN_MANUAL:
        return "manual";
    case DAGRUN_BACKFILL:
        return "backfill";
    }
    return "manual";
}

void dagrun_make_run_id(dagrun_type_t type, ts_us_t logical_date, char *buf, size_t buflen)
{
    char ts[TS_ISO_LEN];
    if (!buf || buflen == 0)
        return;
    /* As Python's isoformat(): microseconds only when there are some. */
    if (logical_date % TS_US_PER_SEC == 0)
        ts_format_iso_sec(logical_date, ts);
    else
        ts_format_iso(logical_date, ts);
    snprintf(buf, buflen, "%s__%s", dagrun_type_name(type), ts);
}

bool dagrun_run_id_valid(const char *run_id)
{
    if (!run_id || !*run_id)
        return false;
    size_t n = 0;
    for (const char *p = run_id; *p; p++, n++) {
        char c = *p;
        if (n >= DAGRUN_ID_MAX)
            return false;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            continue;
        if (strchr("_.~:+-", c))
            continue;
        return false;
    }
    return true;
}

int dagrun_conf_parse(const char *conf, cJSON **out, char *err, size_t errlen)
{
    const char *end = NULL;
    size_t len;
    cJSON *j;

    *out = NULL;
    if (!conf)
        conf = "{}";
    len = strnlen(conf, DAGRUN_CONF_MAX + 1);
    if (len > DAGRUN_CONF_MAX) {
        snprintf(err, errlen, "conf is larger than %d bytes", DAGRUN_CONF_MAX);
        return -1;
    }
    j = cJSON_ParseWithLengthOpts(conf, len + 1, &end, 1);
    if (!j) {
        size_t at = end && end >= conf && end <= conf + len ? (size_t)(end - conf) : 0;
        snprintf(err, errlen, "conf is not valid JSON (error at byte %zu)", at + 1);
        return -1;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        snprintf(err, errlen, "conf must be a JSON object");
        return -1;
    }
    *out = j;
    return 0;
}

/*
 * The run's conf: params defaults of the DAG's version (the serialized
 * "params" in params_text, NULL for none) under the given conf. A malloc'd
 * JSON text (cJSON_free), or NULL with err filled.
 */
static char *effective_conf(const cJSON *conf, const char *params_text, char *err, size_t errlen)
{
    cJSON *params = NULL, *merged = NULL;
    char *text = NULL;

    if (params_text) {
        params = cJSON_ParseWithLengthOpts(params_text, strlen(params_text) + 1, NULL, 1);
        if (!params) {
            snprintf(err, errlen, "the DAG's serialized params are not valid JSON");
            return NULL;
        }
    }
    if (dag_params_resolve(params, conf, &merged, err, errlen) < 0)
        goto out;
    text = cJSON_PrintUnformatted(merged);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (strlen(text) > DAGRUN_CONF_MAX) {
        snprintf(err, errlen, "conf with the params' defaults is larger than %d bytes",
                 DAGRUN_CONF_MAX);
        cJSON_free(text);
        text = NULL;
    }
out:
    cJSON_Delete(params);
    cJSON_Delete(merged);
    return text;
}

/* The latest version and its params; FOR KEY SHARE keeps the DAG from
 * being deleted under us. */
static const char SQL_VERSION_PARAMS[] = "SELECT d.version_id, v.data->'params',"
                                         " v.data->>'schedule', v.data->>'timezone' FROM dag d"
                                         " LEFT JOIN dag_version v ON v.id = d.version_id"
                                         " WHERE d.dag_id = $1 FOR KEY SHARE OF d";

/* ON CONFLICT DO NOTHING: a taken run id or logical date leaves the
 * transaction usable (no row returned). */
static const char SQL_INSERT_RUN[] =
    "INSERT INTO dag_run (dag_id, run_id, dag_version_id, run_type, state,"
    " logical_date, data_interval_start, data_interval_end, conf, external_trigger)"
    " VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8::jsonb, $9)"
    " ON CONFLICT DO NOTHING RETURNING id";

/* Which of the two unique keys the conflict was on. */
static const char SQL_RUN_EXISTS[] = "SELECT 1 FROM dag_run WHERE dag_id = $1 AND run_id = $2";

/* One task instance (state 'none') per task of the version. */
static const char SQL_INSERT_TIS[] =
    "INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, operator,"
    " queue, pool, pool_slots, priority_weight, max_tries)"
    " SELECT $1::bigint, $2, $3, t.key,"
    "  coalesce(t.value->>'operator', 'BashOperator'),"
    "  coalesce(t.value->>'queue', 'default'),"
    "  coalesce(t.value->>'pool', 'default_pool'),"
    "  coalesce((t.value->>'pool_slots')::int, 1),"
    "  coalesce((t.value->>'priority_weight')::int, 1),"
    "  coalesce((t.value->>'retries')::int, 0)"
    " FROM dag_version v, jsonb_each(v.data->'tasks') t WHERE v.id = $4::bigint";

static const char SQL_NOTIFY[] = "SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", $1)";

int dagrun_notify(db_t *db, int64_t id)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};
    return db_exec(db, "dagrun_notify", SQL_NOTIFY, 1, p) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

/*
 * A manual run's data interval from the DAG's schedule, as Airflow 2's
 * infer_manual_data_interval (model/cron.h). A schedule or zone that no
 * longer parses leaves the zero-width interval at the logical date.
 */
static void manual_interval(const char *schedule, const char *zone, ts_us_t logical,
                            ts_us_t *istart, ts_us_t *iend)
{
    schedule_t s;
    schedule_tz_t *tz = NULL;
    char err[256];

    *istart = *iend = logical;
    if (schedule_parse(schedule, &s, err, sizeof(err)) < 0 ||
        (s.kind != SCHEDULE_CRON && s.kind != SCHEDULE_DELTA))
        return;
    if (zone && schedule_tz_load(zone, &tz, err, sizeof(err)) < 0)
        return;
    s.tz = tz;
    schedule_manual_interval(&s, logical, istart, iend);
    schedule_tz_free(tz);
}

int dagrun_create_in_tx(db_t *db, const dagrun_spec_t *spec, int64_t *id_out, char *run_id_out,
                        char *err, size_t errlen)
{
    char run_id[DAGRUN_ID_MAX + 1];
    char ld[TS_ISO_LEN], is[TS_ISO_LEN], ie[TS_ISO_LEN], verbuf[24], idbuf[24];
    PGresult *r = NULL;
    int rc = UPDRAFT_EDB;
    cJSON *given = NULL;
    char *conf = NULL;

    if (!spec->dag_id || !*spec->dag_id || strlen(spec->dag_id) > DAG_ID_MAX) {
        snprintf(err, errlen, "invalid dag_id");
        return UPDRAFT_EINVALID;
    }
    if (dagrun_conf_parse(spec->conf_json, &given, err, errlen) < 0)
        return UPDRAFT_EINVALID;

    ts_us_t logical = spec->logical_date == TS_NONE ? ts_now() : spec->logical_date;
    ts_us_t istart = spec->interval_start == TS_NONE ? logical : spec->interval_start;
    ts_us_t iend = spec->interval_end == TS_NONE ? logical : spec->interval_end;
    bool infer = spec->type == DAGRUN_MANUAL && spec->interval_start == TS_NONE &&
                 spec->interval_end == TS_NONE;
    if (spec->run_id) {
        if (!dagrun_run_id_valid(spec->run_id)) {
            snprintf(err, errlen,
                     "invalid run_id: use 1 to %d of the characters A-Z a-z 0-9 _ . ~ : + -",
                     DAGRUN_ID_MAX);
            rc = UPDRAFT_EINVALID;
            goto out;
        }
        snprintf(run_id, sizeof(run_id), "%s", spec->run_id);
    } else {
        dagrun_make_run_id(spec->type, logical, run_id, sizeof(run_id));
    }
    ts_format_iso(logical, ld);

    const char *p1[] = {spec->dag_id};
    r = db_query(db, "dagrun_version_params", SQL_VERSION_PARAMS, 1, p1);
    if (!r)
        goto dberr;
    if (PQntuples(r) == 0) {
        snprintf(err, errlen, "dag '%s' not found", spec->dag_id);
        rc = UPDRAFT_ENOTFOUND;
        goto out;
    }
    if (PQgetisnull(r, 0, 0)) {
        snprintf(err, errlen, "dag '%s' has no parsed version yet", spec->dag_id);
        rc = UPDRAFT_ENOTFOUND;
        goto out;
    }
    snprintf(verbuf, sizeof(verbuf), "%s", PQgetvalue(r, 0, 0));
    if (infer)
        manual_interval(PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2),
                        PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3), logical, &istart, &iend);
    ts_format_iso(istart, is);
    ts_format_iso(iend, ie);
    conf = effective_conf(given, PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1), err, errlen);
    PQclear(r);
    r = NULL;
    if (!conf) {
        rc = UPDRAFT_EINVALID;
        goto out;
    }

    const char *p2[] = {spec->dag_id,
                        run_id,
                        verbuf,
                        dagrun_type_name(spec->type),
                        ld,
                        is,
                        ie,
                        conf,
                        spec->type == DAGRUN_SCHEDULED ? "false" : "true"};
    r = db_query(db, "dagrun_insert", SQL_INSERT_RUN, 9, p2);
    if (!r)
        goto dberr;
    if (PQntuples(r) == 0) {
        PQclear(r);
        const char *p3[] = {spec->dag_id, run_id};
        r = db_query(db, "dagrun_exists", SQL_RUN_EXISTS, 2, p3);
        if (!r)
            goto dberr;
        if (PQntuples(r) > 0)
            snprintf(err, errlen, "dag run '%s' already exists for dag '%s'", run_id, spec->dag_id);
        else
            snprintf(err, errlen, "a dag run with logical date %s already exists for dag '%s'", ld,
                     spec->dag_id);
        rc = UPDRAFT_EEXISTS;
        goto out;
    }
    int64_t id = db_get_i64(r, 0, 0);
    PQclear(r);
    r = NULL;
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);

    const char *p4[] = {idbuf, spec->dag_id, run_id, verbuf};
    long n = db_exec(db, "dagrun_tis", SQL_INSERT_TIS, 4, p4);
    if (n < 0)
        goto dberr;

    if (dagrun_notify(db, id) < 0)
        goto dberr;

    if (id_out)
        *id_out = id;
    if (run_id_out)
        snprintf(run_id_out, DAGRUN_ID_MAX + 1, "%s", run_id);
    rc = 0;
    goto out;

dberr:
    if (!strcmp(db_sqlstate(db), "23505")) {
        snprintf(err, errlen, "dag run '%s' already exists for dag '%s'", run_id, spec->dag_id);
        rc = UPDRAFT_EEXISTS;
    } else {
        snprintf(err, errlen, "database error: %s", db_error(db));
        rc = UPDRAFT_EDB;
    }
out:
    PQclear(r);
    cJSON_Delete(given);
    cJSON_free(conf);
    return rc;
}

int dagrun_create(db_t *db, const dagrun_spec_t *spec, int64_t *id_out, char *run_id_out, char *err,
                  size_t errlen)
{
    int64_t id = 0;
    char rid[DAGRUN_ID_MAX + 1] = "";
    if (db_begin(db) < 0) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    int rc = dagrun_create_in_tx(db, spec, &id, rid, err, errlen);
    if (rc < 0) {
        db_rollback(db);
        return rc;
    }
    if (db_commit(db) < 0) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        db_rollback(db);
        return UPDRAFT_EDB;
    }
    log_info("dag run created dag_id=%s run_id=%s id=%" PRId64 " type=%s", spec->dag_id, rid, id,
             dagrun_type_name(spec->type));
    if (id_out)
        *id_out = id;
    if (run_id_out)
        snprintf(run_id_out, DAGRUN_ID_MAX + 1, "%s", rid);
    return 0;
}

static const char SQL_LAST_SCHEDULED[] =
    "SELECT (extract(epoch FROM logical_date) * 1000000)::bigint,"
    " (extract(epoch FROM data_interval_end) * 1000000)::bigint FROM dag_run"
    " WHERE dag_id = $1 AND run_type = 'scheduled'"
    " ORDER BY logical_date DESC LIMIT 1";

int dagrun_last_scheduled(db_t *db, const char *dag_id, ts_us_t *start, ts_us_t *end)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, "dagrun_last_scheduled", SQL_LAST_SCHEDULED, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    *start = PQntuples(r) && !PQgetisnull(r, 0, 0) ? db_get_i64(r, 0, 0) : TS_NONE;
    *end = PQntuples(r) && !PQgetisnull(r, 0, 1) ? db_get_i64(r, 0, 1) : TS_NONE;
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_LIST_STARTABLE[] =
    "SELECT dr.id FROM dag_run dr JOIN dag d ON d.dag_id = dr.dag_id"
    " WHERE dr.state = 'queued' AND (NOT d.is_paused OR dr.run_type <> 'scheduled')"
    " AND (SELECT count(*) FROM dag_run x WHERE x.dag_id = dr.dag_id"
    "      AND x.state = 'running') < d.max_active_runs"
    " ORDER BY dr.logical_date, dr.id LIMIT 1000";

int dagrun_list_startable(db_t *db, PGresult **out)
{
    return store_query_rows(db, "dagrun_list_startable", SQL_LIST_STARTABLE, 0, NULL, out);
}

/* ---- what the commands, the API and the watching operators read ---------- */

/* The exact run id first, else the logical date. */
static const char SQL_FIND[] = "SELECT id, run_id, state, " STORE_US_COL(
    "logical_date") " FROM dag_run WHERE dag_id = $1"
                    " AND (run_id = $2 OR logical_date = "
                    "$3::timestamptz)"
                    " ORDER BY (run_id = $2) DESC LIMIT 1";

int dagrun_find(db_t *db, const char *dag_id, const char *run_id, const char *logical_date,
                dagrun_ref_t *out)
{
    const char *p[] = {dag_id, run_id, logical_date};
    int rc = UPDRAFT_ENOTFOUND;

    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, "dagrun_find", SQL_FIND, 3, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 1) {
        out->id = db_get_i64(r, 0, 0);
        store_copy_str(out->run_id, sizeof(out->run_id), PQgetvalue(r, 0, 1));
        store_copy_str(out->state, sizeof(out->state), PQgetvalue(r, 0, 2));
        out->logical_date = store_get_ts(r, 0, 3);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_IN_RANGE[] = "SELECT id, run_id, state, " STORE_US_COL(
    "logical_date") " FROM dag_run WHERE dag_id = $1"
                    " AND logical_date >= $2::timestamptz"
                    " AND logical_date <= $3::timestamptz";

/* Rows of (id, run_id, state, logical date) into a dagrun_ref_t array. */
static int rows_to_refs(const PGresult *r, dagrun_ref_t **out, size_t *n, char *err, size_t errlen)
{
    size_t rows = (size_t)PQntuples(r);
    dagrun_ref_t *list = calloc(rows ? rows : 1, sizeof(*list));

    if (!list)
        return store_out_of_memory(err, errlen);
    for (size_t i = 0; i < rows; i++) {
        list[i].id = db_get_i64(r, (int)i, 0);
        store_copy_str(list[i].run_id, sizeof(list[i].run_id), db_get_str(r, (int)i, 1));
        store_copy_str(list[i].state, sizeof(list[i].state), db_get_str(r, (int)i, 2));
        list[i].logical_date = store_get_ts(r, (int)i, 3);
    }
    *out = list;
    *n = rows;
    return 0;
}

int dagrun_list_in_range(db_t *db, const char *dag_id, ts_us_t from, ts_us_t to, dagrun_ref_t **out,
                         size_t *n, char *err, size_t errlen)
{
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    const char *p[] = {dag_id, ts_format_iso(from, a), ts_format_iso(to, b)};

    *out = NULL;
    *n = 0;
    PGresult *r = db_query(db, NULL, SQL_IN_RANGE, 3, p);
    if (!r)
        return store_db_failed(db, err, errlen);
    int rc = rows_to_refs(r, out, n, err, errlen);
    PQclear(r);
    return rc;
}

static const char SQL_STATES[] = "SELECT id, NULL, state, NULL FROM dag_run"
                                 " WHERE id = ANY($1::bigint[])";

int dagrun_states(db_t *db, const int64_t *ids, size_t n, dagrun_ref_t **out, size_t *nout,
                  char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    char *arr = pgarray_int64(ids, n);
    if (!arr)
        return store_out_of_memory(err, errlen);
    const char *p[] = {arr};
    PGresult *r = db_query(db, NULL, SQL_STATES, 1, p);
    free(arr);
    if (!r)
        return store_db_failed(db, err, errlen);
    int rc = rows_to_refs(r, out, nout, err, errlen);
    PQclear(r);
    return rc;
}

static const char SQL_ANY_OF_DAG[] = "SELECT EXISTS (SELECT 1 FROM dag_run"
                                     " WHERE id = ANY($1::bigint[]) AND dag_id = $2)";

int dagrun_any_of_dag(db_t *db, const char *dag_id, const int64_t *ids, size_t n)
{
    char *arr = pgarray_int64(ids, n);
    int rc;

    if (!arr)
        return UPDRAFT_ENOMEM;
    const char *p[] = {arr, dag_id};
    PGresult *r = db_query(db, "dagrun_any_of_dag", SQL_ANY_OF_DAG, 2, p);
    free(arr);
    if (!r)
        return UPDRAFT_EDB;
    rc = PQntuples(r) == 1 && db_get_bool(r, 0, 0) ? 1 : 0;
    PQclear(r);
    return rc;
}

/* The state in the first column of r (at most one row) into state[0..len). */
static int one_state(PGresult *r, char *state, size_t len)
{
    int rc = UPDRAFT_ENOTFOUND;

    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 1) {
        store_copy_str(state, len, db_get_str(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_STATE[] = "SELECT state FROM dag_run WHERE id = $1::bigint";

int dagrun_state(db_t *db, int64_t id, char *state, size_t len)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};

    if (len)
        state[0] = '\0';
    return one_state(db_query(db, NULL, SQL_STATE, 1, p), state, len);
}

static const char SQL_STATE_AT[] = "SELECT state FROM dag_run WHERE dag_id = $1"
                                   " AND logical_date = $2::timestamptz";

int dagrun_state_at(db_t *db, const char *dag_id, const char *logical_date, char *state, size_t len)
{
    const char *p[] = {dag_id, logical_date};
    return one_state(db_query(db, NULL, SQL_STATE_AT, 2, p), state, len);
}

static const char SQL_CONF[] = "SELECT CASE WHEN conf = '{}'::jsonb THEN NULL ELSE conf::text END"
                               " FROM dag_run WHERE id = $1::bigint";

int dagrun_get_conf(db_t *db, int64_t id, char **conf, char *err, size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};
    PGresult *r = db_query(db, NULL, SQL_CONF, 1, p);
    int rc = UPDRAFT_ENOTFOUND;

    *conf = NULL;
    if (!r)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) == 1) {
        const char *c = db_get_str(r, 0, 0);
        rc = c && !(*conf = strdup(c)) ? store_out_of_memory(err, errlen) : 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_LIVE_COUNT[] = "SELECT (SELECT count(*) FROM dag_run WHERE dag_id = $1"
                                     "  AND state IN ('queued', 'running')), max_active_runs"
                                     " FROM dag WHERE dag_id = $1";

int dagrun_live_count(db_t *db, const char *dag_id, long *live, long *max, char *err, size_t errlen)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, NULL, SQL_LIVE_COUNT, 1, p);

    if (!r)
        return store_db_failed(db, err, errlen);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    *live = (long)db_get_i64(r, 0, 0);
    *max = db_get_int(r, 0, 1);
    if (*max < 1)
        *max = 1;
    PQclear(r);
    return 0;
}

static const char SQL_DELETE_AT[] = "DELETE FROM dag_run WHERE dag_id = $1 AND logical_date = $2";

int dagrun_delete_at(db_t *db, const char *dag_id, ts_us_t logical, long *deleted, char *err,
                     size_t errlen)
{
    char ld[TS_ISO_LEN];
    const char *p[] = {dag_id, ts_format_iso(logical, ld)};
    long n = db_exec(db, NULL, SQL_DELETE_AT, 2, p);

    *deleted = n > 0 ? n : 0;
    return n < 0 ? store_db_failed(db, err, errlen) : 0;
}

/* The scheduler is woken: a deleted live run frees its DAG's max_active_runs. */
static const char SQL_DELETE[] =
    "WITH d AS (DELETE FROM dag_run WHERE dag_id = $1 AND run_id = $2 RETURNING id)"
    " SELECT count(*), count(pg_notify(" CHANNEL_SCHEDULER_SQL ", '')) FROM d";

int dagrun_delete(db_t *db, const char *dag_id, const char *run_id)
{
    const char *p[] = {dag_id, run_id};
    PGresult *r = db_query(db, "dagrun_delete", SQL_DELETE, 2, p);
    int rc;

    if (!r)
        return UPDRAFT_EDB;
    rc = db_get_i64(r, 0, 0) > 0 ? UPDRAFT_OK : UPDRAFT_ENOTFOUND;
    PQclear(r);
    return rc;
}

/*
 * Every (DAG, run state) pair of the DAGs asked for that exist, zeros
 * included, in one pass: the states in Airflow's DagRunState order.
 */
static const char SQL_STATE_COUNTS[] =
    "SELECT d.dag_id, s.state, count(dr.id) FROM dag d"
    " CROSS JOIN unnest(ARRAY['queued', 'running', 'success', 'failed'])"
    "  WITH ORDINALITY AS s(state, ord)"
    " LEFT JOIN dag_run dr ON dr.dag_id = d.dag_id AND dr.state = s.state"
    " WHERE d.dag_id IN (SELECT jsonb_array_elements_text($1::jsonb))"
    " GROUP BY d.dag_id, s.state, s.ord ORDER BY d.dag_id, s.ord";

int dagrun_state_counts(db_t *db, const char *dag_ids_json, PGresult **out)
{
    const char *p[] = {dag_ids_json};

    return store_query_rows(db, "dagrun_state_counts", SQL_STATE_COUNTS, 1, p, out);
}

static const char SQL_SET_NOTE[] = "UPDATE dag_run SET note = $2 WHERE id = $1";

int dagrun_set_note(db_t *db, int64_t run_pk, const char *note)
{
    char idbuf[24];
    const char *p[] = {idbuf, note};

    snprintf(idbuf, sizeof(idbuf), "%" PRId64, run_pk);
    if (db_exec(db, "dagrun_set_note", SQL_SET_NOTE, 2, p) < 0)
        return UPDRAFT_EDB;
    return UPDRAFT_OK;
}

static const char SQL_TASK_COUNTS[] =
    "SELECT ti.task_id, count(*),"
    "       count(*) FILTER (WHERE ti.state = ANY($5::text[])),"
    "       count(*) FILTER (WHERE ti.state = ANY($6::text[])),"
    "       count(*) FILTER (WHERE ti.state = ANY($7::text[])),"
    "       string_agg(DISTINCT ti.state, ',')"
    "  FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id"
    " WHERE dr.dag_id = $1 AND dr.logical_date = $2::timestamptz"
    "   AND ti.dag_id = $1"
    "   AND (CASE WHEN $4 = '' THEN ti.task_id IN"
    "              (SELECT jsonb_array_elements_text($3::jsonb))"
    "        ELSE left(ti.task_id, length($4) + 1) = $4 || '.' END)"
    " GROUP BY ti.task_id ORDER BY ti.task_id";

int dagrun_task_counts(db_t *db, const char *dag_id, const char *logical_date,
                       const char *task_ids_json, const char *group, const char *allowed,
                       const char *failed, const char *skipped, dagrun_counts_t **out, size_t *n)
{
    const char *p[] = {
        dag_id, logical_date, task_ids_json ? task_ids_json : "[]", group ? group : "", allowed,
        failed, skipped};
    *out = NULL;
    *n = 0;
    PGresult *r = db_query(db, NULL, SQL_TASK_COUNTS, 7, p);
    if (!r)
        return UPDRAFT_EDB;
    int rows = PQntuples(r);
    dagrun_counts_t *c = calloc((size_t)rows + 1, sizeof(*c));
    if (!c) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        if (!(c[i].task_id = strdup(PQgetvalue(r, i, 0)))) {
            dagrun_counts_free(c, (size_t)i);
            PQclear(r);
            return UPDRAFT_ENOMEM;
        }
        c[i].total = atol(PQgetvalue(r, i, 1));
        c[i].allowed = atol(PQgetvalue(r, i, 2));
        c[i].failed = atol(PQgetvalue(r, i, 3));
        c[i].skipped = atol(PQgetvalue(r, i, 4));
    }
    PQclear(r);
    *out = c;
    *n = (size_t)rows;
    return UPDRAFT_OK;
}

void dagrun_counts_free(dagrun_counts_t *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++)
        free(c[i].task_id);
    free(c);
}
