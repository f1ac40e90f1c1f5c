/*
 * uiquery.c - the web UI's aggregated reads (see uiquery.h).
 *
 * Every statement is prepared once per connection by name. The DAG
 * list's filters are parameters that match everything when NULL, so a
 * request's filters never change the SQL text; only its ORDER BY varies,
 * one prepared statement per order in the table below, never built from
 * the caller's text.
 *
 * The DAG list pages the dag rows first (a MATERIALIZED CTE, so that the
 * per-DAG subqueries run for the page only, once per DAG), then joins each
 * DAG's newest runs through LATERAL on dag_run (dag_id, logical_date DESC).
 * The grid reads the runs, then the task instances of all of them in one
 * statement on the unique (dag_run_id, task_id, map_index) index; mapped
 * instances are folded in SQL (their count is bounded only by
 * core.max_map_length), unmapped ones go out as they are. That statement
 * and the durations' are read through a cursor, batch by batch.
 */
#include "store/uiquery.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/pgarray.h"
#include "store/result.h"

#define US(col) STORE_US_COL(col)

/* ---- the DAG list ----------------------------------------------------------- */

#define DAGS_WHERE                                                                                 \
    " WHERE d.is_active"                                                                           \
    " AND ($1::text IS NULL OR d.dag_id ILIKE '%' || $1::text || '%')"                             \
    " AND ($2::jsonb IS NULL OR d.tags && ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))"     \
    " AND ($3::jsonb IS NULL OR EXISTS (SELECT 1 FROM unnest(string_to_array(d.owners, ',')) o"    \
    "      WHERE btrim(o) IN (SELECT jsonb_array_elements_text($3::jsonb))))"                      \
    " AND ($4::boolean IS NULL OR d.is_paused = $4::boolean)"

#define DAGS_FILTER_PARAMS 4

static const char SQL_DAGS_COUNT[] = "SELECT count(*), (SELECT count(*) FROM import_error)"
                                     " FROM dag d" DAGS_WHERE;

/*
 * inner orders the dag rows (alias d), outer the page (alias p); both end
 * with the dag_id so that pages are stable.
 */
#define DAGS_PAGE_SQL(inner, outer)                                                                \
    "WITH p AS MATERIALIZED ("                                                                     \
    "   SELECT d.dag_id, d.description, d.owners, d.tags, d.is_paused, d.schedule,"                \
    "   d.next_dagrun, d.next_dagrun_create_after, d.fileloc FROM dag d" DAGS_WHERE                \
    "   ORDER BY " inner ", d.dag_id LIMIT $5::bigint OFFSET $6::bigint),"                         \
    " q AS MATERIALIZED (SELECT p.*,"                                                              \
    "   EXISTS (SELECT 1 FROM import_error ie WHERE ie.filename = p.fileloc) AS has_errors,"       \
    "   (SELECT json_object_agg(s.state, s.n ORDER BY s.state)::text FROM"                         \
    "     (SELECT ti.state, count(*) AS n FROM task_instance ti"                                   \
    "      WHERE ti.dag_run_id = (SELECT lr.id FROM dag_run lr WHERE lr.dag_id = p.dag_id"         \
    "                             ORDER BY lr.logical_date DESC LIMIT 1)"                          \
    "      GROUP BY ti.state) s) AS counts"                                                        \
    "   FROM p)"                                                                                   \
    " SELECT p.dag_id, p.description,"                                                             \
    "   array_to_json(ARRAY(SELECT btrim(o) FROM unnest(string_to_array(p.owners, ',')) o"         \
    "                       WHERE btrim(o) <> ''))::text,"                                         \
    "   array_to_json(p.tags)::text, p.is_paused, p.schedule, " US("p.next_dagrun") ", " US(       \
        "p.next_dagrun_create_after") ","                                                          \
                                      "   p.has_errors, p.counts, r.run_id, r.state, " US(         \
                                          "r.logical_date") " FROM q p LEFT JOIN LATERAL (SELECT " \
                                                            "dr.run_id, dr.state, "                \
                                                            "dr.logical_date FROM dag_run dr"      \
                                                            "   WHERE dr.dag_id = p.dag_id ORDER " \
                                                            "BY dr.logical_date DESC LIMIT 8) r "  \
                                                            "ON true"                              \
                                                            " ORDER BY " outer                     \
                                                            ", p.dag_id, r.logical_date DESC"

static const struct {
    const char *name; /* order_by as the caller writes it */
    const char *stmt; /* the prepared statement's name */
    const char *sql;
} dags_orders[] = {
    {"dag_id", "uiq_dags_dag_id", DAGS_PAGE_SQL("d.dag_id", "p.dag_id")},
    {"-dag_id", "uiq_dags_dag_id_desc", DAGS_PAGE_SQL("d.dag_id DESC", "p.dag_id DESC")},
    {"owners", "uiq_dags_owners", DAGS_PAGE_SQL("d.owners", "p.owners")},
    {"-owners", "uiq_dags_owners_desc", DAGS_PAGE_SQL("d.owners DESC", "p.owners DESC")},
    {"is_paused", "uiq_dags_paused", DAGS_PAGE_SQL("d.is_paused", "p.is_paused")},
    {"-is_paused", "uiq_dags_paused_desc", DAGS_PAGE_SQL("d.is_paused DESC", "p.is_paused DESC")},
    {"next_dagrun", "uiq_dags_next",
     DAGS_PAGE_SQL("d.next_dagrun NULLS LAST", "p.next_dagrun NULLS LAST")},
    {"-next_dagrun", "uiq_dags_next_desc",
     DAGS_PAGE_SQL("d.next_dagrun DESC NULLS LAST", "p.next_dagrun DESC NULLS LAST")},
};

_Static_assert(UIQ_RECENT_RUNS == 8, "DAGS_PAGE_SQL's LIMIT 8 is UIQ_RECENT_RUNS");

static void filter_params(const uiq_dags_filter_t *f, const char **p)
{
    p[0] = f->dag_id_pattern;
    p[1] = f->tags_json;
    p[2] = f->owners_json;
    p[3] = f->paused < 0 ? NULL : f->paused ? "true" : "false";
}

int uiq_dags_count(db_t *db, const uiq_dags_filter_t *f, long *total, long *import_errors)
{
    const char *p[DAGS_FILTER_PARAMS];
    PGresult *r;

    filter_params(f, p);
    if (store_query_rows(db, "uiq_dags_count", SQL_DAGS_COUNT, DAGS_FILTER_PARAMS, p, &r) < 0)
        return UPDRAFT_EDB;
    *total = (long)db_get_i64(r, 0, 0);
    *import_errors = (long)db_get_i64(r, 0, 1);
    PQclear(r);
    return 0;
}

int uiq_dags_page(db_t *db, const uiq_dags_filter_t *f, const char *order_by, long limit,
                  long offset, PGresult **out, char *err, size_t errlen)
{
    const char *name = order_by && *order_by ? order_by : "dag_id";
    const char *p[DAGS_FILTER_PARAMS + 2];
    char lb[24], ob[24];

    *out = NULL;
    for (size_t i = 0; i < sizeof(dags_orders) / sizeof(dags_orders[0]); i++) {
        if (strcmp(name, dags_orders[i].name) != 0)
            continue;
        filter_params(f, p);
        snprintf(lb, sizeof(lb), "%ld", limit);
        snprintf(ob, sizeof(ob), "%ld", offset > 0 ? offset : 0);
        p[DAGS_FILTER_PARAMS] = lb;
        p[DAGS_FILTER_PARAMS + 1] = ob;
        if (store_query_rows(db, dags_orders[i].stmt, dags_orders[i].sql, DAGS_FILTER_PARAMS + 2, p,
                             out) < 0)
            return store_db_failed(db, err, errlen);
        return 0;
    }
    errbuf_set(err, errlen,
               "cannot order the DAGs by \"%.64s\": use dag_id, owners, is_paused or next_dagrun, "
               "with '-' for descending",
               name);
    return UPDRAFT_EINVALID;
}

/* ---- a DAG's structure ------------------------------------------------------ */

/*
 * The document is read through a CTE referenced more than once, so it is
 * materialized: each set-returning function detoasts it once, not once
 * per task. A DAG without a version keeps its one row through LEFT JOIN.
 */
static const char SQL_DAG_TASKS[] =
    "WITH d AS (SELECT v.data FROM dag g LEFT JOIN dag_version v ON v.id = g.version_id"
    "           WHERE g.dag_id = $1),"
    " o AS (SELECT x.task_id, x.ord FROM d,"
    "       jsonb_array_elements_text(d.data->'task_order') WITH ORDINALITY x(task_id, ord)),"
    " t AS (SELECT x.key, x.value FROM d, jsonb_each(d.data->'tasks') x)"
    " SELECT o.task_id, t.value->>'task_group', t.value ? 'expand', t.value->>'operator',"
    "   coalesce(t.value->'upstream_task_ids', '[]')::text,"
    "   CASE WHEN o.ord = 1 THEN (SELECT (d.data->'task_groups')::text FROM d) END"
    " FROM d LEFT JOIN (o JOIN t ON t.key = o.task_id) ON true ORDER BY o.ord";

int uiq_dag_tasks(db_t *db, const char *dag_id, PGresult **out)
{
    const char *p[] = {dag_id};

    if (store_query_rows(db, "uiq_dag_tasks", SQL_DAG_TASKS, 1, p, out) < 0)
        return UPDRAFT_EDB;
    if (PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        return UPDRAFT_ENOTFOUND;
    }
    return 0;
}

/* ---- the grid --------------------------------------------------------------- */

static const char SQL_GRID_RUNS[] = "SELECT dr.id, dr.run_id, dr.state, dr.run_type, " US(
    "dr.logical_date") ","
                       " " US("dr.start_date") ", " US("dr.end_date") ", " US(
                           "dr.queued_at") ", dr.note,"
                                           " " US("dr.data_interval_start") ", " US(
                                               "dr.data_interval_end") " FROM dag_run dr"
                                                                       " WHERE dr.dag_id = $1"
                                                                       "   AND ($2::timestamptz IS "
                                                                       "NULL OR dr.logical_date < "
                                                                       "$2::timestamptz)"
                                                                       " ORDER BY dr.logical_date "
                                                                       "DESC LIMIT $3::bigint";

int uiq_grid_runs(db_t *db, const char *dag_id, ts_us_t before, long limit, PGresult **out)
{
    char bb[TS_ISO_LEN], lb[24];
    const char *p[] = {dag_id, before == TS_NONE ? NULL : ts_format_iso(before, bb), lb};

    snprintf(lb, sizeof(lb), "%ld", limit);
    return store_query_rows(db, "uiq_grid_runs", SQL_GRID_RUNS, 3, p, out);
}

/*
 * Each run's rows through index-only scans (migration 0016 puts these
 * columns into the unique index), the run named by its position in the
 * array (WITH ORDINALITY), so that the caller finds its place without a
 * lookup.
 *
 * A run's unmapped instances (most of a grid: 99,000 of 100,000 in the
 * benchmark) leave Postgres packed into one bytea per run
 * (uiq_grid_unpack): one row of 100 instances costs Postgres and libpq far
 * less than 100 rows of seven fields, whose per-field output was most of
 * the statement's time (180 ms against 87 ms for 1,000 runs x 100 tasks
 * measured on a loaded 2-core machine). The fields are packed with the
 * types' own binary send functions; one aggregate packs them, so they
 * cannot fall out of step. The mapped instances come as rows folded per
 * (run, task, state), in the same statement and snapshot, with the packed
 * column NULL.
 *
 * The rows go to the caller through a cursor in binary, a few runs per
 * FETCH: one PGresult of a whole grid is many megabytes, which glibc gives
 * back to the kernel after each answer and then faults in again page by
 * page, while a batch is small enough to be reused warm.
 */
#define STR(x) #x
#define XSTR(x) STR(x)

static const char SQL_GRID_DECLARE[] =
    "DECLARE uiq_grid_tis NO SCROLL CURSOR FOR"
    " SELECT r.n, x.packed, NULL::text, NULL::text, NULL::int4, NULL::timestamptz,"
    "   NULL::timestamptz, NULL::int8"
    " FROM unnest($1::bigint[]) WITH ORDINALITY r(id, n) CROSS JOIN LATERAL ("
    "   SELECT string_agg(int4send(ti.try_number)"
    "       || timestamptz_send(coalesce(ti.start_date, '-infinity'))"
    "       || timestamptz_send(coalesce(ti.end_date, '-infinity'))"
    "       || textsend(ti.state) || '\\x00'::bytea || textsend(ti.task_id), '\\x00'::bytea)"
    "     AS packed"
    "   FROM task_instance ti WHERE ti.dag_run_id = r.id AND ti.map_index = -1) x"
    " WHERE x.packed IS NOT NULL"
    " UNION ALL"
    " SELECT r.n, NULL::bytea, ti.task_id, ti.state, max(ti.try_number), min(ti.start_date),"
    "   CASE WHEN bool_and(ti.end_date IS NOT NULL) THEN max(ti.end_date) END, count(*)"
    " FROM unnest($1::bigint[]) WITH ORDINALITY r(id, n)"
    " JOIN task_instance ti ON ti.dag_run_id = r.id WHERE ti.map_index >= 0"
    " GROUP BY r.n, ti.task_id, ti.state";

/*
 * Runs declare (a DECLARE of cursor name with parameter $1 = the run ids)
 * in a read-only transaction of its own and hands fn what fetch (FETCH
 * UIQ_GRID_BATCH FROM name) returns, batch by batch; the rollback at the
 * end closes the cursor however the reading ended.
 */
static int stream_runs(db_t *db, const char *declare, const char *fetch, bool binary,
                       const int64_t *run_ids, size_t n, uiq_rows_fn fn, void *arg)
{
    char *ids = pgarray_int64(run_ids, n);
    PGresult *r = NULL;
    int rc = UPDRAFT_EDB;

    if (!ids)
        return UPDRAFT_ENOMEM;
    const char *p[] = {ids};
    if (db_simple(db, "BEGIN READ ONLY") < 0 || !(r = db_query(db, NULL, declare, 1, p)))
        goto out;
    for (;;) {
        PQclear(r);
        rc = UPDRAFT_EDB;
        r = binary ? db_query_binary(db, NULL, fetch, 0, NULL) : db_query(db, NULL, fetch, 0, NULL);
        if (!r)
            goto out;
        if (PQntuples(r) == 0)
            break;
        if ((rc = fn(r, arg)) != 0)
            goto out;
    }
    rc = 0;
out:
    PQclear(r);
    db_rollback(db);
    free(ids);
    return rc;
}

/* A big-endian integer of n bytes at p, sign-extended from its width. */
static int64_t be_int(const unsigned char *p, int n)
{
    uint64_t u = 0;

    for (int i = 0; i < n; i++)
        u = u << 8 | p[i];
    return n == 4 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
}

/* Postgres counts time from 2000-01-01: microseconds from 1970 to then. */
#define PG_EPOCH_US 946684800000000LL

/* A binary timestamptz (us since 2000-01-01) as epoch us; TS_NONE for +-infinity or out of range.
 */
static ts_us_t pg_ts(int64_t v)
{
    if (v > INT64_MAX - PG_EPOCH_US || v < INT64_MIN + PG_EPOCH_US)
        return TS_NONE;
    return v + PG_EPOCH_US;
}

#define PACKED_FIXED 20 /* try_number (4), start_date (8), end_date (8) */

int uiq_grid_unpack(const char *p, size_t len, int64_t run, uiq_grid_fn fn, void *arg)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t off = 0;
    int rc;

    while (off < len) {
        uiq_grid_ti_t ti = {.run = run};
        size_t slen, tlen;

        if (len - off < PACKED_FIXED + 2)
            return UPDRAFT_EDB;
        ti.try_number = be_int(u + off, 4);
        ti.start_date = pg_ts(be_int(u + off + 4, 8));
        ti.end_date = pg_ts(be_int(u + off + 12, 8));
        off += PACKED_FIXED;
        ti.state = p + off;
        slen = strnlen(ti.state, len - off);
        if (slen == len - off)
            return UPDRAFT_EDB; /* no NUL after the state */
        off += slen + 1;
        ti.task_id = p + off;
        tlen = strnlen(ti.task_id, len - off); /* up to the separator, or p[len] */
        if (tlen == 0)
            return UPDRAFT_EDB;
        off += tlen + 1;
        if ((rc = fn(&ti, arg)) != 0)
            return rc;
    }
    return 0;
}

/* Hands fn the rows of one FETCH of the grid's cursor. */
static int grid_batch(const PGresult *r, uiq_grid_fn fn, void *arg)
{
    for (int j = 0; j < PQntuples(r); j++) {
        uiq_grid_ti_t ti = {0};
        int64_t v;
        int rc;

        if (!uiq_field_int(r, j, 0, &ti.run))
            return UPDRAFT_EDB;
        if (!PQgetisnull(r, j, 1)) {
            rc =
                uiq_grid_unpack(PQgetvalue(r, j, 1), (size_t)PQgetlength(r, j, 1), ti.run, fn, arg);
        } else {
            ti.task_id = PQgetvalue(r, j, 2);
            ti.state = PQgetvalue(r, j, 3);
            ti.try_number = uiq_field_int(r, j, 4, &v) ? v : 0;
            ti.start_date = uiq_field_ts(r, j, 5);
            ti.end_date = uiq_field_ts(r, j, 6);
            ti.count = uiq_field_int(r, j, 7, &v) ? v : 0;
            rc = fn(&ti, arg);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int uiq_grid_tis(db_t *db, const int64_t *run_ids, size_t n, uiq_grid_fn fn, void *arg)
{
    char *ids = pgarray_int64(run_ids, n);
    PGresult *r = NULL;
    int rc = UPDRAFT_EDB;

    if (!ids)
        return UPDRAFT_ENOMEM;
    const char *p[] = {ids};
    if (db_simple(db, "BEGIN READ ONLY") < 0 || !(r = db_query(db, NULL, SQL_GRID_DECLARE, 1, p)))
        goto out;
    for (;;) {
        PQclear(r);
        rc = UPDRAFT_EDB;
        r = db_query_binary(db, NULL, "FETCH " XSTR(UIQ_GRID_FETCH_RUNS) " FROM uiq_grid_tis", 0,
                            NULL);
        if (!r)
            goto out;
        if (PQntuples(r) == 0)
            break;
        if ((rc = grid_batch(r, fn, arg)) != 0)
            goto out;
    }
    rc = 0;
out:
    PQclear(r);
    db_rollback(db);
    free(ids);
    return rc;
}

/* ---- one run ---------------------------------------------------------------- */

static const char SQL_RUN[] = "SELECT dr.id, dr.run_id, dr.state, dr.run_type, " US(
    "dr.logical_date") ","
                       " " US("dr.queued_at") ", " US("dr.start_date") ", " US(
                           "dr.end_date") ","
                                          " " US("dr.data_interval_start") ", " US(
                                              "dr.data_interval_end") " FROM dag_run dr"
                                                                      " WHERE dr.dag_id = $1 AND "
                                                                      "dr.run_id = $2";

int uiq_run(db_t *db, const char *dag_id, const char *run_id, PGresult **out)
{
    const char *p[] = {dag_id, run_id};

    if (store_query_rows(db, "uiq_run", SQL_RUN, 2, p, out) < 0)
        return UPDRAFT_EDB;
    if (PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        return UPDRAFT_ENOTFOUND;
    }
    return 0;
}

static const char SQL_GANTT_TIS[] =
    "SELECT ti.id, ti.task_id, ti.map_index, ti.state, ti.try_number, " US(
        "ti.queued_at") ","
                        " " US("ti.start_date") ", " US(
                            "ti.end_date") ", ti.duration, ti.hostname"
                                           " FROM task_instance ti WHERE ti.dag_run_id = $1::bigint"
                                           " ORDER BY ti.start_date NULLS LAST, ti.task_id, "
                                           "ti.map_index LIMIT $2::bigint";

int uiq_gantt_tis(db_t *db, int64_t run_id, PGresult **out)
{
    char id[24], lb[24];
    const char *p[] = {id, lb};

    snprintf(id, sizeof(id), "%" PRId64, run_id);
    snprintf(lb, sizeof(lb), "%d", UIQ_GANTT_MAX_TIS + 1);
    return store_query_rows(db, "uiq_gantt_tis", SQL_GANTT_TIS, 2, p, out);
}

/*
 * The first event of each earlier try: a try that ended has one, written
 * by the trigger of migration 0009 in the transaction that ended it; a
 * later mark of the same try (a user's) would be a second.
 */
static const char SQL_GANTT_TRIES[] =
    "SELECT DISTINCT ON (e.ti_id, e.try_number) e.ti_id, e.try_number,"
    "   CASE e.kind WHEN 'task_retry' THEN 'up_for_retry' WHEN 'task_failure' THEN 'failed'"
    "               WHEN 'task_success' THEN 'success' ELSE 'skipped' END,"
    "   " US("e.created_at - make_interval(secs => e.duration)") ", " US(
        "e.created_at") ","
                        "   e.hostname"
                        " FROM callback_event e JOIN task_instance ti ON ti.id = e.ti_id"
                        " WHERE e.dag_run_id = $1::bigint AND e.try_number < ti.try_number"
                        "   AND e.kind IN ('task_retry', 'task_failure', 'task_success', "
                        "'task_skipped')"
                        " ORDER BY e.ti_id, e.try_number, e.id LIMIT $2::bigint";

int uiq_gantt_tries(db_t *db, int64_t run_id, PGresult **out)
{
    char id[24], lb[24];
    const char *p[] = {id, lb};

    snprintf(id, sizeof(id), "%" PRId64, run_id);
    snprintf(lb, sizeof(lb), "%d", UIQ_GANTT_MAX_TRIES);
    return store_query_rows(db, "uiq_gantt_tries", SQL_GANTT_TRIES, 2, p, out);
}

/* ---- durations and the calendar --------------------------------------------- */

/*
 * A task's duration is its last end less its first start: for one
 * instance what task_instance.duration holds (every writer sets it to
 * end_date - start_date), read here from the index like the grid's
 * columns. Airflow's landing time: the task's last end less the run's
 * data_interval_end.
 */
#define MS_SPAN "(date_part('epoch', max(ti.end_date) - min(ti.start_date)) * 1000)::int8"
#define MS_LANDING "(date_part('epoch', max(ti.end_date) - dr.data_interval_end) * 1000)::int8"

static const char SQL_DURATIONS_DECLARE[] =
    "DECLARE uiq_durations NO SCROLL CURSOR FOR"
    " SELECT r.n, ti.task_id,"
    "   CASE WHEN bool_and(ti.end_date IS NOT NULL) THEN " MS_SPAN " END,"
    "   CASE WHEN bool_and(ti.end_date IS NOT NULL) THEN " MS_LANDING " END"
    " FROM unnest($1::bigint[]) WITH ORDINALITY r(id, n) JOIN dag_run dr ON dr.id = r.id"
    " JOIN task_instance ti ON ti.dag_run_id = r.id"
    " GROUP BY r.n, dr.data_interval_end, ti.task_id";

int uiq_durations(db_t *db, const int64_t *run_ids, size_t n, uiq_rows_fn fn, void *arg)
{
    return stream_runs(db, SQL_DURATIONS_DECLARE,
                       "FETCH " XSTR(UIQ_GRID_BATCH) " FROM uiq_durations", false, run_ids, n, fn,
                       arg);
}

static const char SQL_CALENDAR[] =
    "SELECT to_char(x.day, 'YYYY-MM-DD'), x.state, x.n FROM dag d LEFT JOIN LATERAL"
    "  (SELECT (dr.logical_date AT TIME ZONE 'UTC')::date AS day, dr.state, count(*) AS n"
    "   FROM dag_run dr WHERE dr.dag_id = d.dag_id"
    "   AND dr.logical_date >= make_timestamptz($2::int, 1, 1, 0, 0, 0, 'UTC')"
    "   AND dr.logical_date < make_timestamptz($2::int + 1, 1, 1, 0, 0, 0, 'UTC')"
    "   GROUP BY 1, 2) x ON true"
    " WHERE d.dag_id = $1 ORDER BY x.day, x.state";

int uiq_calendar(db_t *db, const char *dag_id, int year, PGresult **out)
{
    char yb[16];
    const char *p[] = {dag_id, yb};

    snprintf(yb, sizeof(yb), "%d", year);
    if (store_query_rows(db, "uiq_calendar", SQL_CALENDAR, 2, p, out) < 0)
        return UPDRAFT_EDB;
    if (PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        return UPDRAFT_ENOTFOUND;
    }
    return 0;
}

/* ---- binary fields ---------------------------------------------------------- */

bool uiq_field_int(const PGresult *rows, int row, int col, int64_t *v)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(rows, row, col);
    uint64_t u = 0;
    int len = PQgetlength(rows, row, col);

    if (PQgetisnull(rows, row, col) || PQfformat(rows, col) != 1 ||
        (len != 2 && len != 4 && len != 8))
        return false;
    for (int i = 0; i < len; i++)
        u = u << 8 | p[i];
    if (len == 2)
        *v = (int16_t)(uint16_t)u;
    else if (len == 4)
        *v = (int32_t)(uint32_t)u;
    else
        *v = (int64_t)u;
    return true;
}

ts_us_t uiq_field_ts(const PGresult *rows, int row, int col)
{
    int64_t v;

    if (PQgetlength(rows, row, col) != 8 || !uiq_field_int(rows, row, col, &v))
        return TS_NONE;
    return pg_ts(v);
}
