/*
 * backfill.c - see backfill.h.
 */
#include "store/backfill.h"
#include "store/channels.h"
#include "store/dagrun.h"
#include "store/ti_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pgarray.h"
#include "core/strbuf.h"

const char *backfill_action_name(backfill_action_t a)
{
    switch (a) {
    case BACKFILL_CREATE:
        return "create";
    case BACKFILL_CLEAR:
        return "clear";
    case BACKFILL_CLEAR_FAILED:
        return "clear_failed";
    case BACKFILL_SKIP:
        break;
    }
    return NULL;
}

static backfill_action_t action_from(const char *s)
{
    if (!s)
        return BACKFILL_SKIP;
    if (!strcmp(s, "clear"))
        return BACKFILL_CLEAR;
    if (!strcmp(s, "clear_failed"))
        return BACKFILL_CLEAR_FAILED;
    return BACKFILL_CREATE;
}

static void fill_err(db_t *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "database error: %s", db_error(db));
}

/* The backfill and its rows in one statement; the rows come as parallel arrays. */
static const char SQL_INSERT[] =
    "WITH b AS (INSERT INTO backfill (dag_id, from_date, to_date, dag_run_conf,"
    "   reprocess_behavior, max_active_runs)"
    "  VALUES ($1, $2, $3, $4::jsonb, $5, $6::int) RETURNING id),"
    " r AS (INSERT INTO backfill_dag_run (backfill_id, dag_run_id, exception_reason,"
    "   logical_date, data_interval_end, sort_ordinal, action)"
    "  SELECT b.id, nullif(x.run, 0), x.reason, x.ld, x.ie, x.ord, x.act"
    "  FROM b, unnest($7::bigint[], $8::text[], $9::timestamptz[], $10::timestamptz[],"
    "   $11::text[]) WITH ORDINALITY x(run, reason, ld, ie, act, ord))"
    " SELECT b.id, pg_notify(" CHANNEL_SCHEDULER_SQL ", 'backfill') FROM b";

int backfill_insert(db_t *db, const backfill_new_t *b, const backfill_row_t *rows, size_t n,
                    int64_t *id, char *err, size_t errlen)
{
    char from[TS_ISO_LEN], to[TS_ISO_LEN], mar[16];
    strbuf_t runs = {0}, reasons = {0}, lds = {0}, ies = {0}, acts = {0};
    char *a[5] = {NULL};
    int rc = UPDRAFT_ENOMEM;

    pgarray_open(&runs);
    pgarray_open(&reasons);
    pgarray_open(&lds);
    pgarray_open(&ies);
    pgarray_open(&acts);
    for (size_t i = 0; i < n; i++) {
        char t[TS_ISO_LEN];
        pgarray_put_int64(&runs, rows[i].dag_run_id);
        pgarray_put_text(&reasons, rows[i].reason);
        pgarray_put_text(&lds, ts_format_iso(rows[i].logical_date, t));
        pgarray_put_text(&ies, ts_format_iso(rows[i].interval_end, t));
        pgarray_put_text(&acts, backfill_action_name(rows[i].action));
    }
    pgarray_close(&runs);
    pgarray_close(&reasons);
    pgarray_close(&lds);
    pgarray_close(&ies);
    pgarray_close(&acts);
    a[0] = strbuf_take(&runs);
    a[1] = strbuf_take(&reasons);
    a[2] = strbuf_take(&lds);
    a[3] = strbuf_take(&ies);
    a[4] = strbuf_take(&acts);
    for (int i = 0; i < 5; i++)
        if (!a[i]) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    snprintf(mar, sizeof(mar), "%d", b->max_active_runs);
    const char *p[] = {b->dag_id,
                       ts_format_iso(b->from_date, from),
                       ts_format_iso(b->to_date, to),
                       b->conf_json ? b->conf_json : "{}",
                       b->reprocess_behavior,
                       mar,
                       a[0],
                       a[1],
                       a[2],
                       a[3],
                       a[4]};
    PGresult *r = db_query(db, "backfill_insert", SQL_INSERT, 11, p);
    if (!r) {
        if (!strcmp(db_sqlstate(db), "23505")) {
            snprintf(err, errlen, "dag '%s' has a backfill running already", b->dag_id);
            rc = UPDRAFT_EEXISTS;
        } else {
            fill_err(db, err, errlen);
            rc = UPDRAFT_EDB;
        }
        goto out;
    }
    *id = db_get_i64(r, 0, 0);
    PQclear(r);
    rc = UPDRAFT_OK;
out:
    strbuf_free(&runs);
    strbuf_free(&reasons);
    strbuf_free(&lds);
    strbuf_free(&ies);
    strbuf_free(&acts);
    for (int i = 0; i < 5; i++)
        free(a[i]);
    return rc;
}

/* ---- reading -------------------------------------------------------------- */

#define EPOCH_US(c) "(extract(epoch from " c ") * 1000000)::int8"

/* A backfill with its progress; the caller adds FROM ... WHERE. */
#define SELECT_INFO                                                                                                                         \
    "SELECT b.id, b.dag_id, b.dag_run_conf::text, b.reprocess_behavior, " EPOCH_US("b.from_date") ", " EPOCH_US("b.to_date") ", " EPOCH_US( \
        "b.created_at") ", " EPOCH_US("b.updated_at") ", " EPOCH_US("b.completed_at") ", "                                                  \
                                                                                      "b.is_"                                               \
                                                                                      "paused, "                                            \
                                                                                      "b.max_"                                              \
                                                                                      "active_"                                             \
                                                                                      "runs,"                                               \
                                                                                      " p.total, "                                          \
                                                                                      "p.skipped,"                                          \
                                                                                      " p."                                                 \
                                                                                      "pending,"                                            \
                                                                                      " p.queued,"                                          \
                                                                                      " p."                                                 \
                                                                                      "running, "                                           \
                                                                                      "p.success,"                                          \
                                                                                      " p.failed"                                           \
                                                                                      " FROM "                                              \
                                                                                      "backfill "                                           \
                                                                                      "b CROSS "                                            \
                                                                                      "JOIN "                                               \
                                                                                      "LATERAL "                                            \
                                                                                      "(SELECT "                                            \
                                                                                      "count(*) "                                           \
                                                                                      "AS total,"                                           \
                                                                                      "   "                                                 \
                                                                                      "count(*) "                                           \
                                                                                      "FILTER "                                             \
                                                                                      "(WHERE "                                             \
                                                                                      "r.action "                                           \
                                                                                      "IS NULL "                                            \
                                                                                      "OR "                                                 \
                                                                                      "(r."                                                 \
                                                                                      "started_"                                            \
                                                                                      "at IS NOT "                                          \
                                                                                      "NULL"                                                \
                                                                                      "     AND "                                           \
                                                                                      "r.dag_run_"                                          \
                                                                                      "id IS "                                              \
                                                                                      "NULL)) AS "                                          \
                                                                                      "skipped,"                                            \
                                                                                      "   "                                                 \
                                                                                      "count(*) "                                           \
                                                                                      "FILTER "                                             \
                                                                                      "(WHERE "                                             \
                                                                                      "r.action "                                           \
                                                                                      "IS NOT "                                             \
                                                                                      "NULL AND "                                           \
                                                                                      "r.started_"                                          \
                                                                                      "at IS "                                              \
                                                                                      "NULL) AS "                                           \
                                                                                      "pending,"                                            \
                                                                                      "   "                                                 \
                                                                                      "count(*) "                                           \
                                                                                      "FILTER "                                             \
                                                                                      "(WHERE "                                             \
                                                                                      "r.started_"                                          \
                                                                                      "at IS NOT "                                          \
                                                                                      "NULL AND "                                           \
                                                                                      "d.state = "                                          \
                                                                                      "'queued') "                                          \
                                                                                      "AS queued,"                                          \
                                                                                      "   "                                                 \
                                                                                      "count(*) "                                           \
                                                                                      "FILTER "                                             \
                                                                                      "(WHERE "                                             \
                                                                                      "r.started_"                                          \
                                                                                      "at IS NOT "                                          \
                                                                                      "NULL AND "                                           \
                                                                                      "d.state = "                                          \
                                                                                      "'running')"                                          \
                                                                                      " AS "                                                \
                                                                                      "running,"                                            \
                                                                                      "   "                                                 \
                                                                                      "count(*) "                                           \
                                                                                      "FILTER "                                             \
                                                                                      "(WHERE "                                             \
                                                                                      "r.started_"                                          \
                                                                                      "at IS NOT "                                          \
                                                                                      "NULL AND "                                           \
                                                                                      "d.state = "                                          \
                                                                                      "'success')"                                          \
                                                                                      " AS "                                                \
                                                                                      "success,"                                            \
                                                                                      "   "                                                 \
                                                                                      "count(*) "                                           \
                                                                                      "FILTER "                                             \
                                                                                      "(WHERE "                                             \
                                                                                      "r.started_"                                          \
                                                                                      "at IS NOT "                                          \
                                                                                      "NULL AND "                                           \
                                                                                      "d.state = "                                          \
                                                                                      "'failed') "                                          \
                                                                                      "AS failed"                                           \
                                                                                      "  FROM "                                             \
                                                                                      "backfill_"                                           \
                                                                                      "dag_run r "                                          \
                                                                                      "LEFT JOIN "                                          \
                                                                                      "dag_run d "                                          \
                                                                                      "ON d.id = "                                          \
                                                                                      "r.dag_run_"                                          \
                                                                                      "id"                                                  \
                                                                                      "  WHERE "                                            \
                                                                                      "r."                                                  \
                                                                                      "backfill_"                                           \
                                                                                      "id = "                                               \
                                                                                      "b.id) p"

static const char SQL_GET[] = SELECT_INFO " WHERE b.id = $1::bigint";
static const char SQL_LIST_ASC[] =
    SELECT_INFO " WHERE b.dag_id = $1 ORDER BY b.id LIMIT $2::bigint OFFSET $3::bigint";
static const char SQL_LIST_DESC[] =
    SELECT_INFO " WHERE b.dag_id = $1 ORDER BY b.id DESC LIMIT $2::bigint OFFSET $3::bigint";
static const char SQL_COUNT[] = "SELECT count(*) FROM backfill WHERE dag_id = $1";

void backfill_info_free(backfill_info_t *b, size_t n)
{
    if (!b)
        return;
    for (size_t i = 0; i < n; i++) {
        free(b[i].dag_id);
        free(b[i].dag_run_conf);
    }
    free(b);
}

static ts_us_t get_ts(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? TS_NONE : db_get_i64(r, row, col);
}

/* The rows of a SELECT_INFO result; UPDRAFT_ENOMEM. */
static int read_infos(const PGresult *r, backfill_info_t **out, size_t *n)
{
    size_t cnt = (size_t)PQntuples(r);
    backfill_info_t *v = calloc(cnt + 1, sizeof(*v));
    *out = NULL;
    *n = 0;
    if (!v)
        return UPDRAFT_ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        int row = (int)i;
        backfill_info_t *b = &v[i];
        b->id = db_get_i64(r, row, 0);
        b->dag_id = strdup(PQgetvalue(r, row, 1));
        b->dag_run_conf = strdup(PQgetvalue(r, row, 2));
        if (!b->dag_id || !b->dag_run_conf) {
            backfill_info_free(v, i + 1);
            return UPDRAFT_ENOMEM;
        }
        snprintf(b->reprocess_behavior, sizeof(b->reprocess_behavior), "%s", PQgetvalue(r, row, 3));
        b->from_date = get_ts(r, row, 4);
        b->to_date = get_ts(r, row, 5);
        b->created_at = get_ts(r, row, 6);
        b->updated_at = get_ts(r, row, 7);
        b->completed_at = get_ts(r, row, 8);
        b->is_paused = db_get_bool(r, row, 9);
        b->max_active_runs = db_get_int(r, row, 10);
        long *counts[] = {&b->total,   &b->skipped, &b->pending, &b->queued,
                          &b->running, &b->success, &b->failed};
        for (int c = 0; c < 7; c++)
            *counts[c] = (long)db_get_i64(r, row, 11 + c);
    }
    *out = v;
    *n = cnt;
    return UPDRAFT_OK;
}

int backfill_get(db_t *db, int64_t id, backfill_info_t **out)
{
    char idb[24];
    size_t n = 0;
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    const char *p[] = {idb};
    *out = NULL;
    PGresult *r = db_query(db, "backfill_get", SQL_GET, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    int rc = PQntuples(r) == 0 ? UPDRAFT_ENOTFOUND : read_infos(r, out, &n);
    PQclear(r);
    return rc;
}

int backfill_list(db_t *db, const char *dag_id, long limit, long offset, bool desc,
                  backfill_info_t **out, size_t *n, long *total)
{
    char lim[24], off[24];
    snprintf(lim, sizeof(lim), "%ld", limit);
    snprintf(off, sizeof(off), "%ld", offset);
    const char *p[] = {dag_id, lim, off};
    *out = NULL;
    *n = 0;
    PGresult *r = db_query(db, "backfill_count", SQL_COUNT, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    *total = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    r = desc ? db_query(db, "backfill_list_desc", SQL_LIST_DESC, 3, p)
             : db_query(db, "backfill_list", SQL_LIST_ASC, 3, p);
    if (!r)
        return UPDRAFT_EDB;
    int rc = read_infos(r, out, n);
    PQclear(r);
    return rc;
}

static const char SQL_RUNS[] = "SELECT d.id, d.run_id, d.state, " EPOCH_US(
    "d.logical_date") " FROM backfill_dag_run r"
                      " JOIN dag_run d ON d.id = r.dag_run_id WHERE r.backfill_id = $1::bigint"
                      " AND r.started_at IS NOT NULL ORDER BY r.sort_ordinal";

int backfill_list_runs(db_t *db, int64_t id, dagrun_ref_t **out, size_t *n)
{
    char idb[24];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    const char *p[] = {idb};
    *out = NULL;
    *n = 0;
    PGresult *r = db_query(db, "backfill_runs", SQL_RUNS, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    size_t cnt = (size_t)PQntuples(r);
    dagrun_ref_t *v = calloc(cnt + 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
        int row = (int)i;
        v[i].id = db_get_i64(r, row, 0);
        snprintf(v[i].run_id, sizeof(v[i].run_id), "%s", PQgetvalue(r, row, 1));
        snprintf(v[i].state, sizeof(v[i].state), "%s", PQgetvalue(r, row, 2));
        v[i].logical_date = db_get_i64(r, row, 3);
    }
    PQclear(r);
    *out = v;
    *n = cnt;
    return UPDRAFT_OK;
}

/* ---- changing ------------------------------------------------------------- */

/* The row lock, waited for (a step holds it briefly); completed_at tells. */
static const char SQL_LOCK[] =
    "SELECT completed_at IS NOT NULL FROM backfill WHERE id = $1::bigint FOR UPDATE";
static const char SQL_PAUSE[] =
    "UPDATE backfill SET is_paused = $2::boolean, updated_at = now() WHERE id = $1::bigint";
static const char SQL_WAKE[] = "SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", 'backfill')";
/* Airflow 3's cancel: queued runs of the backfill fail; the backfill is done. */
static const char SQL_CANCEL[] =
    "WITH f AS (UPDATE dag_run d SET state = 'failed', end_date = now()"
    "  FROM backfill_dag_run r WHERE r.backfill_id = $1::bigint AND d.id = r.dag_run_id"
    "   AND r.started_at IS NOT NULL AND d.state = 'queued' RETURNING d.id),"
    " t AS (UPDATE task_instance t SET state = 'skipped', updated_at = now()"
    "  WHERE t.dag_run_id IN (SELECT id FROM f)"
    "   AND t.state IN ('none', 'scheduled', 'up_for_retry', 'up_for_reschedule')"
    "  RETURNING 1),"
    " b AS (UPDATE backfill SET is_paused = true, completed_at = now(), updated_at = now()"
    "  WHERE id = $1::bigint RETURNING 1)"
    " SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM t), (SELECT count(*) FROM b)";

/* Begins and locks backfill id; 0 (transaction open), or an error (rolled back). */
static int lock_open(db_t *db, const char *idb)
{
    const char *p[] = {idb};
    if (db_begin(db) < 0)
        return UPDRAFT_EDB;
    PGresult *r = db_query(db, "backfill_lock", SQL_LOCK, 1, p);
    int rc = !r                     ? UPDRAFT_EDB
             : !PQntuples(r)        ? UPDRAFT_ENOTFOUND
             : db_get_bool(r, 0, 0) ? UPDRAFT_ECONFLICT
                                    : UPDRAFT_OK;
    PQclear(r);
    if (rc < 0)
        db_rollback(db);
    return rc;
}

int backfill_set_paused(db_t *db, int64_t id, bool paused)
{
    char idb[24];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    const char *p[] = {idb, paused ? "true" : "false"};
    int rc = lock_open(db, idb);
    if (rc < 0)
        return rc;
    if (db_exec(db, "backfill_pause", SQL_PAUSE, 2, p) < 0 ||
        (!paused && db_exec(db, "backfill_wake", SQL_WAKE, 0, NULL) < 0) || db_commit(db) < 0) {
        db_rollback(db);
        return UPDRAFT_EDB;
    }
    return UPDRAFT_OK;
}

int backfill_cancel(db_t *db, int64_t id, long *failed)
{
    char idb[24];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    const char *p[] = {idb};
    *failed = 0;
    int rc = lock_open(db, idb);
    if (rc < 0)
        return rc;
    PGresult *r = db_query(db, "backfill_cancel", SQL_CANCEL, 1, p);
    if (!r || db_commit(db) < 0) {
        PQclear(r);
        db_rollback(db);
        return UPDRAFT_EDB;
    }
    *failed = (long)db_get_i64(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

/* ---- the scheduler's steps ------------------------------------------------ */

static const char SQL_ACTIVE[] = "SELECT id FROM backfill WHERE completed_at IS NULL ORDER BY id";

int backfill_list_active(db_t *db, PGresult **out)
{
    *out = db_query(db, "backfill_active", SQL_ACTIVE, 0, NULL);
    return *out ? UPDRAFT_OK : UPDRAFT_EDB;
}

/*
 * The backfill's free slots: its own max_active_runs less its live runs,
 * and the DAG's max_active_runs less all of the DAG's live runs.
 */
static const char SQL_LOCK_STEP[] =
    "SELECT b.dag_id, b.dag_run_conf::text, b.is_paused,"
    " least(b.max_active_runs - (SELECT count(*) FROM backfill_dag_run r"
    "    JOIN dag_run d ON d.id = r.dag_run_id WHERE r.backfill_id = b.id"
    "    AND r.started_at IS NOT NULL AND d.state IN ('queued', 'running')),"
    "  coalesce((SELECT g.max_active_runs FROM dag g WHERE g.dag_id = b.dag_id), 1)"
    "   - (SELECT count(*) FROM dag_run d WHERE d.dag_id = b.dag_id"
    "      AND d.state IN ('queued', 'running')))"
    " FROM backfill b WHERE b.id = $1::bigint AND b.completed_at IS NULL"
    " FOR UPDATE OF b SKIP LOCKED";

void backfill_step_clear(backfill_step_t *s)
{
    free(s->dag_id);
    free(s->conf);
    s->dag_id = s->conf = NULL;
}

int backfill_lock_step(db_t *db, int64_t id, backfill_step_t *s)
{
    char idb[24];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    const char *p[] = {idb};
    memset(s, 0, sizeof(*s));
    PGresult *r = db_query(db, "backfill_lock_step", SQL_LOCK_STEP, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return UPDRAFT_ENOTFOUND;
    }
    s->dag_id = strdup(PQgetvalue(r, 0, 0));
    s->conf = strdup(PQgetvalue(r, 0, 1));
    s->paused = db_get_bool(r, 0, 2);
    s->slots = (long)db_get_i64(r, 0, 3);
    PQclear(r);
    if (!s->dag_id || !s->conf) {
        backfill_step_clear(s);
        return UPDRAFT_ENOMEM;
    }
    return UPDRAFT_OK;
}

static const char SQL_NEXT[] =
    "SELECT id, coalesce(dag_run_id, 0), action, " EPOCH_US("logical_date") ", " EPOCH_US(
        "data_interval_end") " FROM backfill_dag_run"
                             " WHERE backfill_id = $1::bigint AND started_at IS NULL"
                             " AND action IS NOT NULL ORDER BY sort_ordinal LIMIT $2::bigint";

int backfill_next_rows(db_t *db, int64_t id, long max, backfill_todo_t **out, size_t *n)
{
    char idb[24], lim[24];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    snprintf(lim, sizeof(lim), "%ld", max > 0 ? max : 0);
    const char *p[] = {idb, lim};
    *out = NULL;
    *n = 0;
    PGresult *r = db_query(db, "backfill_next", SQL_NEXT, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    size_t cnt = (size_t)PQntuples(r);
    backfill_todo_t *v = calloc(cnt + 1, sizeof(*v));
    if (!v) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
        int row = (int)i;
        v[i] = (backfill_todo_t){.row_id = db_get_i64(r, row, 0),
                                 .dag_run_id = db_get_i64(r, row, 1),
                                 .action = action_from(PQgetvalue(r, row, 2)),
                                 .logical_date = db_get_i64(r, row, 3),
                                 .interval_end = db_get_i64(r, row, 4)};
    }
    PQclear(r);
    *out = v;
    *n = cnt;
    return UPDRAFT_OK;
}

static const char SQL_MARK[] = "UPDATE backfill_dag_run SET started_at = now(),"
                               " dag_run_id = nullif($2::bigint, 0), exception_reason = $3"
                               " WHERE id = $1::bigint";

int backfill_mark_row(db_t *db, int64_t row_id, int64_t dag_run_id, const char *reason)
{
    char rowb[24], runb[24];
    snprintf(rowb, sizeof(rowb), "%" PRId64, row_id);
    snprintf(runb, sizeof(runb), "%" PRId64, dag_run_id);
    const char *p[] = {rowb, runb, reason};
    return db_exec(db, "backfill_mark", SQL_MARK, 3, p) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}

/* The task instances to clear of a finished run (none of a live one). */
static const char SQL_RUN_TIS[] =
    "SELECT t.id FROM dag_run d JOIN task_instance t ON t.dag_run_id = d.id"
    " WHERE d.id = $1::bigint AND d.state IN ('success', 'failed') AND t.state <> 'removed'"
    " AND (NOT $2::boolean OR t.state IN ('failed', 'upstream_failed'))";
static const char SQL_RUN_FINISHED[] =
    "SELECT 1 FROM dag_run WHERE id = $1::bigint AND state IN ('success', 'failed')";

int backfill_clear_run(db_t *db, int64_t dag_run_id, bool only_failed)
{
    char runb[24], err[256];
    snprintf(runb, sizeof(runb), "%" PRId64, dag_run_id);
    const char *p[] = {runb, only_failed ? "true" : "false"};
    PGresult *r = db_query(db, "backfill_run_finished", SQL_RUN_FINISHED, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    bool finished = PQntuples(r) > 0;
    PQclear(r);
    if (!finished)
        return 0;
    r = db_query(db, "backfill_run_tis", SQL_RUN_TIS, 2, p);
    if (!r)
        return UPDRAFT_EDB;
    size_t n = (size_t)PQntuples(r);
    int64_t *ids = calloc(n + 1, sizeof(*ids));
    if (!ids) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = db_get_i64(r, (int)i, 0);
    PQclear(r);
    long cleared = 0, runs = 0, queued = 0;
    int rc = n ? ti_admin_clear(db, ids, n, "finished", &cleared, &runs, &queued, err, sizeof(err))
               : UPDRAFT_OK;
    free(ids);
    return rc < 0 ? rc : 1;
}

static const char SQL_COMPLETE[] =
    "UPDATE backfill b SET completed_at = now(), updated_at = now()"
    " WHERE b.id = $1::bigint AND b.completed_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM backfill_dag_run r WHERE r.backfill_id = b.id"
    "   AND r.action IS NOT NULL AND r.started_at IS NULL)"
    " AND NOT EXISTS (SELECT 1 FROM backfill_dag_run r JOIN dag_run d ON d.id = r.dag_run_id"
    "   WHERE r.backfill_id = b.id AND r.started_at IS NOT NULL"
    "   AND d.state IN ('queued', 'running'))";

int backfill_complete_if_done(db_t *db, int64_t id, bool *completed)
{
    char idb[24];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    const char *p[] = {idb};
    long n = db_exec(db, "backfill_complete", SQL_COMPLETE, 1, p);
    *completed = n > 0;
    return n < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
}
