/*
 * dags_read.c - reads of dag, dag_version and import_error for the
 * operator commands (see dags_read.h). Each statement is a named constant
 * next to the function that runs it.
 */
#include "store/dags_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"

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

/* A copy of field (row, col), NULL for SQL NULL; *oom set when the copy fails. */
static char *dup_field(const PGresult *r, int row, int col, bool *oom)
{
    const char *s = db_get_str(r, row, col);
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

static const char SQL_LIST_ACTIVE[] = "SELECT dag_id, fileloc, owners, is_paused FROM dag"
                                      " WHERE is_active ORDER BY dag_id";

int dags_list_active(db_t *db, dags_row_t **out, size_t *n, char *err, size_t errlen)
{
    PGresult *r = db_query(db, NULL, SQL_LIST_ACTIVE, 0, NULL);
    dags_row_t *rows;
    size_t count;
    bool oom = false;

    *out = NULL;
    *n = 0;
    if (!r)
        return db_failed(db, err, errlen);
    count = (size_t)PQntuples(r);
    rows = calloc(count ? count : 1, sizeof(*rows));
    for (size_t i = 0; rows && i < count; i++) {
        rows[i].dag_id = dup_field(r, (int)i, 0, &oom);
        rows[i].fileloc = dup_field(r, (int)i, 1, &oom);
        rows[i].owners = dup_field(r, (int)i, 2, &oom);
        rows[i].is_paused = db_get_bool(r, (int)i, 3);
    }
    PQclear(r);
    if (!rows || oom) {
        dags_rows_free(rows, count);
        return out_of_memory(err, errlen);
    }
    *out = rows;
    *n = count;
    return 0;
}

void dags_rows_free(dags_row_t *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].dag_id);
        free(rows[i].fileloc);
        free(rows[i].owners);
    }
    free(rows);
}

static const char SQL_IMPORT_ERRORS[] = "SELECT stack_trace FROM import_error ORDER BY filename";

int dags_import_errors(db_t *db, char ***out, size_t *n, char *err, size_t errlen)
{
    PGresult *r = db_query(db, NULL, SQL_IMPORT_ERRORS, 0, NULL);
    char **v;
    size_t count;
    bool oom = false;

    *out = NULL;
    *n = 0;
    if (!r)
        return db_failed(db, err, errlen);
    count = (size_t)PQntuples(r);
    v = calloc(count ? count : 1, sizeof(*v));
    for (size_t i = 0; v && i < count; i++)
        if (!(v[i] = strdup(PQgetvalue(r, (int)i, 0))))
            oom = true;
    PQclear(r);
    if (!v || oom) {
        dags_strings_free(v, count);
        return out_of_memory(err, errlen);
    }
    *out = v;
    *n = count;
    return 0;
}

void dags_strings_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static const char SQL_SCHEDULE[] =
    "SELECT v.data->>'schedule', v.data->>'timezone', " US_COL("d.start_date") ", " US_COL(
        "d.end_date") ", d.catchup, d.is_paused"
                      " FROM dag d JOIN dag_version v ON v.id = d.version_id WHERE d.dag_id = $1";

int dags_schedule(db_t *db, const char *dag_id, dags_schedule_t *out, char *err, size_t errlen)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, NULL, SQL_SCHEDULE, 1, p);
    bool oom = false;

    memset(out, 0, sizeof(*out));
    out->start_date = out->end_date = TS_NONE;
    if (!r)
        return db_failed(db, err, errlen);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    out->schedule = dup_field(r, 0, 0, &oom);
    out->timezone = dup_field(r, 0, 1, &oom);
    if (!PQgetisnull(r, 0, 2))
        out->start_date = db_get_i64(r, 0, 2);
    if (!PQgetisnull(r, 0, 3))
        out->end_date = db_get_i64(r, 0, 3);
    out->catchup = db_get_bool(r, 0, 4);
    out->is_paused = db_get_bool(r, 0, 5);
    PQclear(r);
    if (oom) {
        dags_schedule_free(out);
        return out_of_memory(err, errlen);
    }
    return 0;
}

void dags_schedule_free(dags_schedule_t *s)
{
    if (!s)
        return;
    free(s->schedule);
    free(s->timezone);
    s->schedule = s->timezone = NULL;
}

static const char SQL_LATEST_TASK[] =
    "SELECT (data -> 'tasks' -> $2)::text, (data -> 'params')::text FROM dag_version"
    " WHERE dag_id = $1 ORDER BY version_number DESC LIMIT 1";

int dags_latest_task(db_t *db, const char *dag_id, const char *task_id, char **spec, char **params,
                     char *err, size_t errlen)
{
    const char *p[] = {dag_id, task_id};
    PGresult *r = db_query(db, NULL, SQL_LATEST_TASK, 2, p);
    bool oom = false;

    *spec = *params = NULL;
    if (!r)
        return db_failed(db, err, errlen);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    *spec = dup_field(r, 0, 0, &oom);
    *params = dup_field(r, 0, 1, &oom);
    PQclear(r);
    if (oom) {
        free(*spec);
        free(*params);
        *spec = *params = NULL;
        return out_of_memory(err, errlen);
    }
    return 0;
}
