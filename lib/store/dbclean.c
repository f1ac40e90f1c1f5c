/*
 * dbclean.c - the statements of `updraft db clean` (see dbclean.h).
 *
 * One row of the table below per cleanable table: its recency expression
 * and what must stay whatever its age. The statements are assembled from
 * these constant fragments and from archive names this file made or
 * checked (letters, digits and '_' only); every value (the timestamp, the
 * id to resume after, the batch size) is a parameter.
 */
#include "store/dbclean.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define LIVE_RUN "('queued', 'running')"
#define LIVE_TI                                                                                    \
    "('none', 'scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule', "             \
    "'deferred', 'restarting')"
#define RUN_NOT_LIVE(col)                                                                          \
    "NOT EXISTS (SELECT 1 FROM dag_run r WHERE r.id = " col " AND r.state IN " LIVE_RUN ")"

typedef struct clean_table {
    const char *name;
    const char *key;     /* a bigint key, unique: batches walk the table by it */
    const char *recency; /* an expression over the row t */
    const char *keep;    /* rows matching this stay whatever their age; NULL: none */
} clean_table_t;

/* Children before their parents, so that cascades find little left. */
static const clean_table_t TABLES[] = {
    {"task_log", "id", "t.created_at",
     "EXISTS (SELECT 1 FROM task_instance i WHERE i.id = t.ti_id AND i.state IN " LIVE_TI ")"},
    {"xcom", "id", "t.\"timestamp\"", "NOT " RUN_NOT_LIVE("t.dag_run_id")},
    /* an event whose alert is still to be sent stays (as store/outbox.c's retention) */
    {"callback_event", "id", "t.created_at",
     "t.processed_at IS NULL OR EXISTS (SELECT 1 FROM alert_delivery a WHERE a.event_id = t.id"
     " AND a.state IN ('pending', 'sending'))"},
    {"rendered_task_instance_fields", "ti_id", "t.updated_at",
     "EXISTS (SELECT 1 FROM task_instance i WHERE i.id = t.ti_id AND i.state IN " LIVE_TI ")"},
    {"task_instance", "id", "coalesce(t.start_date, t.updated_at)",
     "t.state IN " LIVE_TI " OR NOT " RUN_NOT_LIVE("t.dag_run_id")},
    /* the latest run of each DAG not triggered from outside stays, as in Airflow (found by one
     * probe of dag_run_dag_logical per DAG, once per statement); and a run with an alert still
     * to be sent */
    {"dag_run", "id", "coalesce(t.start_date, t.queued_at)",
     "t.state IN " LIVE_RUN " OR t.id IN (SELECT (SELECT k.id FROM dag_run k"
     " WHERE k.dag_id = d.dag_id AND NOT k.external_trigger ORDER BY k.logical_date DESC LIMIT 1)"
     " FROM dag d)"
     " OR EXISTS (SELECT 1 FROM callback_event e WHERE e.dag_run_id = t.id"
     " AND e.processed_at IS NULL)"},
    {"backfill", "id", "t.completed_at", NULL},
    {"event_log", "id", "t.dttm", NULL},
    {"import_error", "id", "t.\"timestamp\"", NULL},
    /* a job row still marked running is a live daemon's (or the reaper's to close) */
    {"job", "id", "t.latest_heartbeat", "t.state = 'running'"},
};
#define NTABLES (sizeof(TABLES) / sizeof(TABLES[0]))

size_t dbclean_table_count(void)
{
    return NTABLES;
}

const char *dbclean_table_name(size_t i)
{
    return i < NTABLES ? TABLES[i].name : NULL;
}

int dbclean_find_table(const char *name)
{
    for (size_t i = 0; i < NTABLES; i++)
        if (!strcmp(TABLES[i].name, name))
            return (int)i;
    return -1;
}

/* The condition of the rows to delete ($1: the timestamp). */
static void where_old(const clean_table_t *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s < $1::timestamptz%s%s%s", t->recency, t->keep ? " AND NOT (" : "",
             t->keep ? t->keep : "", t->keep ? ")" : "");
}

int dbclean_count(db_t *db, size_t i, const char *before, long *count)
{
    char cond[1024], sql[1536];
    const char *p[] = {before};
    *count = 0;
    if (i >= NTABLES)
        return UPDRAFT_EINVALID;
    where_old(&TABLES[i], cond, sizeof(cond));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s t WHERE %s", TABLES[i].name, cond);
    PGresult *r = db_query(db, NULL, sql, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    *count = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

/* An archive table's name: the prefix, then letters, digits and '_' only. */
static bool archive_name_ok(const char *name)
{
    size_t n = strlen(name), pl = strlen(DBCLEAN_ARCHIVE_PREFIX);
    if (n >= DBCLEAN_NAME_MAX || strncmp(name, DBCLEAN_ARCHIVE_PREFIX, pl) != 0)
        return false;
    for (const char *c = name; *c; c++)
        if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_'))
            return false;
    return true;
}

int dbclean_archive_create(db_t *db, size_t i, const char *stamp, char *archive)
{
    char sql[256];
    if (i >= NTABLES || strlen(stamp) != 14 || strspn(stamp, "0123456789") != 14)
        return UPDRAFT_EINVALID;
    snprintf(archive, DBCLEAN_NAME_MAX, DBCLEAN_ARCHIVE_PREFIX "%s__%s", TABLES[i].name, stamp);
    snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS \"%s\" AS SELECT * FROM %s WITH NO DATA",
             archive, TABLES[i].name);
    return db_exec(db, NULL, sql, 0, NULL) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

int dbclean_batch(db_t *db, size_t i, const char *before, const char *archive, int batch,
                  int64_t *last_id, long *deleted, bool *more)
{
    char cond[1024], sql[3072], last[24], lim[16];
    const char *p[] = {before, last, lim};
    PGresult *r = NULL;
    int rc = UPDRAFT_EDB;

    *deleted = 0;
    *more = false;
    if (i >= NTABLES || batch < 1 || batch > DBCLEAN_MAX_BATCH ||
        (archive && !archive_name_ok(archive)))
        return UPDRAFT_EINVALID;
    const clean_table_t *t = &TABLES[i];
    where_old(t, cond, sizeof(cond));
    snprintf(last, sizeof(last), "%" PRId64, *last_id);
    snprintf(lim, sizeof(lim), "%d", batch);
    /* The keep condition is checked again by the DELETE itself: a row that changed since the
     * batch was chosen (a run cleared back to queued) is re-read and left alone. */
    char arch[160] = "";
    if (archive)
        snprintf(arch, sizeof(arch), ", a AS (INSERT INTO \"%s\" SELECT * FROM d)", archive);
    snprintf(sql, sizeof(sql),
             "WITH b AS (SELECT t.%s AS k FROM %s t WHERE t.%s > $2::bigint AND %s"
             " ORDER BY t.%s LIMIT $3::int),"
             " d AS (DELETE FROM %s t WHERE t.%s IN (SELECT k FROM b) AND %s RETURNING t.*)%s"
             " SELECT (SELECT count(*) FROM d), (SELECT max(k) FROM b)",
             t->key, t->name, t->key, cond, t->key, t->name, t->key, cond, arch);
    if (db_begin(db) < 0)
        return UPDRAFT_EDB;
    if (db_simple(db, "SET LOCAL lock_timeout = '" DBCLEAN_LOCK_TIMEOUT "'") < 0)
        goto out;
    r = db_query(db, NULL, sql, 3, p);
    if (!r) {
        if (!strcmp(db_sqlstate(db), "55P03"))
            rc = UPDRAFT_ECONFLICT;
        goto out;
    }
    if (db_commit(db) < 0)
        goto out;
    *deleted = (long)db_get_i64(r, 0, 0);
    if (!PQgetisnull(r, 0, 1)) {
        *last_id = db_get_i64(r, 0, 1);
        *more = true;
    }
    rc = UPDRAFT_OK;
out:
    PQclear(r);
    if (rc < 0)
        db_rollback(db);
    return rc;
}

void dbclean_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
}

/* Whether archive name belongs to one of the tables in only (all when only is NULL). */
static bool archive_of(const char *name, const char *const *only, size_t nonly)
{
    if (!only)
        return true;
    const char *rest = name + strlen(DBCLEAN_ARCHIVE_PREFIX);
    for (size_t k = 0; k < nonly; k++) {
        size_t n = strlen(only[k]);
        if (!strncmp(rest, only[k], n) && !strncmp(rest + n, "__", 2) &&
            strspn(rest + n + 2, "0123456789") == strlen(rest + n + 2))
            return true;
    }
    return false;
}

static const char SQL_LIST_ARCHIVES[] =
    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    " AND starts_with(tablename, $1) ORDER BY tablename";

int dbclean_list_archives(db_t *db, const char *const *only, size_t nonly, char ***names, size_t *n)
{
    const char *p[] = {DBCLEAN_ARCHIVE_PREFIX};
    *names = NULL;
    *n = 0;
    PGresult *r = db_query(db, "dbclean_list_archives", SQL_LIST_ARCHIVES, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    int rows = PQntuples(r);
    char **out = calloc((size_t)rows + 1, sizeof(*out));
    if (!out) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    size_t k = 0;
    for (int row = 0; row < rows; row++) {
        const char *name = PQgetvalue(r, row, 0);
        if (!archive_name_ok(name) || !archive_of(name, only, nonly))
            continue;
        if (!(out[k] = strdup(name))) {
            dbclean_names_free(out, k);
            PQclear(r);
            return UPDRAFT_ENOMEM;
        }
        k++;
    }
    PQclear(r);
    *names = out;
    *n = k;
    return UPDRAFT_OK;
}

int dbclean_drop_archive(db_t *db, const char *name)
{
    char sql[128];
    if (!archive_name_ok(name))
        return UPDRAFT_EINVALID;
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s\"", name);
    return db_exec(db, NULL, sql, 0, NULL) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}
