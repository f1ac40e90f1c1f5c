/*
 * runs_read.c - reads of dag_run, task_instance and task_log for the
 * operator commands (see runs_read.h). Each statement is a named constant
 * next to the function that runs it; times travel as microseconds since
 * the epoch.
 */
#include "store/runs_read.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/pgarray.h"

#define US_COL(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

static int db_failed(db_t *db, char *err, size_t errlen)
{
    errbuf_set(err, errlen, "%s", db_error(db));
    return UPDRAFT_EDB;
}

static int out_of_memory(char *err, size_t errlen)
{
    errbuf_set(err, errlen, "out of memory");
    return UPDRAFT_ENOMEM;
}

static ts_us_t col_ts(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? TS_NONE : (ts_us_t)db_get_i64(r, row, col);
}

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* The exact run id first, else the logical date. */
static const char SQL_FIND[] = "SELECT id, run_id, state, " US_COL(
    "logical_date") " FROM dag_run WHERE dag_id = $1"
                    " AND (run_id = $2 OR logical_date = $3::timestamptz)"
                    " ORDER BY (run_id = $2) DESC LIMIT 1";

int runs_find(db_t *db, const char *dag_id, const char *run_or_date, runs_ref_t *out, char *err,
              size_t errlen)
{
    ts_us_t t;
    char iso[TS_ISO_LEN];
    bool is_date = ts_parse(run_or_date, &t) == 0;
    const char *p[] = {dag_id, run_or_date, is_date ? ts_format_iso(t, iso) : NULL};
    int rc = UPDRAFT_ENOTFOUND;

    memset(out, 0, sizeof(*out));
    PGresult *r = db_query(db, NULL, SQL_FIND, 3, p);
    if (!r)
        return db_failed(db, err, errlen);
    if (PQntuples(r) == 1) {
        out->id = db_get_i64(r, 0, 0);
        copy_str(out->run_id, sizeof(out->run_id), PQgetvalue(r, 0, 1));
        copy_str(out->state, sizeof(out->state), PQgetvalue(r, 0, 2));
        out->logical_date = db_get_i64(r, 0, 3);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_IN_RANGE[] =
    "SELECT id, run_id, state, " US_COL("logical_date") " FROM dag_run WHERE dag_id = $1"
                                                        " AND logical_date >= $2::timestamptz"
                                                        " AND logical_date <= $3::timestamptz";

/* Rows of (id, run_id, state, logical date) into a runs_ref_t array. */
static int rows_to_refs(const PGresult *r, runs_ref_t **out, size_t *n, char *err, size_t errlen)
{
    size_t rows = (size_t)PQntuples(r);
    runs_ref_t *list = calloc(rows ? rows : 1, sizeof(*list));

    if (!list)
        return out_of_memory(err, errlen);
    for (size_t i = 0; i < rows; i++) {
        list[i].id = db_get_i64(r, (int)i, 0);
        copy_str(list[i].run_id, sizeof(list[i].run_id), db_get_str(r, (int)i, 1));
        copy_str(list[i].state, sizeof(list[i].state), db_get_str(r, (int)i, 2));
        list[i].logical_date = col_ts(r, (int)i, 3);
    }
    *out = list;
    *n = rows;
    return 0;
}

int runs_in_range(db_t *db, const char *dag_id, ts_us_t from, ts_us_t to, runs_ref_t **out,
                  size_t *n, char *err, size_t errlen)
{
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    const char *p[] = {dag_id, ts_format_iso(from, a), ts_format_iso(to, b)};

    *out = NULL;
    *n = 0;
    PGresult *r = db_query(db, NULL, SQL_IN_RANGE, 3, p);
    if (!r)
        return db_failed(db, err, errlen);
    int rc = rows_to_refs(r, out, n, err, errlen);
    PQclear(r);
    return rc;
}

static const char SQL_STATES[] = "SELECT id, NULL, state, NULL FROM dag_run"
                                 " WHERE id = ANY($1::bigint[])";

int runs_states(db_t *db, const int64_t *ids, size_t n, runs_ref_t **out, size_t *nout, char *err,
                size_t errlen)
{
    *out = NULL;
    *nout = 0;
    char *arr = pgarray_int64(ids, n);
    if (!arr)
        return out_of_memory(err, errlen);
    const char *p[] = {arr};
    PGresult *r = db_query(db, NULL, SQL_STATES, 1, p);
    free(arr);
    if (!r)
        return db_failed(db, err, errlen);
    int rc = rows_to_refs(r, out, nout, err, errlen);
    PQclear(r);
    return rc;
}

static const char SQL_STATE[] = "SELECT state FROM dag_run WHERE id = $1::bigint";

int runs_state(db_t *db, int64_t id, char *state, char *err, size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};
    PGresult *r = db_query(db, NULL, SQL_STATE, 1, p);
    int rc = UPDRAFT_ENOTFOUND;

    state[0] = '\0';
    if (!r)
        return db_failed(db, err, errlen);
    if (PQntuples(r) == 1) {
        copy_str(state, RUNS_STATE_MAX, db_get_str(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_CONF[] = "SELECT CASE WHEN conf = '{}'::jsonb THEN NULL ELSE conf::text END"
                               " FROM dag_run WHERE id = $1::bigint";

int runs_conf(db_t *db, int64_t id, char **conf, char *err, size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};
    PGresult *r = db_query(db, NULL, SQL_CONF, 1, p);
    int rc = UPDRAFT_ENOTFOUND;

    *conf = NULL;
    if (!r)
        return db_failed(db, err, errlen);
    if (PQntuples(r) == 1) {
        const char *c = db_get_str(r, 0, 0);
        rc = c && !(*conf = strdup(c)) ? out_of_memory(err, errlen) : 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_LIVE[] = "SELECT (SELECT count(*) FROM dag_run WHERE dag_id = $1"
                               "  AND state IN ('queued', 'running')), max_active_runs"
                               " FROM dag WHERE dag_id = $1";

int runs_live_count(db_t *db, const char *dag_id, long *live, long *max, char *err, size_t errlen)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, NULL, SQL_LIVE, 1, p);

    if (!r)
        return db_failed(db, err, errlen);
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

static const char SQL_LAST_SCHEDULED[] = "SELECT " US_COL("logical_date") ", " US_COL(
    "data_interval_end") " FROM dag_run WHERE dag_id = $1 AND run_type = 'scheduled'"
                         " ORDER BY logical_date DESC LIMIT 1";

int runs_last_scheduled(db_t *db, const char *dag_id, ts_us_t *logical, ts_us_t *interval_end,
                        char *err, size_t errlen)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, NULL, SQL_LAST_SCHEDULED, 1, p);
    int rc = UPDRAFT_ENOTFOUND;

    *logical = *interval_end = TS_NONE;
    if (!r)
        return db_failed(db, err, errlen);
    if (PQntuples(r) == 1) {
        *logical = col_ts(r, 0, 0);
        *interval_end = col_ts(r, 0, 1);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_DELETE_AT[] = "DELETE FROM dag_run WHERE dag_id = $1 AND logical_date = $2";

int runs_delete_at(db_t *db, const char *dag_id, ts_us_t logical, long *deleted, char *err,
                   size_t errlen)
{
    char ld[TS_ISO_LEN];
    const char *p[] = {dag_id, ts_format_iso(logical, ld)};
    long n = db_exec(db, NULL, SQL_DELETE_AT, 2, p);

    *deleted = n > 0 ? n : 0;
    return n < 0 ? db_failed(db, err, errlen) : 0;
}

/* The run's state in every row: read together, a final run state means final rows. */
static const char SQL_LIST_TIS[] =
    "SELECT (SELECT state FROM dag_run WHERE id = $1::bigint),"
    " ti.id, ti.task_id, ti.state, ti.try_number FROM task_instance ti"
    " WHERE ti.dag_run_id = $1::bigint AND ti.map_index = -1"
    " ORDER BY coalesce(ti.start_date, ti.end_date, 'infinity'), ti.id";

int runs_list_tis(db_t *db, int64_t id, char *run_state, runs_ti_t **out, size_t *n, char *err,
                  size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf};
    PGresult *r;
    runs_ti_t *list;
    size_t rows;

    *out = NULL;
    *n = 0;
    run_state[0] = '\0';
    r = db_query(db, NULL, SQL_LIST_TIS, 1, p);
    if (!r)
        return db_failed(db, err, errlen);
    rows = (size_t)PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        int rc = runs_state(db, id, run_state, err, errlen);
        return rc == UPDRAFT_ENOTFOUND ? 0 : rc;
    }
    list = calloc(rows, sizeof(*list));
    if (!list) {
        PQclear(r);
        return out_of_memory(err, errlen);
    }
    copy_str(run_state, RUNS_STATE_MAX, db_get_str(r, 0, 0));
    for (size_t i = 0; i < rows; i++) {
        list[i].id = db_get_i64(r, (int)i, 1);
        copy_str(list[i].task_id, sizeof(list[i].task_id), db_get_str(r, (int)i, 2));
        copy_str(list[i].state, sizeof(list[i].state), db_get_str(r, (int)i, 3));
        list[i].try_number = db_get_int(r, (int)i, 4);
    }
    PQclear(r);
    *out = list;
    *n = rows;
    return 0;
}

static const char SQL_TI_STATE[] = "SELECT state FROM task_instance WHERE dag_run_id = $1::bigint"
                                   " AND task_id = $2 AND map_index = -1";

int runs_ti_state(db_t *db, int64_t id, const char *task_id, char *state, char *err, size_t errlen)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *p[] = {idbuf, task_id};
    PGresult *r = db_query(db, NULL, SQL_TI_STATE, 2, p);
    int rc = UPDRAFT_ENOTFOUND;

    state[0] = '\0';
    if (!r)
        return db_failed(db, err, errlen);
    if (PQntuples(r) > 0) {
        copy_str(state, RUNS_STATE_MAX, db_get_str(r, 0, 0));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

static const char SQL_TI_LOG[] = "SELECT data FROM task_log WHERE ti_id = $1::bigint"
                                 " AND try_number = $2::integer ORDER BY id";

int runs_ti_log(db_t *db, int64_t ti_id, int try_number, void (*each)(const char *chunk, void *ud),
                void *ud, char *err, size_t errlen)
{
    char idbuf[24], trybuf[16];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, ti_id);
    snprintf(trybuf, sizeof(trybuf), "%d", try_number);
    const char *p[] = {idbuf, trybuf};
    PGresult *r = db_query(db, NULL, SQL_TI_LOG, 2, p);

    if (!r)
        return db_failed(db, err, errlen);
    for (int i = 0; i < PQntuples(r); i++)
        each(PQgetvalue(r, i, 0), ud);
    PQclear(r);
    return 0;
}

static const char
    SQL_TASK_SPEC
        [] = "SELECT (v.data -> 'tasks' -> $2)::text, dr.conf::text, " US_COL("dr.data_interval_"
                                                                              "start") ", " US_COL(
            "dr.data_interval_end") " FROM dag_run dr JOIN dag_version v ON v.id = "
                                    "dr.dag_version_id WHERE dr.id = $1::bigint";

int runs_task_spec(db_t *db, int64_t id, const char *task_id, runs_task_spec_t *out, char *err,
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
        return db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    const char *spec = db_get_str(r, 0, 0), *conf = db_get_str(r, 0, 1);
    if ((spec && !(out->spec = strdup(spec))) || (conf && !(out->conf = strdup(conf)))) {
        runs_task_spec_free(out);
        rc = out_of_memory(err, errlen);
    }
    out->interval_start = col_ts(r, 0, 2);
    out->interval_end = col_ts(r, 0, 3);
    PQclear(r);
    return rc;
}

void runs_task_spec_free(runs_task_spec_t *s)
{
    if (!s)
        return;
    free(s->spec);
    free(s->conf);
    s->spec = s->conf = NULL;
}
