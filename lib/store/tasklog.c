/*
 * tasklog.c - reading task tries' logs back from task_log (see tasklog.h).
 *
 * Rows are fetched in batches by id (the primary key), so a long log costs
 * several short index scans rather than one result held whole in memory
 * twice; the API's read gathers the text into one growing buffer, the
 * commands' read hands each row to a callback as it comes.
 */
#include "store/tasklog.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define LOG_BATCH_ROWS 500
#define STR_(x) #x
#define STR(x) STR_(x)

static const char SQL_FIND_TI[] =
    "SELECT ti.id FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id"
    " WHERE dr.dag_id = $1 AND dr.run_id = $2 AND ti.task_id = $3 AND ti.map_index = $4::int";

static const char SQL_LOG_ROWS[] =
    "SELECT id, data FROM task_log WHERE ti_id = $1 AND "
    "try_number = $2 AND id > $3 ORDER BY id LIMIT " STR(LOG_BATCH_ROWS);

int tasklog_find_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                    int64_t map_index, int64_t *ti_id)
{
    char mapbuf[24];
    const char *params[4] = {dag_id, run_id, task_id, mapbuf};
    PGresult *res;
    int rc = UPDRAFT_OK;

    snprintf(mapbuf, sizeof(mapbuf), "%" PRId64, map_index);
    res = db_query(db, "tasklog_find_ti", SQL_FIND_TI, 4, params);
    if (!res)
        return UPDRAFT_EDB;
    if (PQntuples(res) == 0)
        rc = UPDRAFT_ENOTFOUND;
    else
        *ti_id = db_get_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

/* Grows *buf (of *alloc bytes) to hold need bytes; false when out of memory. */
static bool grow(char **buf, size_t *alloc, size_t need)
{
    size_t na = *alloc ? *alloc : 4096;
    char *nb;

    if (need <= *alloc)
        return true;
    while (na < need)
        na *= 2;
    nb = realloc(*buf, na);
    if (!nb)
        return false;
    *buf = nb;
    *alloc = na;
    return true;
}

/* The next batch of rows (id, data) after last_id in *res; NULL on a database error. */
static PGresult *fetch_batch(db_t *db, const char *idbuf, const char *trybuf, int64_t last_id)
{
    char lastbuf[24];
    const char *params[3] = {idbuf, trybuf, lastbuf};

    snprintf(lastbuf, sizeof(lastbuf), "%" PRId64, last_id);
    return db_query(db, "tasklog_rows", SQL_LOG_ROWS, 3, params);
}

/*
 * Appends one batch of rows after *last_id; *more is false once the log is
 * exhausted or max_bytes reached (the rest is for the next request).
 */
static int read_batch(db_t *db, const char *idbuf, const char *trybuf, size_t max_bytes,
                      int64_t *last_id, char **buf, size_t *alloc, size_t *len, bool *more)
{
    PGresult *res = fetch_batch(db, idbuf, trybuf, *last_id);
    int n;

    if (!res)
        return UPDRAFT_EDB;
    n = PQntuples(res);
    *more = n >= LOG_BATCH_ROWS;
    for (int i = 0; i < n; i++) {
        size_t dl = (size_t)PQgetlength(res, i, 1);
        if (*len > 0 && *len + dl > max_bytes) {
            *more = false;
            break;
        }
        if (!grow(buf, alloc, *len + dl + 1)) {
            PQclear(res);
            return UPDRAFT_ENOMEM;
        }
        memcpy(*buf + *len, PQgetvalue(res, i, 1), dl);
        *len += dl;
        *last_id = db_get_i64(res, i, 0);
    }
    PQclear(res);
    return UPDRAFT_OK;
}

int tasklog_read(db_t *db, int64_t ti_id, int64_t try_number, size_t max_bytes, int64_t *last_id,
                 char **content, size_t *len)
{
    char idbuf[24], trybuf[24], *buf = NULL;
    size_t alloc = 0, n = 0;
    bool more = true;
    int rc = UPDRAFT_OK;

    *content = NULL;
    *len = 0;
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, ti_id);
    snprintf(trybuf, sizeof(trybuf), "%" PRId64, try_number);
    while (more && rc == UPDRAFT_OK)
        rc = read_batch(db, idbuf, trybuf, max_bytes, last_id, &buf, &alloc, &n, &more);
    if (rc == UPDRAFT_OK && !grow(&buf, &alloc, n + 1))
        rc = UPDRAFT_ENOMEM;
    if (rc != UPDRAFT_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *content = buf;
    *len = n;
    return UPDRAFT_OK;
}

int tasklog_each(db_t *db, int64_t ti_id, int64_t try_number,
                 void (*each)(const char *chunk, void *ud), void *ud)
{
    char idbuf[24], trybuf[24];
    int64_t last_id = 0;
    bool more = true;

    snprintf(idbuf, sizeof(idbuf), "%" PRId64, ti_id);
    snprintf(trybuf, sizeof(trybuf), "%" PRId64, try_number);
    while (more) {
        PGresult *res = fetch_batch(db, idbuf, trybuf, last_id);
        if (!res)
            return UPDRAFT_EDB;
        int n = PQntuples(res);
        for (int i = 0; i < n; i++)
            each(PQgetvalue(res, i, 1), ud);
        if (n > 0)
            last_id = db_get_i64(res, n - 1, 0);
        more = n >= LOG_BATCH_ROWS;
        PQclear(res);
    }
    return UPDRAFT_OK;
}

/*
 * Retention: only the TASKLOG_PRUNE_BATCH oldest rows (by id, the primary
 * key) are looked at per statement, so a statement costs the same however
 * long the history is; rows are appended in time order, so the old ones are
 * at the head.
 */
static const char SQL_PRUNE[] =
    "WITH head AS (SELECT id, created_at FROM task_log ORDER BY id"
    " LIMIT " STR(
        TASKLOG_PRUNE_BATCH) ")"
                             " DELETE FROM task_log WHERE id IN (SELECT id FROM head"
                             " WHERE created_at < now() - make_interval(days => $1::int))";

int tasklog_prune(db_t *db, int days, int max_batches, long *deleted)
{
    char d[16];
    const char *p[] = {d};
    *deleted = 0;
    snprintf(d, sizeof(d), "%d", days);
    for (int round = 0; round < max_batches; round++) {
        long n = db_exec(db, "tasklog_prune", SQL_PRUNE, 1, p);
        if (n < 0)
            return UPDRAFT_EDB;
        *deleted += n;
        if (n < TASKLOG_PRUNE_BATCH)
            break;
    }
    return UPDRAFT_OK;
}
