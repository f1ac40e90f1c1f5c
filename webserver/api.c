/*
 * api.c - /health and the REST API v1 handlers (see api.h, docs/api.md).
 *
 * Shapes, parameter names, defaults and error bodies follow Airflow 2's
 * stable API (shared/reference/airflow-rest-api-v1.yaml). Timestamps are
 * selected as epoch microseconds and formatted with ts_format_iso, so they
 * read 2024-03-10T11:00:00.123456+00:00 whatever the session time zone.
 *
 * Collections run one prepared statement (named by a hash of its SQL):
 * the page, with total_entries as a scalar subquery over the same WHERE
 * clause. Answers are written straight into one buffer (jsonw.h), not
 * built as cJSON trees; the read-mostly routes are cached (apicache.h).
 * Filters are appended to the WHERE clause as
 * constant text with numbered parameters ($n); client text only ever
 * travels as a parameter value, and order_by resolves to a constant column
 * expression through httpq_order_by.
 */
#include "webserver/api.h"
#include "core/hash.h"
#include "store/channels.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/clear.h"
#include "store/connections.h"
#include "store/dagrun.h"
#include "core/db.h"
#include "webserver/httpq.h"
#include "core/log.h"
#include "store/pools.h"
#include "core/secrets.h"
#include "core/timeutil.h"
#include "store/variables.h"
#include "webserver/apicache.h"
#include "webserver/http.h"
#include "webserver/jsonw.h"

#define TS HTTP_SQL_TS

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define LOG_PAGE_BYTES (1 << 20)     /* log bytes per response without full_content */
#define LOG_FULL_MAX (64 << 20)      /* hard cap even with full_content */
#define LOG_BATCH_ROWS "500"
#define HEALTH_THRESHOLD_SEC "30"    /* Airflow's scheduler_health_check_threshold */

/* ---- request context and routes ---------------------------------------- */

typedef struct req {
    struct mg_connection *conn;
    const api_t *api;
    httpq_t q;
    const char *cap[4]; /* path captures ({} in the pattern), URL-decoded */
    size_t ncap;
    db_t *db;           /* NULL only for ROUTE_DB_OPTIONAL routes */
    bool cacheable;     /* a 200 answer goes into the cache under key/gen */
    uint64_t gen;
    const char *key;
    size_t klen;
} req_t;

/* A handler sends exactly one response and returns its HTTP status. */
typedef int (*handler_fn)(req_t *r);

#define ROUTE_PUBLIC 0x1      /* needs no login (health) */
#define ROUTE_DB_OPTIONAL 0x2 /* runs without a database connection */
#define ROUTE_CACHED 0x4      /* answers reads only tables that notify updraft_api */

typedef struct route {
    const char *method;
    const char *pattern;
    handler_fn fn;
    const char *const *params; /* allowed query parameters, NULL-terminated */
    unsigned flags;
} route_t;

/* ---- SQL building -------------------------------------------------------- */

#define SQLB_MAX_PARAMS 32
#define SQLB_MAX_SQL 4096

typedef struct sqlb {
    char sql[SQLB_MAX_SQL];
    size_t len;
    bool overflow;
    const char *params[SQLB_MAX_PARAMS];
    int n;
    char num[SQLB_MAX_PARAMS][TS_ISO_LEN];
    char *heap[SQLB_MAX_PARAMS];
    int nheap;
} sqlb_t;

static void sqlb_add(sqlb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sqlb_add(sqlb_t *b, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (b->overflow)
        return;
    va_start(ap, fmt);
    w = vsnprintf(b->sql + b->len, sizeof(b->sql) - b->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof(b->sql) - b->len)
        b->overflow = true;
    else
        b->len += (size_t)w;
}

/* Adds a parameter (borrowed; must live until the query ran); its $n. */
static int sqlb_param(sqlb_t *b, const char *v)
{
    if (b->n >= SQLB_MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    b->params[b->n] = v;
    return ++b->n;
}

static int sqlb_param_i64(sqlb_t *b, int64_t v)
{
    if (b->n >= SQLB_MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    snprintf(b->num[b->n], sizeof(b->num[b->n]), "%" PRId64, v);
    return sqlb_param(b, b->num[b->n]);
}

static int sqlb_param_ts(sqlb_t *b, ts_us_t t)
{
    if (b->n >= SQLB_MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    ts_format_iso(t, b->num[b->n]);
    return sqlb_param(b, b->num[b->n]);
}

/* Takes ownership of v (malloc'd or cJSON-allocated text). */
static int sqlb_param_own(sqlb_t *b, char *v)
{
    if (!v || b->nheap >= SQLB_MAX_PARAMS) {
        cJSON_free(v);
        b->overflow = true;
        return 1;
    }
    b->heap[b->nheap++] = v;
    return sqlb_param(b, v);
}

static void sqlb_free(sqlb_t *b)
{
    for (int i = 0; i < b->nheap; i++)
        cJSON_free(b->heap[i]);
    b->nheap = 0;
}

/* ---- shared responses ---------------------------------------------------- */

static int bad_request(req_t *r, const char *detail)
{
    http_send_problem(r->conn, 400, NULL, "%s", detail);
    return 400;
}

static int not_found(req_t *r, const char *title, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int not_found(req_t *r, const char *title, const char *detail_fmt, ...)
{
    char detail[768];
    va_list ap;

    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    http_send_problem(r->conn, 404, title, "%s", detail);
    return 404;
}

/* A statement failed: 503 if the connection is gone, else 500. */
static int db_failed(req_t *r)
{
    if (!db_ok(r->db)) {
        http_send_problem(r->conn, 503, NULL, "the metadata database is unavailable");
        return 503;
    }
    http_send_problem(r->conn, 500, NULL, "database error (sqlstate %s)", db_sqlstate(r->db));
    return 500;
}

static int send_json(req_t *r, int status, cJSON *json)
{
    if (!json) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    http_send_json(r->conn, status, json);
    cJSON_Delete(json);
    return status;
}

/*
 * A timestamp query parameter, read as Airflow's format_datetime does: a
 * space stands for '+' (an unencoded offset) unless the value ends in Z.
 */
static int query_ts(req_t *r, const char *key, bool *present, ts_us_t *out, char *err,
                    size_t errlen)
{
    const char *v = httpq_get(&r->q, key);
    char buf[64];
    size_t n;

    *present = false;
    if (!v)
        return 0;
    n = strlen(v);
    if (n == 0 || n >= sizeof(buf))
        goto bad;
    memcpy(buf, v, n + 1);
    if (buf[n - 1] != 'Z')
        for (size_t i = 11; i < n; i++)
            if (buf[i] == ' ')
                buf[i] = '+';
    if (ts_parse(buf, out) < 0)
        goto bad;
    *present = true;
    return 0;
bad:
    snprintf(err, errlen, "Incorrect datetime argument for %s", key);
    return -1;
}

/* Appends " AND <col> >= $n" / "<= $n" for key_gte / key_lte. */
static int filter_ts_range(req_t *r, sqlb_t *b, const char *key, const char *col, char *err,
                           size_t errlen)
{
    static const char *const ops[2] = {">=", "<="};
    static const char *const sfx[2] = {"_gte", "_lte"};

    for (int i = 0; i < 2; i++) {
        char name[64];
        bool present;
        ts_us_t t;

        snprintf(name, sizeof(name), "%s%s", key, sfx[i]);
        if (query_ts(r, name, &present, &t, err, errlen) < 0)
            return -1;
        if (present)
            sqlb_add(b, " AND %s %s $%d::timestamptz", col, ops[i], sqlb_param_ts(b, t));
    }
    return 0;
}

/* Appends " AND <col> IN (values of the repeated parameter key)". */
static void filter_list(req_t *r, sqlb_t *b, const char *key, const char *col)
{
    size_t n = httpq_count(&r->q, key);
    cJSON *arr;

    if (n == 0)
        return;
    arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(httpq_get_nth(&r->q, key, i)));
    sqlb_add(b, " AND %s IN (SELECT jsonb_array_elements_text($%d::jsonb))", col,
             sqlb_param_own(b, arr ? cJSON_PrintUnformatted(arr) : NULL));
    cJSON_Delete(arr);
}

/*
 * Writes row i of res, whose columns start at base, as one JSON object.
 * Collections select count(*) as column 0, single rows start at 0.
 */
typedef void (*row_fn)(jsonw_t *w, const PGresult *res, int i, int base);

/* Sends w's text as a 200 JSON answer, storing it when the route caches. */
static int send_jsonw(req_t *r, const jsonw_t *w)
{
    if (jsonw_failed(w)) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    if (r->cacheable)
        apicache_put(r->api->cache, r->key, r->klen, r->gen, jsonw_data(w), jsonw_len(w));
    http_send(r->conn, 200, "application/json", jsonw_data(w), jsonw_len(w));
    return 200;
}

/* One row as the whole answer (a resource by id). */
static int send_row(req_t *r, const PGresult *res, int i, row_fn write_row)
{
    jsonw_t w;
    int status;

    jsonw_init(&w, 2048);
    write_row(&w, res, i, 0);
    status = send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}

/*
 * A stable prepared-statement name for generated SQL: the same text always
 * hashes to the same name (db_query requires same name, same SQL), and
 * distinct shapes (filters present, order) get their own plans.
 */
static void stmt_name(const char *sql, char *name, size_t len)
{
    snprintf(name, len, "api_q%016" PRIx64, hash_str(sql));
}

/*
 * Runs one prepared statement for the page, with the total as an
 * uncorrelated scalar subquery (evaluated once) in column 0:
 *   SELECT (SELECT count(*) FROM <from> WHERE <b>), <cols> FROM <from>
 *   WHERE <b> ORDER BY <order> LIMIT $l OFFSET $o
 * and sends {"<name>": [...], "total_entries": N}. Only an empty page past
 * offset 0 needs the count on its own.
 */
static int send_collection(req_t *r, const char *name, const char *cols, const char *from,
                           sqlb_t *b, const char *order, int64_t limit, int64_t offset,
                           row_fn write_row)
{
    char *sql = NULL, stname[32];
    PGresult *page = NULL, *cnt = NULL;
    int status, nwhere = b->n, n, pl, po;
    int64_t total;
    jsonw_t w;

    jsonw_init(&w, 0);
    pl = sqlb_param_i64(b, limit);
    po = sqlb_param_i64(b, offset);
    if (b->overflow) {
        status = bad_request(r, "too many filters");
        goto out;
    }
    if (asprintf(&sql,
                 "SELECT (SELECT count(*) FROM %s WHERE true%s), %s FROM %s WHERE true%s "
                 "ORDER BY %s LIMIT $%d OFFSET $%d",
                 from, b->sql, cols, from, b->sql, order, pl, po) < 0) {
        sql = NULL;
        status = send_json(r, 500, NULL);
        goto out;
    }
    stmt_name(sql, stname, sizeof(stname));
    page = db_query(r->db, stname, sql, b->n, b->params);
    if (!page) {
        status = db_failed(r);
        goto out;
    }
    n = PQntuples(page);
    if (n > 0) {
        total = db_get_i64(page, 0, 0);
    } else if (offset == 0) {
        total = 0;
    } else {
        free(sql);
        if (asprintf(&sql, "SELECT count(*) FROM %s WHERE true%s", from, b->sql) < 0) {
            sql = NULL;
            status = send_json(r, 500, NULL);
            goto out;
        }
        stmt_name(sql, stname, sizeof(stname));
        cnt = db_query(r->db, stname, sql, nwhere, b->params);
        if (!cnt) {
            status = db_failed(r);
            goto out;
        }
        total = db_get_i64(cnt, 0, 0);
    }
    jsonw_free(&w);
    jsonw_init(&w, (size_t)n * 768 + 64);
    jsonw_obj_begin(&w);
    jsonw_key(&w, name);
    jsonw_arr_begin(&w);
    for (int i = 0; i < n; i++)
        write_row(&w, page, i, 1);
    jsonw_arr_end(&w);
    jsonw_key(&w, "total_entries");
    jsonw_i64(&w, total);
    jsonw_obj_end(&w);
    status = send_jsonw(r, &w);
out:
    jsonw_free(&w);
    free(sql);
    PQclear(page);
    PQclear(cnt);
    return status;
}

/* ---- health -------------------------------------------------------------- */

/*
 * Airflow's shape (metadatabase, scheduler: the most recent scheduler),
 * plus every live scheduler and worker job with its hostname, latest
 * heartbeat and status (healthy: heartbeat within the threshold).
 */
static int get_health(req_t *r)
{
    static const char *const sql =
        "SELECT job_type, hostname, pid, " TS("latest_heartbeat") ", latest_heartbeat > now() - "
        "interval '" HEALTH_THRESHOLD_SEC " seconds', array_to_json(queues)::text FROM job "
        "WHERE state = 'running' ORDER BY job_type, latest_heartbeat DESC LIMIT 1000";
    cJSON *out = cJSON_CreateObject(), *md, *sch, *schs, *wks;
    PGresult *res = r->db ? db_query(r->db, "api_health_jobs", sql, 0, NULL) : NULL;
    bool db_healthy = res != NULL, alive = false;
    int best = -1;

    md = cJSON_AddObjectToObject(out, "metadatabase");
    cJSON_AddStringToObject(md, "status", db_healthy ? "healthy" : "unhealthy");
    sch = cJSON_AddObjectToObject(out, "scheduler");
    schs = cJSON_AddArrayToObject(out, "schedulers");
    wks = cJSON_AddArrayToObject(out, "workers");
    for (int i = 0; res && i < PQntuples(res); i++) {
        bool sched = strcmp(PQgetvalue(res, i, 0), "SchedulerJob") == 0;
        bool healthy = db_get_bool(res, i, 4);
        if (!sched && strcmp(PQgetvalue(res, i, 0), "WorkerJob") != 0)
            continue;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "hostname", PQgetvalue(res, i, 1));
        cJSON_AddNumberToObject(j, "pid", atoi(PQgetvalue(res, i, 2)));
        http_json_add_ts(j, "latest_heartbeat", res, i, 3);
        cJSON_AddStringToObject(j, "status", healthy ? "healthy" : "unhealthy");
        if (!sched) {
            cJSON *qs = cJSON_Parse(PQgetvalue(res, i, 5));
            if (qs)
                cJSON_AddItemToObject(j, "queues", qs);
        }
        cJSON_AddItemToArray(sched ? schs : wks, j);
        if (sched && (best < 0 || (healthy && !alive))) {
            best = i;
            alive = healthy;
        }
    }
    if (best >= 0)
        http_json_add_ts(sch, "latest_scheduler_heartbeat", res, best, 3);
    else
        cJSON_AddNullToObject(sch, "latest_scheduler_heartbeat");
    cJSON_AddStringToObject(sch, "status", alive ? "healthy" : "unhealthy");
    PQclear(res);
    return send_json(r, 200, out);
}

/* ---- DAGs ---------------------------------------------------------------- */

#define DAG_COLS                                                                                  \
    "d.dag_id, d.is_paused, d.is_active, " TS("d.last_parsed_time") ", d.fileloc, "               \
    "translate(encode(convert_to(d.fileloc, 'UTF8'), 'base64'), E'+/=\\n', '-_'), d.owners, "     \
    "d.description, d.schedule, array_to_json(d.tags)::text, d.max_active_tasks, "                \
    "d.max_active_runs, EXISTS (SELECT 1 FROM import_error ie WHERE ie.filename = d.fileloc), "   \
    TS("d.next_dagrun") ", " TS("d.next_dagrun_create_after")

enum { DC_ID, DC_PAUSED, DC_ACTIVE, DC_PARSED, DC_FILELOC, DC_TOKEN, DC_OWNERS, DC_DESC,
       DC_SCHEDULE, DC_TAGS, DC_MAX_TASKS, DC_MAX_RUNS, DC_IMPORT_ERR, DC_NEXT, DC_NEXT_AFTER };

/* What Airflow's timetable_description says for the presets. */
static const char *schedule_description(const char *schedule)
{
    static const struct { const char *preset, *text; } presets[] = {
        {"@once", "Once, as soon as possible"},
        {"@hourly", "At 0 minutes past the hour"},
        {"@daily", "At 00:00"},
        {"@midnight", "At 00:00"},
        {"@weekly", "At 00:00, only on Sunday"},
        {"@monthly", "At 00:00, on day 1 of the month"},
        {"@yearly", "At 00:00, on day 1 of the month, only in January"},
        {"@annually", "At 00:00, on day 1 of the month, only in January"},
    };
    if (!schedule)
        return "Never, external triggers only";
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(schedule, presets[i].preset) == 0)
            return presets[i].text;
    return schedule;
}

/*
 * tags arrives as array_to_json(d.tags): a JSON array of strings Postgres
 * wrote, each already escaped; each becomes {"name": <that string>}.
 */
static void write_tags(jsonw_t *w, const char *json)
{
    const char *p = json ? json : "[]";

    jsonw_arr_begin(w);
    if (*p == '[')
        p++;
    while (*p) {
        const char *start;
        while (*p == ' ' || *p == ',')
            p++;
        if (*p != '"')
            break;
        start = p++;
        while (*p && *p != '"') {
            if (*p == '\\' && p[1])
                p++;
            p++;
        }
        if (*p != '"')
            break;
        p++;
        jsonw_obj_begin(w);
        jsonw_key(w, "name");
        jsonw_raw(w, start, (size_t)(p - start));
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

/* owners is a comma-separated list; each trimmed, non-empty name. */
static void write_owners(jsonw_t *w, const char *ow)
{
    jsonw_arr_begin(w);
    while (ow && *ow) {
        const char *comma = strchr(ow, ',');
        size_t len = comma ? (size_t)(comma - ow) : strlen(ow);
        while (len > 0 && *ow == ' ') {
            ow++;
            len--;
        }
        while (len > 0 && ow[len - 1] == ' ')
            len--;
        if (len > 0)
            jsonw_strn(w, ow, len);
        ow = comma ? comma + 1 : NULL;
    }
    jsonw_arr_end(w);
}

static void dag_write(jsonw_t *w, const PGresult *res, int i, int base)
{
    const char *schedule = db_get_str(res, i, base + DC_SCHEDULE);

    jsonw_obj_begin(w);
    jsonw_key(w, "dag_id");
    jsonw_pg_str(w, res, i, base + DC_ID);
    jsonw_key(w, "dag_display_name");
    jsonw_pg_str(w, res, i, base + DC_ID);
    jsonw_key(w, "root_dag_id");
    jsonw_null(w);
    jsonw_key(w, "is_paused");
    jsonw_pg_bool(w, res, i, base + DC_PAUSED);
    jsonw_key(w, "is_active");
    jsonw_pg_bool(w, res, i, base + DC_ACTIVE);
    jsonw_key(w, "is_subdag");
    jsonw_bool(w, false);
    jsonw_key(w, "last_parsed_time");
    jsonw_pg_ts(w, res, i, base + DC_PARSED);
    jsonw_key(w, "last_pickled");
    jsonw_null(w);
    jsonw_key(w, "last_expired");
    jsonw_null(w);
    jsonw_key(w, "scheduler_lock");
    jsonw_null(w);
    jsonw_key(w, "pickle_id");
    jsonw_null(w);
    jsonw_key(w, "default_view");
    jsonw_str(w, "grid");
    jsonw_key(w, "fileloc");
    jsonw_pg_str(w, res, i, base + DC_FILELOC);
    jsonw_key(w, "file_token");
    jsonw_pg_str(w, res, i, base + DC_TOKEN);
    jsonw_key(w, "owners");
    write_owners(w, db_get_str(res, i, base + DC_OWNERS));
    jsonw_key(w, "description");
    jsonw_pg_str(w, res, i, base + DC_DESC);
    jsonw_key(w, "schedule_interval");
    if (schedule) {
        jsonw_obj_begin(w);
        jsonw_key(w, "__type");
        jsonw_str(w, "CronExpression");
        jsonw_key(w, "value");
        jsonw_str(w, schedule);
        jsonw_obj_end(w);
    } else {
        jsonw_null(w);
    }
    jsonw_key(w, "timetable_description");
    jsonw_str(w, schedule_description(schedule));
    jsonw_key(w, "tags");
    write_tags(w, db_get_str(res, i, base + DC_TAGS));
    jsonw_key(w, "max_active_tasks");
    jsonw_pg_int(w, res, i, base + DC_MAX_TASKS);
    jsonw_key(w, "max_active_runs");
    jsonw_pg_int(w, res, i, base + DC_MAX_RUNS);
    jsonw_key(w, "max_consecutive_failed_dag_runs");
    jsonw_i64(w, 0);
    jsonw_key(w, "has_task_concurrency_limits");
    jsonw_bool(w, false);
    jsonw_key(w, "has_import_errors");
    jsonw_pg_bool(w, res, i, base + DC_IMPORT_ERR);
    jsonw_key(w, "next_dagrun");
    jsonw_pg_ts(w, res, i, base + DC_NEXT);
    jsonw_key(w, "next_dagrun_data_interval_start");
    jsonw_pg_ts(w, res, i, base + DC_NEXT);
    jsonw_key(w, "next_dagrun_data_interval_end");
    jsonw_pg_ts(w, res, i, base + DC_NEXT_AFTER);
    jsonw_key(w, "next_dagrun_create_after");
    jsonw_pg_ts(w, res, i, base + DC_NEXT_AFTER);
    jsonw_obj_end(w);
}

static const httpq_sort_t dag_sorts[] = {
    {"dag_id", "d.dag_id"},
    {"dag_display_name", "d.dag_id"},
    {"fileloc", "d.fileloc"},
    {"is_paused", "d.is_paused"},
    {"last_parsed_time", "d.last_parsed_time"},
    {"next_dagrun", "d.next_dagrun"},
};

static int get_dags(req_t *r)
{
    sqlb_t b = {0};
    char err[256], order[128];
    const char *sort_sql;
    bool desc, flag;
    int64_t limit, offset;
    int rc, status;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0 ||
        httpq_order_by(httpq_get(&r->q, "order_by"), dag_sorts,
                       sizeof(dag_sorts) / sizeof(dag_sorts[0]), "dag_id", &sort_sql, &desc, err,
                       sizeof(err)) < 0)
        return bad_request(r, err);
    rc = httpq_get_bool(&r->q, "only_active", &flag, err, sizeof(err));
    if (rc < 0)
        return bad_request(r, err);
    if (rc == 0 || flag)
        sqlb_add(&b, " AND d.is_active");
    rc = httpq_get_bool(&r->q, "paused", &flag, err, sizeof(err));
    if (rc < 0)
        return bad_request(r, err);
    if (rc == 1)
        sqlb_add(&b, " AND d.is_paused = $%d", sqlb_param(&b, flag ? "true" : "false"));
    if (httpq_get(&r->q, "dag_id_pattern"))
        sqlb_add(&b, " AND d.dag_id ILIKE '%%' || $%d || '%%'",
                 sqlb_param(&b, httpq_get(&r->q, "dag_id_pattern")));
    if (httpq_count(&r->q, "tags") > 0) {
        size_t n = httpq_count(&r->q, "tags");
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < n; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(httpq_get_nth(&r->q, "tags", i)));
        sqlb_add(&b, " AND d.tags && ARRAY(SELECT jsonb_array_elements_text($%d::jsonb))",
                 sqlb_param_own(&b, arr ? cJSON_PrintUnformatted(arr) : NULL));
        cJSON_Delete(arr);
    }
    snprintf(order, sizeof(order), "%s %s NULLS LAST, d.dag_id", sort_sql, desc ? "DESC" : "ASC");
    status = send_collection(r, "dags", DAG_COLS, "dag d", &b, order, limit, offset, dag_write);
    sqlb_free(&b);
    return status;
}

static int send_dag(req_t *r, const char *dag_id)
{
    const char *params[1] = {dag_id};
    PGresult *res = db_query(r->db, "api_get_dag",
                             "SELECT " DAG_COLS " FROM dag d WHERE d.dag_id = $1", 1, params);
    int status;

    if (!res)
        return db_failed(r);
    if (PQntuples(res) == 0)
        status = not_found(r, "DAG not found", "DAG with dag_id: '%s' not found", dag_id);
    else
        status = send_row(r, res, 0, dag_write);
    PQclear(res);
    return status;
}

static int get_dag(req_t *r)
{
    return send_dag(r, r->cap[0]);
}

static int patch_dag(req_t *r)
{
    const char *dag_id = r->cap[0];
    const char *mask = httpq_get(&r->q, "update_mask");
    char err[256];
    int status = 0;
    cJSON *body, *paused;
    const char *params[2];
    long n;

    if (mask) {
        /* Only is_paused can be edited, as in Airflow; the mask may be
         * repeated or comma-separated but must name nothing else. */
        for (size_t i = 0; i < httpq_count(&r->q, "update_mask"); i++) {
            const char *m = httpq_get_nth(&r->q, "update_mask", i);
            const char *p = m;
            while (*p) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                while (len > 0 && *p == ' ') {
                    p++;
                    len--;
                }
                while (len > 0 && p[len - 1] == ' ')
                    len--;
                if (!(len == 9 && memcmp(p, "is_paused", 9) == 0))
                    return bad_request(r, "Only `is_paused` field can be edited through the "
                                          "REST API");
                p = comma ? comma + 1 : p + strlen(p);
            }
        }
    }
    body = http_read_json_object(r->conn, &status, err, sizeof(err));
    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    paused = cJSON_GetObjectItemCaseSensitive(body, "is_paused");
    if (!cJSON_IsBool(paused)) {
        cJSON_Delete(body);
        return bad_request(r, "{'is_paused': ['Not a valid boolean.']}");
    }
    params[0] = dag_id;
    params[1] = cJSON_IsTrue(paused) ? "true" : "false";
    cJSON_Delete(body);
    n = db_exec(r->db, "api_patch_dag", "UPDATE dag SET is_paused = $2 WHERE dag_id = $1", 2,
                params);
    if (n < 0)
        return db_failed(r);
    if (n == 0)
        return not_found(r, "DAG not found", "Dag with id: '%s' not found", dag_id);
    /* Committed (autocommit): this client must not read its old answer. */
    apicache_bump(r->api->cache);
    /* A hint only: the scheduler's periodic pass picks the change up anyway. */
    if (db_simple(r->db, "NOTIFY " CHANNEL_SCHEDULER) < 0)
        log_warn("notify failed after unpausing dag_id=%s", dag_id);
    log_info("dag %s dag_id=%s", params[1][0] == 't' ? "paused" : "unpaused", dag_id);
    return send_dag(r, dag_id);
}

/* ---- DAG runs ------------------------------------------------------------ */

#define RUN_COLS                                                                                  \
    "dr.run_id, dr.dag_id, " TS("dr.logical_date") ", " TS("dr.start_date") ", "                  \
    TS("dr.end_date") ", " TS("dr.data_interval_start") ", " TS("dr.data_interval_end") ", "      \
    TS("dr.last_scheduling_decision") ", dr.run_type, dr.state, dr.external_trigger, "            \
    "dr.conf::text, dr.note"

enum { RC_RUN_ID, RC_DAG_ID, RC_LOGICAL, RC_START, RC_END, RC_DI_START, RC_DI_END, RC_LSD,
       RC_TYPE, RC_STATE, RC_EXTERNAL, RC_CONF, RC_NOTE };

static void run_write(jsonw_t *w, const PGresult *res, int i, int base)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "dag_run_id");
    jsonw_pg_str(w, res, i, base + RC_RUN_ID);
    jsonw_key(w, "dag_id");
    jsonw_pg_str(w, res, i, base + RC_DAG_ID);
    jsonw_key(w, "logical_date");
    jsonw_pg_ts(w, res, i, base + RC_LOGICAL);
    jsonw_key(w, "execution_date");
    jsonw_pg_ts(w, res, i, base + RC_LOGICAL);
    jsonw_key(w, "start_date");
    jsonw_pg_ts(w, res, i, base + RC_START);
    jsonw_key(w, "end_date");
    jsonw_pg_ts(w, res, i, base + RC_END);
    jsonw_key(w, "data_interval_start");
    jsonw_pg_ts(w, res, i, base + RC_DI_START);
    jsonw_key(w, "data_interval_end");
    jsonw_pg_ts(w, res, i, base + RC_DI_END);
    jsonw_key(w, "last_scheduling_decision");
    jsonw_pg_ts(w, res, i, base + RC_LSD);
    jsonw_key(w, "run_type");
    jsonw_pg_str(w, res, i, base + RC_TYPE);
    jsonw_key(w, "state");
    jsonw_pg_str(w, res, i, base + RC_STATE);
    jsonw_key(w, "external_trigger");
    jsonw_pg_bool(w, res, i, base + RC_EXTERNAL);
    jsonw_key(w, "conf");
    jsonw_pg_json(w, res, i, base + RC_CONF);
    jsonw_key(w, "note");
    jsonw_pg_str(w, res, i, base + RC_NOTE);
    jsonw_obj_end(w);
}

static const httpq_sort_t run_sorts[] = {
    {"id", "dr.id"},
    {"state", "dr.state"},
    {"dag_id", "dr.dag_id"},
    {"execution_date", "dr.logical_date"},
    {"logical_date", "dr.logical_date"},
    {"dag_run_id", "dr.run_id"},
    {"start_date", "dr.start_date"},
    {"end_date", "dr.end_date"},
    {"external_trigger", "dr.external_trigger"},
    {"conf", "dr.conf"},
};

static int get_dag_runs(req_t *r)
{
    sqlb_t b = {0};
    char err[256], order[128];
    const char *sort_sql;
    bool desc;
    int64_t limit, offset;
    int status;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0 ||
        httpq_order_by(httpq_get(&r->q, "order_by"), run_sorts,
                       sizeof(run_sorts) / sizeof(run_sorts[0]), "id", &sort_sql, &desc, err,
                       sizeof(err)) < 0)
        return bad_request(r, err);
    /* "~" lists the runs of every DAG, as in Airflow. */
    if (strcmp(r->cap[0], "~") != 0)
        sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    if (filter_ts_range(r, &b, "execution_date", "dr.logical_date", err, sizeof(err)) < 0 ||
        filter_ts_range(r, &b, "start_date", "dr.start_date", err, sizeof(err)) < 0 ||
        filter_ts_range(r, &b, "end_date", "dr.end_date", err, sizeof(err)) < 0) {
        sqlb_free(&b);
        return bad_request(r, err);
    }
    filter_list(r, &b, "state", "dr.state");
    snprintf(order, sizeof(order), "%s %s NULLS LAST, dr.id", sort_sql, desc ? "DESC" : "ASC");
    status = send_collection(r, "dag_runs", RUN_COLS, "dag_run dr", &b, order, limit, offset,
                             run_write);
    sqlb_free(&b);
    return status;
}

static int get_dag_run(req_t *r)
{
    const char *params[2] = {r->cap[0], r->cap[1]};
    PGresult *res = db_query(r->db, "api_get_dag_run",
                             "SELECT " RUN_COLS " FROM dag_run dr "
                             "WHERE dr.dag_id = $1 AND dr.run_id = $2",
                             2, params);
    int status;

    if (!res)
        return db_failed(r);
    if (PQntuples(res) == 0)
        status = not_found(r, "DAGRun not found",
                           "DAGRun with DAG ID: '%s' and DagRun ID: '%s' not found", r->cap[0],
                           r->cap[1]);
    else
        status = send_row(r, res, 0, run_write);
    PQclear(res);
    return status;
}

/* A nullable string member of a request body; -1 when it has another type. */
static int body_str(const cJSON *body, const char *key, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return -1;
    *out = v->valuestring;
    return 0;
}

static int body_ts(const cJSON *body, const char *key, ts_us_t *out, char *err, size_t errlen)
{
    const char *s;

    *out = TS_NONE;
    if (body_str(body, key, &s) < 0 || (s && ts_parse(s, out) < 0)) {
        snprintf(err, errlen, "{'%s': ['Not a valid datetime.']}", key);
        return -1;
    }
    return 0;
}

/*
 * Refuses members not in known (NULL-terminated), as Airflow's schemas do:
 * 0, or -1 with the problem detail in err.
 */
static int body_check_known(const cJSON *body, const char *const *known, char *err,
                            size_t errlen)
{
    for (const cJSON *it = body->child; it; it = it->next) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(it->string, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "{'%.64s': ['Unknown field.']}", it->string);
            return -1;
        }
    }
    return 0;
}

/* A boolean member with a default; -1 with err filled when not a boolean. */
static int body_bool(const cJSON *body, const char *key, bool dflt, bool *out, char *err,
                     size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

    *out = dflt;
    if (!v)
        return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(err, errlen, "{'%s': ['Not a valid boolean.']}", key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A timezone-aware datetime member (Airflow refuses naive ones). */
static int body_aware_ts(const cJSON *body, const char *key, ts_us_t *out, char *err,
                         size_t errlen)
{
    const char *s;
    size_t n;

    if (body_ts(body, key, out, err, errlen) < 0)
        return -1;
    if (*out == TS_NONE)
        return 0;
    body_str(body, key, &s);
    n = strlen(s);
    /* An offset is Z, or [+-]hh[:mm] after the time. */
    if (!(n > 0 && (s[n - 1] == 'Z' || s[n - 1] == 'z')) &&
        !(n > 19 && (strchr(s + 19, '+') || strchr(s + 19, '-')))) {
        snprintf(err, errlen, "{'%s': ['Naive datetime is disallowed']}", key);
        return -1;
    }
    return 0;
}

static int post_dag_run(req_t *r)
{
    static const char *const known[] = {"dag_run_id", "logical_date", "execution_date",
                                        "conf", "note", "data_interval_start",
                                        "data_interval_end", NULL};
    const char *dag_id = r->cap[0];
    char err[512], run_id[DAGRUN_ID_MAX + 1], *conf_text = NULL;
    dagrun_spec_t spec = {0};
    ts_us_t logical, exec_date;
    const char *note = NULL;
    const cJSON *conf;
    int64_t id = 0;
    int status = 0, rc;
    cJSON *body = http_read_json_object(r->conn, &status, err, sizeof(err));
    PGresult *res = NULL;

    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, known, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    spec.dag_id = dag_id;
    spec.type = DAGRUN_MANUAL;
    if (body_str(body, "dag_run_id", &spec.run_id) < 0) {
        status = bad_request(r, "{'dag_run_id': ['Not a valid string.']}");
        goto out;
    }
    if (spec.run_id && !dagrun_run_id_valid(spec.run_id)) {
        status = bad_request(r, "The provided run ID does not match the pattern "
                                "^[A-Za-z0-9_.~:+-]+$ (at most 250 characters)");
        goto out;
    }
    if (body_ts(body, "logical_date", &logical, err, sizeof(err)) < 0 ||
        body_ts(body, "execution_date", &exec_date, err, sizeof(err)) < 0 ||
        body_ts(body, "data_interval_start", &spec.interval_start, err, sizeof(err)) < 0 ||
        body_ts(body, "data_interval_end", &spec.interval_end, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (logical != TS_NONE && exec_date != TS_NONE && logical != exec_date) {
        status = bad_request(r, "logical_date conflicts with execution_date");
        goto out;
    }
    spec.logical_date = logical != TS_NONE ? logical : exec_date;
    if ((spec.interval_start == TS_NONE) != (spec.interval_end == TS_NONE)) {
        status = bad_request(r, "data_interval_start and data_interval_end must be given "
                                "together");
        goto out;
    }
    if (spec.interval_start != TS_NONE && spec.interval_start > spec.interval_end) {
        status = bad_request(r, "data_interval_start must not be after data_interval_end");
        goto out;
    }
    conf = cJSON_GetObjectItemCaseSensitive(body, "conf");
    if (conf && !cJSON_IsNull(conf)) {
        if (!cJSON_IsObject(conf)) {
            status = bad_request(r, "{'conf': ['Not a valid mapping type.']}");
            goto out;
        }
        conf_text = cJSON_PrintUnformatted(conf);
        if (!conf_text) {
            status = send_json(r, 500, NULL);
            goto out;
        }
        spec.conf_json = conf_text;
    }
    if (body_str(body, "note", &note) < 0) {
        status = bad_request(r, "{'note': ['Not a valid string.']}");
        goto out;
    }

    rc = dagrun_create(r->db, &spec, &id, run_id, err, sizeof(err));
    if (rc == 0)
        apicache_bump(r->api->cache);
    switch (rc) {
    case 0:
        break;
    case DAGRUN_ERR_CONFLICT:
        http_send_problem(r->conn, 409, "DAGRun already exists", "%s", err);
        status = 409;
        goto out;
    case DAGRUN_ERR_NO_DAG:
        http_send_problem(r->conn, 404, "DAG not found", "%s", err);
        status = 404;
        goto out;
    case DAGRUN_ERR_INVALID:
        status = bad_request(r, err);
        goto out;
    default:
        status = db_failed(r);
        goto out;
    }
    {
        char idbuf[32];
        const char *params[2] = {idbuf, note};
        snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
        if (note && db_exec(r->db, "api_set_run_note",
                            "UPDATE dag_run SET note = $2 WHERE id = $1", 2, params) < 0) {
            status = db_failed(r);
            goto out;
        }
        res = db_query(r->db, "api_get_dag_run_by_id",
                       "SELECT " RUN_COLS " FROM dag_run dr WHERE dr.id = $1", 1, params);
    }
    if (!res) {
        status = db_failed(r);
        goto out;
    }
    if (PQntuples(res) == 0) {
        http_send_problem(r->conn, 500, NULL, "the new DAG run vanished");
        status = 500;
        goto out;
    }
    status = send_row(r, res, 0, run_write);
out:
    PQclear(res);
    cJSON_free(conf_text);
    cJSON_Delete(body);
    return status;
}

/* The run's row id and logical date; 0, 1 when missing, -1 on a database error. */
static int find_run(req_t *r, const char *dag_id, const char *run_id, ts_us_t *logical)
{
    const char *params[2] = {dag_id, run_id};
    PGresult *res = db_query(r->db, "api_find_run",
                             "SELECT " TS("logical_date") " FROM dag_run"
                             " WHERE dag_id = $1 AND run_id = $2",
                             2, params);
    int rc;

    if (!res)
        return -1;
    rc = PQntuples(res) == 0 ? 1 : 0;
    if (rc == 0 && logical)
        *logical = db_get_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

/*
 * PATCH /dags/{dag_id}/dagRuns/{dag_run_id} (UpdateDagRunState), as
 * Airflow 2's update_dag_run_state: the run must exist (404 before the
 * body is looked at), state is success, failed or queued.
 */
static int patch_dag_run(req_t *r)
{
    static const char *const known[] = {"state", NULL};
    char err[512];
    int status = 0, rc;
    const char *state = NULL;
    cJSON *body;

    rc = find_run(r, r->cap[0], r->cap[1], NULL);
    if (rc < 0)
        return db_failed(r);
    if (rc > 0)
        return not_found(r, "DAGRun not found", "Dag Run id %s not found in dag %s", r->cap[1],
                         r->cap[0]);
    body = http_read_json_object(r->conn, &status, err, sizeof(err));
    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, known, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (body_str(body, "state", &state) < 0 || !state ||
        (strcmp(state, "success") != 0 && strcmp(state, "failed") != 0 &&
         strcmp(state, "queued") != 0)) {
        status = bad_request(r, "{'state': ['Must be one of: success, failed, queued.']}");
        goto out;
    }
    rc = clear_mark_run(r->db, r->cap[0], r->cap[1], state, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        status = not_found(r, "DAGRun not found", "Dag Run id %s not found in dag %s",
                           r->cap[1], r->cap[0]);
        goto out;
    }
    if (rc < 0) {
        log_warn("mark dag run failed dag_id=%s run_id=%s error=\"%s\"", r->cap[0], r->cap[1],
                 err);
        status = db_failed(r);
        goto out;
    }
    apicache_bump(r->api->cache);
    status = get_dag_run(r);
out:
    cJSON_Delete(body);
    return status;
}

/*
 * POST /dags/{dag_id}/clearTaskInstances (ClearTaskInstances), as Airflow
 * 2's post_clear_task_instances: dry_run and only_failed default to true;
 * a dag_run_id stands for its logical date (widened by include_past /
 * include_future); task_ids are exact ids, widened by include_upstream /
 * include_downstream; reset_dag_runs puts finished runs back to queued.
 * The answer lists the task instances selected (and, without dry_run,
 * cleared).
 */
static int post_clear_task_instances(req_t *r)
{
    static const char *const known[] = {
        "dry_run", "task_ids", "start_date", "end_date", "only_failed", "only_running",
        "include_subdags", "include_parentdag", "reset_dag_runs", "dag_run_id",
        "include_upstream", "include_downstream", "include_future", "include_past", NULL};
    const char *dag_id = r->cap[0];
    char err[512];
    int status = 0, rc;
    bool dry_run, only_failed, only_running, reset, up, down, future, past, ignored;
    const char *run_id = NULL;
    const char **ids = NULL;
    size_t n_ids = 0;
    clear_filter_t f = {.dag_id = dag_id, .start = TS_NONE, .end = TS_NONE};
    clear_list_t l = {0};
    const cJSON *tids;
    jsonw_t w;
    cJSON *body = http_read_json_object(r->conn, &status, err, sizeof(err));

    jsonw_init(&w, 0);
    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, known, err, sizeof(err)) < 0 ||
        body_bool(body, "dry_run", true, &dry_run, err, sizeof(err)) < 0 ||
        body_bool(body, "only_failed", true, &only_failed, err, sizeof(err)) < 0 ||
        body_bool(body, "only_running", false, &only_running, err, sizeof(err)) < 0 ||
        body_bool(body, "reset_dag_runs", false, &reset, err, sizeof(err)) < 0 ||
        body_bool(body, "include_upstream", false, &up, err, sizeof(err)) < 0 ||
        body_bool(body, "include_downstream", false, &down, err, sizeof(err)) < 0 ||
        body_bool(body, "include_future", false, &future, err, sizeof(err)) < 0 ||
        body_bool(body, "include_past", false, &past, err, sizeof(err)) < 0 ||
        body_bool(body, "include_subdags", false, &ignored, err, sizeof(err)) < 0 ||
        body_bool(body, "include_parentdag", false, &ignored, err, sizeof(err)) < 0 ||
        body_aware_ts(body, "start_date", &f.start, err, sizeof(err)) < 0 ||
        body_aware_ts(body, "end_date", &f.end, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (body_str(body, "dag_run_id", &run_id) < 0) {
        status = bad_request(r, "{'dag_run_id': ['Not a valid string.']}");
        goto out;
    }
    tids = cJSON_GetObjectItemCaseSensitive(body, "task_ids");
    if (tids) {
        const cJSON *it;
        size_t i = 0;
        if (!cJSON_IsArray(tids)) {
            status = bad_request(r, "{'task_ids': ['Not a valid list.']}");
            goto out;
        }
        n_ids = (size_t)cJSON_GetArraySize(tids);
        if (n_ids == 0) {
            status = bad_request(r, "{'task_ids': ['Shorter than minimum length 1.']}");
            goto out;
        }
        ids = calloc(n_ids, sizeof(*ids));
        if (!ids) {
            status = send_json(r, 500, NULL);
            goto out;
        }
        cJSON_ArrayForEach(it, tids)
        {
            if (!cJSON_IsString(it)) {
                snprintf(err, sizeof(err), "{'task_ids': {%zu: ['Not a valid string.']}}", i);
                status = bad_request(r, err);
                goto out;
            }
            ids[i++] = it->valuestring;
        }
        f.task_ids = ids;
        f.n_task_ids = n_ids;
    }
    /* Airflow's ClearTaskInstanceFormSchema.validate_form, in its order. */
    if (only_failed && only_running) {
        status = bad_request(r, "{'_schema': ['only_failed and only_running both are set to "
                                "True']}");
        goto out;
    }
    if (f.start != TS_NONE && f.end != TS_NONE && f.start > f.end) {
        status = bad_request(r, "{'_schema': ['end_date is sooner than start_date']}");
        goto out;
    }
    if (f.start != TS_NONE && run_id) {
        status = bad_request(r, "{'_schema': ['Exactly one of dag_run_id or start_date must be "
                                "provided']}");
        goto out;
    }
    if (f.end != TS_NONE && run_id) {
        status = bad_request(r, "{'_schema': ['Exactly one of dag_run_id or end_date must be "
                                "provided']}");
        goto out;
    }
    {
        const char *params[1] = {dag_id};
        PGresult *res = db_query(r->db, "api_dag_exists",
                                 "SELECT 1 FROM dag WHERE dag_id = $1 AND version_id IS NOT NULL",
                                 1, params);
        if (!res) {
            status = db_failed(r);
            goto out;
        }
        rc = PQntuples(res);
        PQclear(res);
        if (rc == 0) {
            status = not_found(r, "DAG not found", "Dag id %s not found", dag_id);
            goto out;
        }
    }
    if (run_id) {
        ts_us_t logical = TS_NONE;
        rc = find_run(r, dag_id, run_id, &logical);
        if (rc < 0) {
            status = db_failed(r);
            goto out;
        }
        if (rc > 0) {
            status = not_found(r, "DAGRun not found", "Dag Run id %s not found in dag %s",
                               run_id, dag_id);
            goto out;
        }
        f.start = past ? TS_NONE : logical;
        f.end = future ? TS_NONE : logical;
    }
    f.only_failed = only_failed;
    f.only_running = only_running;
    f.upstream = up;
    f.downstream = down;
    rc = clear_find(r->db, &f, &l, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        status = not_found(r, "DAG not found", "Dag id %s not found", dag_id);
        goto out;
    }
    if (rc < 0) {
        if (!db_ok(r->db) || strncmp(err, "database error", 14) == 0) {
            status = db_failed(r);
        } else {
            http_send_problem(r->conn, 400, NULL, "%s", err);
            status = 400;
        }
        goto out;
    }
    if (!dry_run && l.n > 0) {
        long cleared = 0;
        if (clear_apply_mode(r->db, &l, reset ? CLEAR_RUNS_FINISHED : CLEAR_RUNS_KEEP, &cleared,
                             err, sizeof(err)) < 0) {
            log_warn("clear task instances failed dag_id=%s error=\"%s\"", dag_id, err);
            status = db_failed(r);
            goto out;
        }
        apicache_bump(r->api->cache);
        log_info("task instances cleared through the API dag_id=%s count=%ld reset_dag_runs=%d",
                 dag_id, cleared, (int)reset);
    }
    jsonw_free(&w);
    jsonw_init(&w, l.n * 192 + 64);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "task_instances");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < l.n; i++) {
        jsonw_obj_begin(&w);
        jsonw_key(&w, "task_id");
        jsonw_str(&w, l.items[i].task_id);
        jsonw_key(&w, "dag_id");
        jsonw_str(&w, dag_id);
        jsonw_key(&w, "execution_date");
        jsonw_ts(&w, l.items[i].logical_date);
        jsonw_key(&w, "dag_run_id");
        jsonw_str(&w, l.items[i].run_id);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    status = send_jsonw(r, &w);
out:
    jsonw_free(&w);
    clear_list_free(&l);
    free(ids);
    cJSON_Delete(body);
    return status;
}

/* ---- task instances ------------------------------------------------------ */

#define TI_COLS                                                                                   \
    "ti.task_id, ti.dag_id, ti.run_id, " TS("dr.logical_date") ", " TS("ti.start_date") ", "      \
    TS("ti.end_date") ", ti.duration, ti.state, ti.try_number, ti.map_index, ti.max_tries, "      \
    "ti.hostname, ti.pool, ti.pool_slots, ti.queue, ti.priority_weight, ti.operator, "            \
    TS("ti.queued_at") ", ti.pid"
#define TI_FROM "task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id"

enum { TC_TASK, TC_DAG, TC_RUN, TC_EXEC, TC_START, TC_END, TC_DURATION, TC_STATE, TC_TRY,
       TC_MAP, TC_MAX_TRIES, TC_HOST, TC_POOL, TC_SLOTS, TC_QUEUE, TC_PRIO, TC_OP, TC_QUEUED,
       TC_PID };

static void ti_write(jsonw_t *w, const PGresult *res, int i, int base)
{
    const char *state = db_get_str(res, i, base + TC_STATE);

    jsonw_obj_begin(w);
    jsonw_key(w, "task_id");
    jsonw_pg_str(w, res, i, base + TC_TASK);
    jsonw_key(w, "task_display_name");
    jsonw_pg_str(w, res, i, base + TC_TASK);
    jsonw_key(w, "dag_id");
    jsonw_pg_str(w, res, i, base + TC_DAG);
    jsonw_key(w, "dag_run_id");
    jsonw_pg_str(w, res, i, base + TC_RUN);
    jsonw_key(w, "execution_date");
    jsonw_pg_ts(w, res, i, base + TC_EXEC);
    jsonw_key(w, "start_date");
    jsonw_pg_ts(w, res, i, base + TC_START);
    jsonw_key(w, "end_date");
    jsonw_pg_ts(w, res, i, base + TC_END);
    jsonw_key(w, "duration");
    jsonw_pg_num(w, res, i, base + TC_DURATION);
    jsonw_key(w, "state");
    if (!state || strcmp(state, "none") == 0)
        jsonw_null(w);
    else
        jsonw_str(w, state);
    jsonw_key(w, "try_number");
    jsonw_pg_int(w, res, i, base + TC_TRY);
    jsonw_key(w, "map_index");
    jsonw_pg_int(w, res, i, base + TC_MAP);
    jsonw_key(w, "rendered_map_index");
    jsonw_null(w);
    jsonw_key(w, "max_tries");
    jsonw_pg_int(w, res, i, base + TC_MAX_TRIES);
    jsonw_key(w, "hostname");
    jsonw_pg_str(w, res, i, base + TC_HOST);
    jsonw_key(w, "unixname");
    jsonw_str(w, "");
    jsonw_key(w, "pool");
    jsonw_pg_str(w, res, i, base + TC_POOL);
    jsonw_key(w, "pool_slots");
    jsonw_pg_int(w, res, i, base + TC_SLOTS);
    jsonw_key(w, "queue");
    jsonw_pg_str(w, res, i, base + TC_QUEUE);
    jsonw_key(w, "priority_weight");
    jsonw_pg_int(w, res, i, base + TC_PRIO);
    jsonw_key(w, "operator");
    jsonw_pg_str(w, res, i, base + TC_OP);
    jsonw_key(w, "queued_when");
    jsonw_pg_ts(w, res, i, base + TC_QUEUED);
    jsonw_key(w, "pid");
    jsonw_pg_int(w, res, i, base + TC_PID);
    jsonw_key(w, "executor");
    jsonw_null(w);
    jsonw_key(w, "executor_config");
    jsonw_str(w, "{}");
    jsonw_key(w, "note");
    jsonw_null(w);
    jsonw_key(w, "sla_miss");
    jsonw_null(w);
    jsonw_key(w, "rendered_fields");
    jsonw_raw(w, "{}", 2);
    jsonw_key(w, "trigger");
    jsonw_null(w);
    jsonw_key(w, "triggerer_job");
    jsonw_null(w);
    jsonw_obj_end(w);
}

/* duration_gte / duration_lte: seconds, as numbers. */
static int filter_duration(req_t *r, sqlb_t *b, char *err, size_t errlen)
{
    static const char *const keys[2] = {"duration_gte", "duration_lte"};
    static const char *const ops[2] = {">=", "<="};

    for (int i = 0; i < 2; i++) {
        const char *v = httpq_get(&r->q, keys[i]);
        char *end;
        double d;
        if (!v)
            continue;
        errno = 0;
        d = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(d) || strlen(v) > 32) {
            snprintf(err, errlen, "'%.32s' is not of type 'number' - '%s'", v, keys[i]);
            return -1;
        }
        sqlb_add(b, " AND ti.duration %s $%d::float8", ops[i], sqlb_param(b, v));
    }
    return 0;
}

static int get_task_instances(req_t *r)
{
    sqlb_t b = {0};
    char err[256];
    int64_t limit, offset;
    int status;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0)
        return bad_request(r, err);
    /* On dag_run's (dag_id, run_id) key, then the run's own task instances:
     * filtering task_instance by dag_id would read the DAG's whole history. */
    if (strcmp(r->cap[0], "~") != 0)
        sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    if (strcmp(r->cap[1], "~") != 0)
        sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    if (filter_ts_range(r, &b, "execution_date", "dr.logical_date", err, sizeof(err)) < 0 ||
        filter_ts_range(r, &b, "start_date", "ti.start_date", err, sizeof(err)) < 0 ||
        filter_ts_range(r, &b, "end_date", "ti.end_date", err, sizeof(err)) < 0 ||
        filter_ts_range(r, &b, "updated_at", "ti.updated_at", err, sizeof(err)) < 0 ||
        filter_duration(r, &b, err, sizeof(err)) < 0) {
        sqlb_free(&b);
        return bad_request(r, err);
    }
    filter_list(r, &b, "state", "ti.state");
    filter_list(r, &b, "pool", "ti.pool");
    filter_list(r, &b, "queue", "ti.queue");
    /* Every task instance runs on the default executor (null). */
    if (httpq_count(&r->q, "executor") > 0)
        sqlb_add(&b, " AND false");
    status = send_collection(r, "task_instances", TI_COLS, TI_FROM, &b, "ti.id", limit, offset,
                             ti_write);
    sqlb_free(&b);
    return status;
}

/* One task instance of a run by map index (-1: an unmapped task). */
static int send_task_instance(req_t *r, long map_index)
{
    char mibuf[16];
    snprintf(mibuf, sizeof(mibuf), "%ld", map_index);
    const char *params[4] = {r->cap[0], r->cap[1], r->cap[2], mibuf};
    PGresult *res = db_query(r->db, "api_get_ti",
                             "SELECT " TI_COLS " FROM " TI_FROM " WHERE dr.dag_id = $1 AND "
                             "dr.run_id = $2 AND ti.task_id = $3 AND ti.map_index = $4::int",
                             4, params);
    int status;

    if (!res)
        return db_failed(r);
    if (PQntuples(res) == 0 && map_index < 0)
        status = not_found(r, "Task instance not found",
                           "Task instance not found for DAG run '%s' of DAG '%s'", r->cap[1],
                           r->cap[0]);
    else if (PQntuples(res) == 0)
        status = not_found(r, "Task instance not found",
                           "Task instance not found for map index %ld of task '%s'", map_index,
                           r->cap[2]);
    else
        status = send_row(r, res, 0, ti_write);
    PQclear(res);
    return status;
}

static int get_task_instance(req_t *r)
{
    return send_task_instance(r, -1);
}

/*
 * GET .../taskInstances/{task_id}/listMapped (GetMappedTaskInstances): the
 * instances of a mapped task, by map index.
 */
static int get_mapped_task_instances(req_t *r)
{
    sqlb_t b = {0};
    char err[256];
    int64_t limit, offset;
    int status;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0)
        return bad_request(r, err);
    sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    sqlb_add(&b, " AND ti.task_id = $%d AND ti.map_index >= 0", sqlb_param(&b, r->cap[2]));
    filter_list(r, &b, "state", "ti.state");
    status = send_collection(r, "task_instances", TI_COLS, TI_FROM, &b, "ti.map_index", limit,
                             offset, ti_write);
    sqlb_free(&b);
    return status;
}

/* GET .../taskInstances/{task_id}/{map_index} (GetMappedTaskInstance). */
static int get_mapped_task_instance(req_t *r)
{
    char *end;
    errno = 0;
    long mi = strtol(r->cap[3], &end, 10);
    if (!*r->cap[3] || *end || errno || mi < -1 || mi > INT32_MAX)
        return not_found(r, "Not Found", "no such path: '%.64s' is not a map index", r->cap[3]);
    return send_task_instance(r, mi);
}

/*
 * PATCH /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}
 * (UpdateTaskInstance), as Airflow 2's patch_task_instance: dry_run
 * defaults to true; new_state is success, failed or skipped. Setting it
 * then clears the task's failed and upstream_failed downstream task
 * instances of the run (and puts the run back to queued if it had
 * finished), as DAG.set_task_instance_state does. Answers a
 * TaskInstanceReference.
 */
static int patch_task_instance(req_t *r)
{
    static const char *const known[] = {"dry_run", "new_state", NULL};
    const char *dag_id = r->cap[0], *run_id = r->cap[1], *task_id = r->cap[2];
    char err[512];
    int status = 0, rc;
    bool dry_run;
    const char *state = NULL;
    ts_us_t logical = TS_NONE;
    PGresult *res = NULL;
    clear_list_t l = {0};
    jsonw_t w;
    cJSON *body = http_read_json_object(r->conn, &status, err, sizeof(err));

    jsonw_init(&w, 256);
    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, known, err, sizeof(err)) < 0 ||
        body_bool(body, "dry_run", true, &dry_run, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (!cJSON_GetObjectItemCaseSensitive(body, "new_state")) {
        status = bad_request(r, "{'new_state': ['Missing data for required field.']}");
        goto out;
    }
    if (body_str(body, "new_state", &state) < 0 || !state ||
        (strcmp(state, "success") != 0 && strcmp(state, "failed") != 0 &&
         strcmp(state, "skipped") != 0)) {
        status = bad_request(r, "{'new_state': ['Must be one of: success, failed, skipped.']}");
        goto out;
    }
    {
        const char *params[2] = {dag_id, task_id};
        res = db_query(r->db, "api_dag_has_task",
                       "SELECT (v.data->'tasks') ? $2 FROM dag d"
                       " JOIN dag_version v ON v.id = d.version_id WHERE d.dag_id = $1",
                       2, params);
    }
    if (!res) {
        status = db_failed(r);
        goto out;
    }
    if (PQntuples(res) == 0) {
        status = not_found(r, "DAG not found", "DAG '%s' not found", dag_id);
        goto out;
    }
    if (!db_get_bool(res, 0, 0)) {
        status = not_found(r, "Task not found", "Task '%s' not found in DAG '%s'", task_id,
                           dag_id);
        goto out;
    }
    PQclear(res);
    {
        const char *params[3] = {dag_id, run_id, task_id};
        res = db_query(r->db, "api_ti_ref",
                       "SELECT " TS("dr.logical_date") " FROM task_instance ti"
                       " JOIN dag_run dr ON dr.id = ti.dag_run_id WHERE dr.dag_id = $1"
                       " AND dr.run_id = $2 AND ti.task_id = $3 AND ti.map_index = -1",
                       3, params);
    }
    if (!res) {
        status = db_failed(r);
        goto out;
    }
    if (PQntuples(res) == 0) {
        status = not_found(r, NULL, "Task instance not found for task '%s' on DAG run with ID "
                                    "'%s'", task_id, run_id);
        goto out;
    }
    logical = db_get_i64(res, 0, 0);
    if (!dry_run) {
        const char *ids[1] = {task_id};
        clear_filter_t f = {.dag_id = dag_id, .start = TS_NONE, .end = TS_NONE,
                            .run_id = run_id, .task_ids = ids, .n_task_ids = 1,
                            .downstream = true, .only_failed = true};
        long cleared = 0;
        size_t k = 0;

        rc = clear_mark_ti(r->db, dag_id, run_id, task_id, state, err, sizeof(err));
        if (rc == UPDRAFT_ENOTFOUND) {
            status = not_found(r, NULL, "%s", err);
            goto out;
        }
        if (rc < 0) {
            status = db_failed(r);
            goto out;
        }
        apicache_bump(r->api->cache);
        /* Resume the failed downstream tasks (not the task itself). */
        if (clear_find(r->db, &f, &l, err, sizeof(err)) < 0) {
            log_warn("clearing downstream after marking failed dag_id=%s error=\"%s\"", dag_id,
                     err);
            status = db_failed(r);
            goto out;
        }
        for (size_t i = 0; i < l.n; i++) {
            if (strcmp(l.items[i].task_id, task_id) == 0) {
                free(l.items[i].run_id);
                free(l.items[i].task_id);
                continue;
            }
            l.items[k++] = l.items[i];
        }
        l.n = k;
        if (l.n > 0 &&
            clear_apply_mode(r->db, &l, CLEAR_RUNS_FINISHED, &cleared, err, sizeof(err)) < 0) {
            log_warn("clearing downstream after marking failed dag_id=%s error=\"%s\"", dag_id,
                     err);
            status = db_failed(r);
            goto out;
        }
    }
    jsonw_obj_begin(&w);
    jsonw_key(&w, "task_id");
    jsonw_str(&w, task_id);
    jsonw_key(&w, "dag_id");
    jsonw_str(&w, dag_id);
    jsonw_key(&w, "execution_date");
    jsonw_ts(&w, logical);
    jsonw_key(&w, "dag_run_id");
    jsonw_str(&w, run_id);
    jsonw_obj_end(&w);
    status = send_jsonw(r, &w);
out:
    jsonw_free(&w);
    clear_list_free(&l);
    PQclear(res);
    cJSON_Delete(body);
    return status;
}

/* ---- logs ---------------------------------------------------------------- */

/*
 * The continuation token is "u" followed by the id of the last log row the
 * client has, in 16 hex digits: opaque to clients, and checked strictly.
 */
static int token_parse(const char *tok, int64_t *last_id)
{
    uint64_t v = 0;

    if (strlen(tok) != 17 || tok[0] != 'u')
        return -1;
    for (int i = 1; i < 17; i++) {
        char c = tok[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (uint64_t)d;
    }
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *last_id = (int64_t)v;
    return 0;
}

static void token_format(int64_t last_id, char *buf, size_t len)
{
    snprintf(buf, len, "u%016" PRIx64, (uint64_t)last_id);
}

static int get_log(req_t *r)
{
    const char *tok = httpq_get(&r->q, "token");
    char err[256], tokbuf[32], idbuf[32], trybuf[16], lastbuf[32], mapbuf[16];
    int64_t try_number, map_index, last_id = 0;
    bool full = false;
    size_t cap, len = 0, alloc = 0;
    char *content = NULL, *end;
    PGresult *res;
    int status;

    errno = 0;
    try_number = strtoll(r->cap[3], &end, 10);
    if (!*r->cap[3] || *end || errno || try_number < 0 || try_number > INT_MAX)
        return bad_request(r, "task_try_number must be a non-negative integer");
    if (httpq_get_i64(&r->q, "map_index", -1, -1, INT_MAX, &map_index, err, sizeof(err)) < 0 ||
        httpq_get_bool(&r->q, "full_content", &full, err, sizeof(err)) < 0)
        return bad_request(r, err);
    if (tok && token_parse(tok, &last_id) < 0)
        return bad_request(r, "Bad Signature. Please use only the tokens provided by the API.");
    snprintf(mapbuf, sizeof(mapbuf), "%" PRId64, map_index);
    {
        const char *params[4] = {r->cap[0], r->cap[1], r->cap[2], mapbuf};
        res = db_query(r->db, "api_log_ti",
                       "SELECT ti.id FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id"
                       " WHERE dr.dag_id = $1 AND dr.run_id = $2 AND ti.task_id = $3"
                       " AND ti.map_index = $4::int",
                       4, params);
    }
    if (!res)
        return db_failed(r);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return not_found(r, "TaskInstance not found",
                         "Task instance did not exist in the DB (run '%s', task '%s')", r->cap[1],
                         r->cap[2]);
    }
    snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(trybuf, sizeof(trybuf), "%" PRId64, try_number);

    cap = full ? LOG_FULL_MAX : LOG_PAGE_BYTES;
    for (;;) {
        const char *params[3] = {idbuf, trybuf, lastbuf};
        int n;
        bool stop = false;

        snprintf(lastbuf, sizeof(lastbuf), "%" PRId64, last_id);
        res = db_query(r->db, "api_log_rows",
                       "SELECT id, data FROM task_log WHERE ti_id = $1 AND try_number = $2 "
                       "AND id > $3 ORDER BY id LIMIT " LOG_BATCH_ROWS,
                       3, params);
        if (!res) {
            free(content);
            return db_failed(r);
        }
        n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            size_t dl = (size_t)PQgetlength(res, i, 1);
            if (len > 0 && len + dl > cap) {
                stop = true; /* the rest is for the next request, by token */
                break;
            }
            if (len + dl + 1 > alloc) {
                size_t na = alloc ? alloc : 4096;
                char *nc;
                while (na < len + dl + 1)
                    na *= 2;
                nc = realloc(content, na);
                if (!nc) {
                    PQclear(res);
                    free(content);
                    return send_json(r, 500, NULL);
                }
                content = nc;
                alloc = na;
            }
            memcpy(content + len, PQgetvalue(res, i, 1), dl);
            len += dl;
            last_id = db_get_i64(res, i, 0);
        }
        PQclear(res);
        if (stop || n < atoi(LOG_BATCH_ROWS))
            break;
    }
    if (!content) {
        content = strdup("");
        if (!content)
            return send_json(r, 500, NULL);
    }
    content[len] = '\0';
    token_format(last_id, tokbuf, sizeof(tokbuf));
    if (http_prefers_text(r->conn)) {
        http_send(r->conn, 200, "text/plain; charset=utf-8", content, len);
        status = 200;
    } else {
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "continuation_token", tokbuf);
            cJSON_AddStringToObject(o, "content", content);
        }
        status = send_json(r, 200, o);
    }
    free(content);
    return status;
}

/* ---- import errors ------------------------------------------------------- */

#define IE_COLS "ie.id, " TS("ie.\"timestamp\"") ", ie.filename, ie.stack_trace"

static void import_error_write(jsonw_t *w, const PGresult *res, int i, int base)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "import_error_id");
    jsonw_pg_int(w, res, i, base + 0);
    jsonw_key(w, "timestamp");
    jsonw_pg_ts(w, res, i, base + 1);
    jsonw_key(w, "filename");
    jsonw_pg_str(w, res, i, base + 2);
    jsonw_key(w, "stack_trace");
    jsonw_pg_str(w, res, i, base + 3);
    jsonw_obj_end(w);
}

static const httpq_sort_t ie_sorts[] = {
    {"import_error_id", "ie.id"},
    {"timestamp", "ie.\"timestamp\""},
    {"filename", "ie.filename"},
};

static int get_import_errors(req_t *r)
{
    sqlb_t b = {0};
    char err[256], order[128];
    const char *sort_sql;
    bool desc;
    int64_t limit, offset;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0 ||
        httpq_order_by(httpq_get(&r->q, "order_by"), ie_sorts,
                       sizeof(ie_sorts) / sizeof(ie_sorts[0]), "import_error_id", &sort_sql,
                       &desc, err, sizeof(err)) < 0)
        return bad_request(r, err);
    snprintf(order, sizeof(order), "%s %s, ie.id", sort_sql, desc ? "DESC" : "ASC");
    return send_collection(r, "import_errors", IE_COLS, "import_error ie", &b, order, limit,
                           offset, import_error_write);
}

static int get_import_error(req_t *r)
{
    const char *params[1] = {r->cap[0]};
    PGresult *res;
    char *end;
    long long id;
    int status;

    errno = 0;
    id = strtoll(r->cap[0], &end, 10);
    if (!*r->cap[0] || *end || errno || id < 0)
        return bad_request(r, "import_error_id must be an integer");
    res = db_query(r->db, "api_get_import_error",
                   "SELECT " IE_COLS " FROM import_error ie WHERE ie.id = $1", 1, params);
    if (!res)
        return db_failed(r);
    if (PQntuples(res) == 0)
        status = not_found(r, "Import error not found",
                           "The ImportError with import_error_id: `%s` was not found",
                           r->cap[0]);
    else
        status = send_row(r, res, 0, import_error_write);
    PQclear(res);
    return status;
}

/* ---- variables and connections -------------------------------------------- */

/*
 * Airflow's variable and connection endpoints. Values, passwords and
 * extras are encrypted at rest (core/secrets.h) under core.fernet_key,
 * read per request. A connection's password is write-only: no answer ever
 * carries it, and sensitive keys inside its extra are masked as "***".
 * Storing a secret without a configured key is a 400, not a plaintext row.
 */

static secrets_keyring_t *request_keyring(req_t *r)
{
    char err[256];
    secrets_keyring_t *ring = secrets_keyring_new(r->api->cfg->core.fernet_key, err, sizeof(err));

    if (!ring) {
        log_error("invalid encryption key configuration error=\"%s\"", err);
        http_send_problem(r->conn, 500, NULL, "the encryption key configuration is invalid");
    }
    return ring;
}

/* A secret could not be read back (key missing or rotated away): 500, no detail leaked. */
static int secret_failed(req_t *r, const char *err)
{
    log_error("secret unreadable error=\"%s\"", err);
    http_send_problem(r->conn, 500, NULL, "%s", err);
    return 500;
}

/*
 * The update_mask fields (repeated or comma-separated) into mask[]; each
 * must be in allowed. 0, or -1 with the problem detail in err.
 */
static int read_update_mask(req_t *r, const char *const *allowed, char mask[][32], size_t max,
                            size_t *n, char *err, size_t errlen)
{
    *n = 0;
    for (size_t i = 0; i < httpq_count(&r->q, "update_mask"); i++) {
        const char *p = httpq_get_nth(&r->q, "update_mask", i);
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            bool ok = false;
            while (len > 0 && *p == ' ') {
                p++;
                len--;
            }
            while (len > 0 && p[len - 1] == ' ')
                len--;
            for (size_t k = 0; allowed[k] && !ok; k++)
                ok = strlen(allowed[k]) == len && memcmp(allowed[k], p, len) == 0;
            if (!ok || *n >= max) {
                snprintf(err, errlen, "'%.*s' is unknown or cannot be updated.",
                         (int)(len > 64 ? 64 : len), p);
                return -1;
            }
            memcpy(mask[(*n)++], p, len);
            mask[*n - 1][len] = '\0';
            p = comma ? comma + 1 : p + strlen(p);
        }
    }
    return 0;
}

static bool mask_has(char mask[][32], size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(mask[i], field) == 0)
            return true;
    return false;
}

/* Replaces the values of sensitive keys (at any depth) with "***". */
static void redact_json(cJSON *node)
{
    for (cJSON *it = node ? node->child : NULL; it; it = it->next) {
        if (it->string && secrets_name_is_sensitive(it->string) && !cJSON_IsObject(it) &&
            !cJSON_IsArray(it)) {
            cJSON *masked = cJSON_CreateString("***");
            char *name = masked ? strdup(it->string) : NULL;
            if (!name) {
                /* cannot mask: drop the value rather than show it */
                cJSON_Delete(masked);
                cJSON_SetValuestring(it, "");
                continue;
            }
            masked->string = name; /* ReplaceItemViaPointer keeps no key */
            cJSON_ReplaceItemViaPointer(node, it, masked);
            it = masked;
        } else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
            redact_json(it);
        }
    }
}

static void variable_item_write(jsonw_t *w, const PGresult *res, int i, int base)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "key");
    jsonw_pg_str(w, res, i, base + 0);
    jsonw_key(w, "description");
    jsonw_pg_str(w, res, i, base + 1);
    jsonw_obj_end(w);
}

static const httpq_sort_t variable_sorts[] = {
    {"id", "v.id"},
    {"key", "v.key"},
};

static int get_variables(req_t *r)
{
    sqlb_t b = {0};
    char err[256], order[128];
    const char *sort_sql;
    bool desc;
    int64_t limit, offset;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0 ||
        httpq_order_by(httpq_get(&r->q, "order_by"), variable_sorts,
                       sizeof(variable_sorts) / sizeof(variable_sorts[0]), "id", &sort_sql, &desc,
                       err, sizeof(err)) < 0)
        return bad_request(r, err);
    snprintf(order, sizeof(order), "%s %s, v.id", sort_sql, desc ? "DESC" : "ASC");
    return send_collection(r, "variables", "v.key, v.description", "variable v", &b, order, limit,
                           offset, variable_item_write);
}

/* Sends {"key", "value", "description"} of the stored variable key. */
static int send_variable(req_t *r, const secrets_keyring_t *ring, const char *key)
{
    char *val = NULL, *desc = NULL, err[512];
    cJSON *out;
    int rc = variables_get(r->db, ring, key, &val, &desc, err, sizeof(err));

    if (rc < 0)
        return db_ok(r->db) && !strstr(err, "cannot read") ? secret_failed(r, err) : db_failed(r);
    if (rc == 0)
        return not_found(r, "Variable not found", "Variable does not exist");
    out = cJSON_CreateObject();
    if (out) {
        cJSON_AddStringToObject(out, "key", key);
        cJSON_AddStringToObject(out, "value", val);
        if (desc)
            cJSON_AddStringToObject(out, "description", desc);
        else
            cJSON_AddNullToObject(out, "description");
    }
    secrets_free_str(val);
    free(desc);
    return send_json(r, 200, out);
}

static int get_variable(req_t *r)
{
    secrets_keyring_t *ring = request_keyring(r);
    int status;

    if (!ring)
        return 500;
    status = send_variable(r, ring, r->cap[0]);
    secrets_keyring_free(ring);
    return status;
}

/* Stores key = value (description) after the checks that make a 400. */
static int store_variable(req_t *r, const secrets_keyring_t *ring, const char *key,
                          const char *value, const char *desc)
{
    char err[512];

    if (variables_validate_key(key, err, sizeof(err)) < 0)
        return bad_request(r, err);
    if (strlen(value) > VAR_MAX_VALUE)
        return bad_request(r, "{'value': ['Longer than the maximum length.']}");
    if (secrets_keyring_count(ring) == 0 && secrets_name_is_sensitive(key)) {
        snprintf(err, sizeof(err),
                 "variable '%s' has a sensitive name and no encryption key is configured "
                 "(core.fernet_key): it is not stored in clear",
                 key);
        return bad_request(r, err);
    }
    if (variables_set(r->db, ring, key, value, desc, err, sizeof(err)) < 0) {
        log_warn("variable store failed key=%s error=\"%s\"", key, err);
        return db_failed(r);
    }
    apicache_bump(r->api->cache);
    log_info("variable stored key=%s", key);
    return 0;
}

static int post_variable(req_t *r)
{
    static const char *const known[] = {"key", "value", "description", NULL};
    secrets_keyring_t *ring = NULL;
    const char *key, *value, *desc;
    char err[512];
    int status = 0;
    cJSON *body = http_read_json_object(r->conn, &status, err, sizeof(err));

    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, known, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (body_str(body, "key", &key) < 0 || !key) {
        status = bad_request(r, "{'key': ['Missing data for required field.']}");
        goto out;
    }
    if (body_str(body, "value", &value) < 0 || !value) {
        status = bad_request(r, "{'value': ['Missing data for required field.']}");
        goto out;
    }
    if (body_str(body, "description", &desc) < 0) {
        status = bad_request(r, "{'description': ['Not a valid string.']}");
        goto out;
    }
    ring = request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    status = store_variable(r, ring, key, value, desc);
    if (status == 0)
        status = send_variable(r, ring, key);
out:
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

static int patch_variable(req_t *r)
{
    static const char *const known[] = {"key", "value", "description", NULL};
    static const char *const updatable[] = {"value", "description", NULL};
    secrets_keyring_t *ring = NULL;
    const char *key, *value, *desc;
    char mask[4][32], err[512], *cur_val = NULL, *cur_desc = NULL;
    size_t nmask;
    int status = 0, rc;
    cJSON *body = NULL;

    if (read_update_mask(r, updatable, mask, 4, &nmask, err, sizeof(err)) < 0)
        return bad_request(r, err);
    body = http_read_json_object(r->conn, &status, err, sizeof(err));
    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, known, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (body_str(body, "key", &key) < 0 || !key) {
        status = bad_request(r, "{'key': ['Missing data for required field.']}");
        goto out;
    }
    if (body_str(body, "value", &value) < 0 || !value) {
        status = bad_request(r, "{'value': ['Missing data for required field.']}");
        goto out;
    }
    if (body_str(body, "description", &desc) < 0) {
        status = bad_request(r, "{'description': ['Not a valid string.']}");
        goto out;
    }
    if (strcmp(key, r->cap[0]) != 0) {
        http_send_problem(r->conn, 400, "Invalid post body",
                          "key from request body doesn't match uri parameter");
        status = 400;
        goto out;
    }
    ring = request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    rc = variables_get(r->db, ring, key, &cur_val, &cur_desc, err, sizeof(err));
    if (rc < 0) {
        status = db_ok(r->db) && !strstr(err, "cannot read") ? secret_failed(r, err)
                                                             : db_failed(r);
        goto out;
    }
    if (rc == 0) {
        status = not_found(r, "Variable not found", "Variable does not exist");
        goto out;
    }
    if (nmask > 0) {
        if (!mask_has(mask, nmask, "value"))
            value = cur_val;
        if (!mask_has(mask, nmask, "description"))
            desc = cur_desc;
    } else if (!cJSON_GetObjectItemCaseSensitive(body, "description")) {
        desc = cur_desc;
    }
    status = store_variable(r, ring, key, value, desc);
    if (status == 0)
        status = send_variable(r, ring, key);
out:
    secrets_free_str(cur_val);
    free(cur_desc);
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

static int delete_variable(req_t *r)
{
    char err[512];
    int rc = variables_delete(r->db, r->cap[0], err, sizeof(err));

    if (rc < 0)
        return db_failed(r);
    if (rc == 0)
        return not_found(r, "Variable not found", "Variable does not exist");
    apicache_bump(r->api->cache);
    log_info("variable deleted key=%s", r->cap[0]);
    http_send(r->conn, 204, "application/json", "", 0);
    return 204;
}

#define CONN_ITEM_COLS                                                                             \
    "c.conn_id, c.conn_type, c.description, " CONNECTION_DISPLAY_HOST_SQL ", c.login, c.schema, c.port"

static void connection_item_write(jsonw_t *w, const PGresult *res, int i, int base)
{
    static const char *const names[] = {"connection_id", "conn_type", "description", "host",
                                        "login",         "schema"};

    jsonw_obj_begin(w);
    for (int k = 0; k < 6; k++) {
        jsonw_key(w, names[k]);
        jsonw_pg_str(w, res, i, base + k);
    }
    jsonw_key(w, "port");
    jsonw_pg_int(w, res, i, base + 6);
    jsonw_obj_end(w);
}

static const httpq_sort_t connection_sorts[] = {
    {"id", "c.id"},
    {"connection_id", "c.conn_id"},
    {"conn_type", "c.conn_type"},
    {"description", "c.description"},
    {"host", "c.host"},
    {"port", "c.port"},
};

static int get_connections(req_t *r)
{
    sqlb_t b = {0};
    char err[256], order[128];
    const char *sort_sql;
    bool desc;
    int64_t limit, offset;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0 ||
        httpq_order_by(httpq_get(&r->q, "order_by"), connection_sorts,
                       sizeof(connection_sorts) / sizeof(connection_sorts[0]), "id", &sort_sql,
                       &desc, err, sizeof(err)) < 0)
        return bad_request(r, err);
    snprintf(order, sizeof(order), "%s %s, c.id", sort_sql, desc ? "DESC" : "ASC");
    return send_collection(r, "connections", CONN_ITEM_COLS, "connection c", &b, order, limit,
                           offset, connection_item_write);
}

static cJSON *json_str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* The Connection schema without its write-only password; extra redacted. */
static int send_connection(req_t *r, int status, const connection_t *c)
{
    cJSON *out = cJSON_CreateObject();

    if (out) {
        cJSON_AddItemToObject(out, "connection_id", json_str_or_null(c->conn_id));
        cJSON_AddItemToObject(out, "conn_type", json_str_or_null(c->conn_type));
        cJSON_AddItemToObject(out, "description", json_str_or_null(c->description));
        cJSON_AddItemToObject(out, "host", json_str_or_null(connection_display_host(c)));
        cJSON_AddItemToObject(out, "login", json_str_or_null(c->login));
        cJSON_AddItemToObject(out, "schema", json_str_or_null(c->schema));
        cJSON_AddItemToObject(out, "port",
                              c->port >= 0 ? cJSON_CreateNumber(c->port) : cJSON_CreateNull());
        if (c->extra) {
            cJSON *extra = cJSON_Parse(c->extra);
            char *text = NULL;
            if (cJSON_IsObject(extra) || cJSON_IsArray(extra)) {
                redact_json(extra);
                text = cJSON_PrintUnformatted(extra);
                cJSON_AddItemToObject(out, "extra", json_str_or_null(text ? text : "***"));
            } else {
                /* not JSON: it cannot be inspected, so none of it is shown */
                cJSON_AddStringToObject(out, "extra", "***");
            }
            if (text)
                secrets_free_str(text);
            cJSON_Delete(extra);
        } else {
            cJSON_AddNullToObject(out, "extra");
        }
    }
    return send_json(r, status, out);
}

/* Loads the stored connection for a handler: 1 found, 0 answered 404, <0 answered error. */
static int load_connection(req_t *r, const secrets_keyring_t *ring, const char *id,
                           connection_t **out, int *status)
{
    char err[512];
    int rc = connections_get(r->db, ring, id, out, err, sizeof(err));

    if (rc < 0) {
        *status = db_ok(r->db) && !strstr(err, "cannot read") ? secret_failed(r, err)
                                                              : db_failed(r);
        return -1;
    }
    if (rc == 0) {
        *status = not_found(r, "Connection not found",
                            "The Connection with connection_id: `%s` was not found", id);
        return 0;
    }
    return 1;
}

static int get_connection(req_t *r)
{
    secrets_keyring_t *ring = request_keyring(r);
    connection_t *c = NULL;
    int status = 0;

    if (!ring)
        return 500;
    if (load_connection(r, ring, r->cap[0], &c, &status) == 1)
        status = send_connection(r, 200, c);
    connection_free(c);
    secrets_keyring_free(ring);
    return status;
}

/*
 * Applies the members of an API body (Airflow's Connection schema) to c;
 * only = NULL applies every member present, else only the masked ones
 * (absent masked members become null). 0, or -1 with the detail in err.
 */
static int apply_connection_body(const cJSON *body, connection_t *c, char mask[][32],
                                 size_t nmask, char *err, size_t errlen)
{
    static const char *const fields[] = {"conn_type", "description", "host", "login",
                                         "schema",    "password",    "extra", NULL};
    char **slots[] = {&c->conn_type, &c->description, &c->host, &c->login,
                      &c->schema,    &c->password,    &c->extra};
    const cJSON *port;

    for (size_t i = 0; fields[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, fields[i]);
        char *copy = NULL;
        if (nmask ? !mask_has(mask, nmask, fields[i]) : !v)
            continue;
        if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
            snprintf(err, errlen, "{'%s': ['Not a valid string.']}", fields[i]);
            return -1;
        }
        if (v && cJSON_IsString(v) && !(copy = strdup(v->valuestring))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (*slots[i] && (slots[i] == &c->password || slots[i] == &c->extra))
            secrets_free_str(*slots[i]);
        else
            free(*slots[i]);
        *slots[i] = copy;
    }
    if (c->extra && !c->extra[0]) {
        free(c->extra);
        c->extra = NULL;
    }
    port = cJSON_GetObjectItemCaseSensitive(body, "port");
    if (nmask ? mask_has(mask, nmask, "port") : port != NULL) {
        if (!port || cJSON_IsNull(port)) {
            c->port = -1;
        } else if (cJSON_IsNumber(port) && port->valuedouble >= 0 && port->valuedouble <= 65535 &&
                   port->valuedouble == (double)(int)port->valuedouble) {
            c->port = (int)port->valuedouble;
        } else {
            snprintf(err, errlen, "{'port': ['Not a valid integer.']}");
            return -1;
        }
    }
    return 0;
}

static const char *const conn_known[] = {"connection_id", "conn_type", "description", "host",
                                         "login",         "schema",    "port",        "password",
                                         "extra",         NULL};

/* Checks and stores c (insert when create, else update); sends nothing on success. */
static int store_connection(req_t *r, const secrets_keyring_t *ring, const connection_t *c,
                            bool create)
{
    char err[512];
    int rc;

    if (connection_validate(c, err, sizeof(err)) < 0)
        return bad_request(r, err);
    if (secrets_keyring_count(ring) == 0 && (c->password || c->extra)) {
        snprintf(err, sizeof(err),
                 "connection '%s' has a password or extra and no encryption key is configured "
                 "(core.fernet_key): they are not stored in clear",
                 c->conn_id);
        return bad_request(r, err);
    }
    rc = create ? connections_put(r->db, ring, c, false, err, sizeof(err))
                : connections_update(r->db, ring, c, err, sizeof(err));
    if (rc < 0) {
        log_warn("connection store failed conn_id=%s error=\"%s\"", c->conn_id, err);
        return db_failed(r);
    }
    if (rc == 1) {
        if (create) {
            http_send_problem(r->conn, 409, "Connection already exists",
                              "Connection already exist. ID: %s", c->conn_id);
            return 409;
        }
        return not_found(r, "Connection not found",
                         "The Connection with connection_id: `%s` was not found", c->conn_id);
    }
    apicache_bump(r->api->cache);
    log_info("connection stored conn_id=%s", c->conn_id);
    return 0;
}

static int post_connection(req_t *r)
{
    secrets_keyring_t *ring = NULL;
    connection_t *c = NULL;
    const char *id, *type;
    char err[512];
    int status = 0;
    cJSON *body = http_read_json_object(r->conn, &status, err, sizeof(err));

    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, conn_known, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (body_str(body, "connection_id", &id) < 0 || !id) {
        status = bad_request(r, "{'connection_id': ['Missing data for required field.']}");
        goto out;
    }
    if (body_str(body, "conn_type", &type) < 0 || !type) {
        status = bad_request(r, "{'conn_type': ['Missing data for required field.']}");
        goto out;
    }
    c = connection_new();
    if (!c || !(c->conn_id = strdup(id))) {
        status = send_json(r, 500, NULL);
        goto out;
    }
    if (apply_connection_body(body, c, NULL, 0, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    ring = request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    status = store_connection(r, ring, c, true);
    if (status == 0)
        status = send_connection(r, 200, c);
out:
    connection_free(c);
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

static int patch_connection(req_t *r)
{
    static const char *const updatable[] = {"conn_type", "description", "host",  "login",
                                            "schema",    "port",        "password", "extra",
                                            NULL};
    secrets_keyring_t *ring = NULL;
    connection_t *c = NULL;
    const char *id, *type;
    char mask[10][32], err[512];
    size_t nmask;
    int status = 0;
    cJSON *body = NULL;

    if (read_update_mask(r, updatable, mask, 10, &nmask, err, sizeof(err)) < 0)
        return bad_request(r, err);
    body = http_read_json_object(r->conn, &status, err, sizeof(err));
    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (body_check_known(body, conn_known, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (body_str(body, "connection_id", &id) < 0 || !id) {
        status = bad_request(r, "{'connection_id': ['Missing data for required field.']}");
        goto out;
    }
    if (body_str(body, "conn_type", &type) < 0 || !type) {
        status = bad_request(r, "{'conn_type': ['Missing data for required field.']}");
        goto out;
    }
    if (strcmp(id, r->cap[0]) != 0) {
        status = bad_request(r, "The connection_id cannot be updated.");
        goto out;
    }
    ring = request_keyring(r);
    if (!ring) {
        status = 500;
        goto out;
    }
    if (load_connection(r, ring, r->cap[0], &c, &status) != 1)
        goto out;
    if (apply_connection_body(body, c, mask, nmask, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    status = store_connection(r, ring, c, false);
    if (status == 0)
        status = send_connection(r, 200, c);
out:
    connection_free(c);
    secrets_keyring_free(ring);
    cJSON_Delete(body);
    return status;
}

static int delete_connection(req_t *r)
{
    char err[512];
    int rc = connections_delete(r->db, r->cap[0], err, sizeof(err));

    if (rc < 0)
        return db_failed(r);
    if (rc == 0)
        return not_found(r, "Connection not found",
                         "The Connection with connection_id: `%s` was not found", r->cap[0]);
    apicache_bump(r->api->cache);
    log_info("connection deleted conn_id=%s", r->cap[0]);
    http_send(r->conn, 204, "application/json", "", 0);
    return 204;
}

/* ---- dispatch ------------------------------------------------------------ */

/* ---- pools --------------------------------------------------------------- */

/*
 * Airflow's pool endpoints over store/pools.h. A pool cannot be renamed
 * here (a body "name" must match the path), and default_pool cannot be
 * deleted (400, as Airflow).
 */

static int pool_not_found(req_t *r, const char *name)
{
    return not_found(r, "Pool not found", "Pool with name:'%.256s' not found", name);
}

static int get_pools(req_t *r)
{
    char err[256];
    int64_t limit, offset;
    long total;
    cJSON *items = NULL, *out;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0)
        return bad_request(r, err);
    if (pools_list(r->db, (long)limit, (long)offset, &items, &total) < 0)
        return db_failed(r);
    out = cJSON_CreateObject();
    if (!out || !cJSON_AddItemToObject(out, "pools", items)) {
        cJSON_Delete(items);
        cJSON_Delete(out);
        return send_json(r, 500, NULL);
    }
    cJSON_AddNumberToObject(out, "total_entries", (double)total);
    return send_json(r, 200, out);
}

static int send_pool(req_t *r, int status, const char *name)
{
    cJSON *out = NULL;
    int rc = pools_get(r->db, name, &out);

    if (rc < 0)
        return db_failed(r);
    if (rc == 1)
        return pool_not_found(r, name);
    return send_json(r, status, out);
}

static int get_pool(req_t *r)
{
    return send_pool(r, 200, r->cap[0]);
}

/* slots: an integer of -1 or more; 0 when absent (*present false), -1 with err. */
static int body_slots(const cJSON *body, bool *present, int *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "slots");

    *present = v != NULL;
    *out = 0;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < -1 || v->valuedouble > INT_MAX) {
        snprintf(err, errlen, "{'slots': ['Not a valid integer of -1 or more.']}");
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

/*
 * Reads a pool body: name (required unless in the path), slots,
 * description, include_deferred. -1 with the problem detail in err.
 */
static int pool_body(const cJSON *body, const char **name, bool *has_slots, int *slots,
                     const char **desc, int *deferred, char *err, size_t errlen)
{
    static const char *const known[] = {"name",          "slots",          "description",
                                        "include_deferred", "occupied_slots", "running_slots",
                                        "queued_slots",  "scheduled_slots", "deferred_slots",
                                        "open_slots",    NULL};
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "include_deferred");

    if (body_check_known(body, known, err, errlen) < 0)
        return -1;
    if (body_str(body, "name", name) < 0) {
        snprintf(err, errlen, "{'name': ['Not a valid string.']}");
        return -1;
    }
    if (body_slots(body, has_slots, slots, err, errlen) < 0)
        return -1;
    if (body_str(body, "description", desc) < 0) {
        snprintf(err, errlen, "{'description': ['Not a valid string.']}");
        return -1;
    }
    *deferred = -1;
    if (d && !cJSON_IsBool(d)) {
        snprintf(err, errlen, "{'include_deferred': ['Not a valid boolean.']}");
        return -1;
    }
    if (d)
        *deferred = cJSON_IsTrue(d) ? 1 : 0;
    return 0;
}

static int post_pool(req_t *r)
{
    const char *name, *desc;
    bool has_slots;
    int slots, deferred, status = 0, rc;
    char err[512];
    cJSON *body = http_read_json_object(r->conn, &status, err, sizeof(err));

    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (pool_body(body, &name, &has_slots, &slots, &desc, &deferred, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (!name) {
        status = bad_request(r, "{'name': ['Missing data for required field.']}");
        goto out;
    }
    if (!has_slots) {
        status = bad_request(r, "{'slots': ['Missing data for required field.']}");
        goto out;
    }
    if (!pools_name_valid(name)) {
        status = bad_request(r, "{'name': ['Use 1-256 printable characters.']}");
        goto out;
    }
    rc = pools_set(r->db, name, slots, desc, deferred < 0 ? 0 : deferred, true, err, sizeof(err));
    if (rc < 0) {
        status = db_failed(r);
        goto out;
    }
    if (rc == 1) {
        http_send_problem(r->conn, 409, "Pool already exists", "Pool: %.256s already exists",
                          name);
        status = 409;
        goto out;
    }
    apicache_bump(r->api->cache);
    log_info("pool created pool=%s slots=%d", name, slots);
    status = send_pool(r, 200, name);
out:
    cJSON_Delete(body);
    return status;
}

static int patch_pool(req_t *r)
{
    static const char *const updatable[] = {"name", "slots", "description", "include_deferred",
                                            NULL};
    const char *name, *desc, *pool = r->cap[0];
    bool has_slots;
    int slots, deferred, status = 0, rc;
    char mask[4][32], err[512];
    size_t nmask;
    cJSON *body = NULL, *cur = NULL;

    if (read_update_mask(r, updatable, mask, 4, &nmask, err, sizeof(err)) < 0)
        return bad_request(r, err);
    body = http_read_json_object(r->conn, &status, err, sizeof(err));
    if (!body) {
        http_send_problem(r->conn, status, NULL, "%s", err);
        return status;
    }
    if (pool_body(body, &name, &has_slots, &slots, &desc, &deferred, err, sizeof(err)) < 0) {
        status = bad_request(r, err);
        goto out;
    }
    if (nmask == 0 && (!name || !has_slots)) {
        status = bad_request(r, !name ? "{'name': ['Missing data for required field.']}"
                                      : "{'slots': ['Missing data for required field.']}");
        goto out;
    }
    if (name && strcmp(name, pool) != 0 && (nmask == 0 || mask_has(mask, nmask, "name"))) {
        status = bad_request(r, strcmp(pool, POOLS_DEFAULT) == 0
                                    ? "Default Pool's name can't be modified"
                                    : "a pool cannot be renamed: create a new one");
        goto out;
    }
    rc = pools_get(r->db, pool, &cur);
    if (rc < 0) {
        status = db_failed(r);
        goto out;
    }
    if (rc == 1) {
        status = pool_not_found(r, pool);
        goto out;
    }
    if (nmask > 0) {
        if (!mask_has(mask, nmask, "slots") || !has_slots)
            slots = cJSON_GetObjectItemCaseSensitive(cur, "slots")->valueint;
        if (!mask_has(mask, nmask, "description"))
            desc = NULL;
        if (!mask_has(mask, nmask, "include_deferred"))
            deferred = -1;
    }
    rc = pools_set(r->db, pool, slots, desc, deferred, false, err, sizeof(err));
    if (rc < 0) {
        status = db_ok(r->db) ? bad_request(r, err) : db_failed(r);
        goto out;
    }
    apicache_bump(r->api->cache);
    log_info("pool updated pool=%s slots=%d", pool, slots);
    status = send_pool(r, 200, pool);
out:
    cJSON_Delete(cur);
    cJSON_Delete(body);
    return status;
}

static int delete_pool(req_t *r)
{
    int rc = pools_delete(r->db, r->cap[0]);

    if (rc < 0)
        return db_failed(r);
    if (rc == 1)
        return pool_not_found(r, r->cap[0]);
    if (rc == 2)
        return bad_request(r, "Default Pool can't be deleted");
    apicache_bump(r->api->cache);
    log_info("pool deleted pool=%s", r->cap[0]);
    http_send(r->conn, 204, "application/json", "", 0);
    return 204;
}

static const char *const p_none[] = {NULL};
static const char *const p_dags[] = {"limit", "offset", "order_by", "tags", "only_active",
                                     "paused", "dag_id_pattern", NULL};
static const char *const p_patch_dag[] = {"update_mask", NULL};
static const char *const p_runs[] = {"limit", "offset", "order_by", "execution_date_gte",
                                     "execution_date_lte", "start_date_gte", "start_date_lte",
                                     "end_date_gte", "end_date_lte", "state", NULL};
static const char *const p_tis[] = {"limit", "offset", "execution_date_gte",
                                    "execution_date_lte", "start_date_gte", "start_date_lte",
                                    "end_date_gte", "end_date_lte", "updated_at_gte",
                                    "updated_at_lte", "duration_gte", "duration_lte", "state",
                                    "pool", "queue", "executor", NULL};
static const char *const p_log[] = {"full_content", "map_index", "token", NULL};
/* ---- XCom entries ------------------------------------------------------- */

#define XCOM_COLS                                                                                  \
    "x.key, " TS("x.timestamp") ", " TS("dr.logical_date") ", x.task_id, x.dag_id, x.map_index, "  \
    "x.value::text, jsonb_typeof(x.value), x.value #>> '{}'"
#define XCOM_FROM "xcom x JOIN dag_run dr ON dr.id = x.dag_run_id"

static void xcom_item_write(jsonw_t *w, const PGresult *res, int i, int base)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "key");
    jsonw_pg_str(w, res, i, base + 0);
    jsonw_key(w, "timestamp");
    jsonw_pg_ts(w, res, i, base + 1);
    jsonw_key(w, "execution_date");
    jsonw_pg_ts(w, res, i, base + 2);
    jsonw_key(w, "task_id");
    jsonw_pg_str(w, res, i, base + 3);
    jsonw_key(w, "dag_id");
    jsonw_pg_str(w, res, i, base + 4);
    jsonw_key(w, "map_index");
    jsonw_pg_int(w, res, i, base + 5);
    jsonw_obj_end(w);
}

/*
 * GET .../taskInstances/{task_id}/xcomEntries (GetXcomEntries): map_index
 * and xcom_key filter; limit/offset page.
 */
static int get_xcom_entries(req_t *r)
{
    sqlb_t b = {0};
    char err[256];
    int64_t limit, offset, map_index;

    if (httpq_get_page(&r->q, PAGE_DEFAULT, PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0 ||
        httpq_get_i64(&r->q, "map_index", INT64_MIN, -1, INT32_MAX, &map_index, err,
                      sizeof(err)) < 0)
        return bad_request(r, err);
    sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    sqlb_add(&b, " AND x.task_id = $%d", sqlb_param(&b, r->cap[2]));
    if (map_index != INT64_MIN)
        sqlb_add(&b, " AND x.map_index = $%d::integer", sqlb_param_i64(&b, map_index));
    if (httpq_get(&r->q, "xcom_key"))
        sqlb_add(&b, " AND x.key = $%d", sqlb_param(&b, httpq_get(&r->q, "xcom_key")));
    return send_collection(r, "xcom_entries", XCOM_COLS, XCOM_FROM, &b, "x.map_index, x.key",
                           limit, offset, xcom_item_write);
}

/*
 * GET .../xcomEntries/{key} (GetXcomEntry). value is a string, as in
 * Airflow: a pushed string as its text, any other JSON value as its JSON
 * text; deserialize=true with stringify=false gives the JSON value itself.
 */
static int get_xcom_entry(req_t *r)
{
    char err[256];
    int64_t map_index;
    bool deserialize = false, stringify = true;

    if (httpq_get_i64(&r->q, "map_index", -1, -1, INT32_MAX, &map_index, err, sizeof(err)) < 0 ||
        httpq_get_bool(&r->q, "deserialize", &deserialize, err, sizeof(err)) < 0 ||
        httpq_get_bool(&r->q, "stringify", &stringify, err, sizeof(err)) < 0)
        return bad_request(r, err);
    char mi[24];
    snprintf(mi, sizeof(mi), "%lld", (long long)map_index);
    const char *params[] = {r->cap[0], r->cap[1], r->cap[2], r->cap[3], mi};
    PGresult *res = db_query(r->db, "api_get_xcom",
                             "SELECT " XCOM_COLS " FROM " XCOM_FROM
                             " WHERE dr.dag_id = $1 AND dr.run_id = $2 AND x.task_id = $3"
                             "   AND x.key = $4 AND x.map_index = $5::integer",
                             5, params);
    if (!res)
        return db_failed(r);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return not_found(r, "XCom entry not found",
                         "XCom entry with key: `%s` not found for task '%s' of DAG run '%s'",
                         r->cap[3], r->cap[2], r->cap[1]);
    }
    jsonw_t w;
    jsonw_init(&w, 1024);
    /* The fields of xcom_item_write, then value. */
    jsonw_obj_begin(&w);
    static const char *const names[] = {"key", "timestamp", "execution_date", "task_id", "dag_id",
                                        "map_index"};
    for (int c = 0; c < 6; c++) {
        jsonw_key(&w, names[c]);
        if (c == 1 || c == 2)
            jsonw_pg_ts(&w, res, 0, c);
        else if (c == 5)
            jsonw_pg_int(&w, res, 0, c);
        else
            jsonw_pg_str(&w, res, 0, c);
    }
    jsonw_key(&w, "value");
    const char *type = db_get_str(res, 0, 7);
    if (deserialize && !stringify)
        jsonw_pg_json(&w, res, 0, 6);
    else if (type && strcmp(type, "string") == 0)
        jsonw_pg_str(&w, res, 0, 8);
    else
        jsonw_pg_str(&w, res, 0, 6);
    jsonw_obj_end(&w);
    PQclear(res);
    int status = send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}

static const char *const p_xcoms[] = {"limit", "offset", "map_index", "xcom_key", NULL};
static const char *const p_mapped[] = {"limit", "offset", "state", "order_by", NULL};
static const char *const p_xcom[] = {"map_index", "deserialize", "stringify", NULL};

static const char *const p_page[] = {"limit", "offset", "order_by", NULL};
static const char *const p_pools[] = {"limit", "offset", NULL};

#define V1 "/api/v1"
#define RUN V1 "/dags/{}/dagRuns/{}"

static const route_t routes[] = {
    {"GET", "/health", get_health, p_none, ROUTE_PUBLIC | ROUTE_DB_OPTIONAL},
    {"GET", V1 "/health", get_health, p_none, ROUTE_PUBLIC | ROUTE_DB_OPTIONAL},
    {"GET", V1 "/dags", get_dags, p_dags, ROUTE_CACHED},
    {"GET", V1 "/dags/{}", get_dag, p_none, ROUTE_CACHED},
    {"PATCH", V1 "/dags/{}", patch_dag, p_patch_dag, 0},
    {"GET", V1 "/dags/{}/dagRuns", get_dag_runs, p_runs, 0},
    {"POST", V1 "/dags/{}/dagRuns", post_dag_run, p_none, 0},
    {"POST", V1 "/dags/{}/clearTaskInstances", post_clear_task_instances, p_none, 0},
    {"GET", RUN, get_dag_run, p_none, 0},
    {"PATCH", RUN, patch_dag_run, p_none, 0},
    {"GET", RUN "/taskInstances", get_task_instances, p_tis, 0},
    {"GET", RUN "/taskInstances/{}", get_task_instance, p_none, 0},
    {"PATCH", RUN "/taskInstances/{}", patch_task_instance, p_none, 0},
    {"GET", RUN "/taskInstances/{}/logs/{}", get_log, p_log, 0},
    {"GET", RUN "/taskInstances/{}/xcomEntries", get_xcom_entries, p_xcoms, 0},
    {"GET", RUN "/taskInstances/{}/xcomEntries/{}", get_xcom_entry, p_xcom, 0},
    {"GET", RUN "/taskInstances/{}/listMapped", get_mapped_task_instances, p_mapped, 0},
    {"GET", RUN "/taskInstances/{}/{}", get_mapped_task_instance, p_none, 0},
    {"GET", V1 "/importErrors", get_import_errors, p_page, ROUTE_CACHED},
    {"GET", V1 "/importErrors/{}", get_import_error, p_none, ROUTE_CACHED},
    {"GET", V1 "/variables", get_variables, p_page, 0},
    {"POST", V1 "/variables", post_variable, p_none, 0},
    {"GET", V1 "/variables/{}", get_variable, p_none, 0},
    {"PATCH", V1 "/variables/{}", patch_variable, p_patch_dag, 0},
    {"DELETE", V1 "/variables/{}", delete_variable, p_none, 0},
    {"GET", V1 "/connections", get_connections, p_page, 0},
    {"POST", V1 "/connections", post_connection, p_none, 0},
    {"GET", V1 "/connections/{}", get_connection, p_none, 0},
    {"PATCH", V1 "/connections/{}", patch_connection, p_patch_dag, 0},
    {"DELETE", V1 "/connections/{}", delete_connection, p_none, 0},
    {"GET", V1 "/pools", get_pools, p_pools, 0},
    {"POST", V1 "/pools", post_pool, p_none, 0},
    {"GET", V1 "/pools/{}", get_pool, p_none, 0},
    {"PATCH", V1 "/pools/{}", patch_pool, p_patch_dag, 0},
    {"DELETE", V1 "/pools/{}", delete_pool, p_none, 0},
};

/* ---- response cache key ------------------------------------------------- */

#define KEY_MAX (HTTPQ_MAX_QUERY + HTTPQ_MAX_PATH + 1024)

typedef struct keyb {
    char *buf;
    size_t len, cap;
    bool bad;
} keyb_t;

/* Appends one length-prefixed field, so that no two requests share a key. */
static void key_add(keyb_t *k, const char *s)
{
    size_t n = strlen(s);
    uint32_t n32 = (uint32_t)n;

    if (k->bad || n > KEY_MAX || k->len + n + sizeof(n32) > k->cap) {
        k->bad = true;
        return;
    }
    memcpy(k->buf + k->len, &n32, sizeof(n32));
    memcpy(k->buf + k->len + sizeof(n32), s, n);
    k->len += sizeof(n32) + n;
}

/*
 * The cache key: method, decoded path segments, then the query pairs
 * ordered by key (stable, so a repeated key keeps its values' order, which
 * matters when only the first counts), then the caller's identity.
 * Returns false when the request is too big to key (then it is not cached).
 */
static bool build_key(keyb_t *k, const char *method, const httpq_path_t *path, const httpq_t *q)
{
    const httpq_param_t *sorted[HTTPQ_MAX_PARAMS];
    size_t n = q->n < HTTPQ_MAX_PARAMS ? q->n : HTTPQ_MAX_PARAMS;

    if (q->n > HTTPQ_MAX_PARAMS)
        return false;
    key_add(k, method);
    for (size_t i = 0; i < path->n; i++)
        key_add(k, path->seg[i]);
    key_add(k, "?");
    for (size_t i = 0; i < n; i++) {
        const httpq_param_t *p = &q->items[i];
        size_t j = i;
        while (j > 0 && strcmp(sorted[j - 1]->key, p->key) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = p;
    }
    for (size_t i = 0; i < n; i++) {
        key_add(k, sorted[i]->key);
        key_add(k, sorted[i]->value);
    }
    /* Who asks: once login exists, the caller's role (or the set of DAGs
     * it may read) goes here, so that one user's answer is never served
     * to another. Every caller is anonymous today. */
    key_add(k, "");
    return !k->bad;
}

/* Runs a matched route: query parsing, cache, database, handler. */
static int run_route(const api_t *api, struct mg_connection *conn, const route_t *rt,
                     const httpq_path_t *path)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    req_t r = {.conn = conn, .api = api};
    char keybuf[KEY_MAX];
    keyb_t key = {.buf = keybuf, .cap = sizeof(keybuf)};
    char err[256];
    int status;

    httpq_path_match(path, rt->pattern, r.cap, 4, &r.ncap);
    if (httpq_parse(&r.q, ri->query_string, err, sizeof(err)) < 0 ||
        httpq_check_allowed(&r.q, rt->params, err, sizeof(err)) < 0) {
        http_send_problem(conn, 400, NULL, "%s", err);
        status = 400;
        goto out;
    }
    if ((rt->flags & ROUTE_CACHED) && apicache_begin(api->cache, &r.gen)) {
        if (build_key(&key, ri->request_method, path, &r.q)) {
            apicache_entry_t *e = apicache_get(api->cache, key.buf, key.len, r.gen);
            if (e) {
                size_t len;
                const char *body = apicache_entry_body(e, &len);
                http_send(conn, 200, "application/json", body, len);
                apicache_release(api->cache, e);
                status = 200;
                goto out;
            }
            r.cacheable = true;
            r.key = key.buf;
            r.klen = key.len;
        }
    }
    r.db = dbpool_acquire(api->pool, api->db_wait_ms, err, sizeof(err));
    if (!r.db && !(rt->flags & ROUTE_DB_OPTIONAL)) {
        log_warn("no database connection for request error=\"%s\"", err);
        http_send_problem(conn, 503, NULL, "the metadata database is unavailable");
        status = 503;
        goto out;
    }
    status = rt->fn(&r);
out:
    dbpool_release(api->pool, r.db);
    httpq_free(&r.q);
    return status;
}

int api_handle_request(struct mg_connection *conn, void *cbdata)
{
    const api_t *api = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *uri = ri->local_uri_raw ? ri->local_uri_raw : ri->local_uri;
    httpq_path_t path;
    const route_t *match = NULL;
    bool path_known = false;
    char err[256];
    int64_t t0 = ts_mono_us();
    int status;

    if (!uri || httpq_path_split(uri, true, &path, err, sizeof(err)) < 0) {
        http_send_problem(conn, 400, NULL, "%s", uri ? err : "missing request path");
        return 400;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!httpq_path_match(&path, routes[i].pattern, NULL, 0, NULL))
            continue;
        path_known = true;
        if (strcmp(routes[i].method, ri->request_method) == 0) {
            match = &routes[i];
            break;
        }
    }
    if (match) {
        status = run_route(api, conn, match, &path);
    } else if (path_known) {
        http_send_problem(conn, 405, NULL, "The method is not allowed for the requested URL.");
        status = 405;
    } else {
        http_send_problem(conn, 404, NULL,
                          "The requested URL was not found on the server. If you entered the "
                          "URL manually please check your spelling and try again.");
        status = 404;
    }
    httpq_path_free(&path);
    if (status >= 500)
        log_warn("request failed method=%s status=%d", ri->request_method, status);
    log_debug("request method=%s status=%d us=%lld", ri->request_method, status,
              (long long)(ts_mono_us() - t0));
    return status;
}
