/*
 * apiquery.c - the REST API's query builder (see api_int.h): paging and
 * ordering parameters, filters appended to a WHERE clause, and the
 * statements generated from a resource's column-descriptor table.
 *
 * Filters are appended as constant text with numbered parameters ($n);
 * client text only ever travels as a parameter value, and order_by
 * resolves to a constant column expression through httpq_order_by.
 *
 * A collection runs one prepared statement (named by a hash of its SQL):
 * the page, with total_entries as a scalar subquery over the same WHERE
 * clause. The same SQL text always gets the same name (db_query requires
 * that), and distinct shapes (filters present, order) their own plans.
 * Answers are written straight into one buffer (jsonw.h), not built as
 * cJSON trees.
 */
#include "webserver/api_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/strbuf.h"

/* ---- WHERE clauses -------------------------------------------------------- */

void sqlb_add(sqlb_t *b, const char *fmt, ...)
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

int sqlb_param(sqlb_t *b, const char *v)
{
    if (b->n >= SQLB_MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    b->params[b->n] = v;
    return ++b->n;
}

int sqlb_param_i64(sqlb_t *b, int64_t v)
{
    if (b->n >= SQLB_MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    snprintf(b->num[b->n], sizeof(b->num[b->n]), "%" PRId64, v);
    return sqlb_param(b, b->num[b->n]);
}

int sqlb_param_num(sqlb_t *b, double v)
{
    if (b->n >= SQLB_MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    snprintf(b->num[b->n], sizeof(b->num[b->n]), "%.17g", v);
    return sqlb_param(b, b->num[b->n]);
}

int sqlb_param_ts(sqlb_t *b, ts_us_t t)
{
    if (b->n >= SQLB_MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    ts_format_iso(t, b->num[b->n]);
    return sqlb_param(b, b->num[b->n]);
}

int sqlb_param_own(sqlb_t *b, char *v)
{
    if (!v || b->nheap >= SQLB_MAX_PARAMS) {
        cJSON_free(v);
        b->overflow = true;
        return 1;
    }
    b->heap[b->nheap++] = v;
    return sqlb_param(b, v);
}

void sqlb_free(sqlb_t *b)
{
    for (int i = 0; i < b->nheap; i++)
        cJSON_free(b->heap[i]);
    b->nheap = 0;
}

/* ---- filters -------------------------------------------------------------- */

/*
 * A timestamp query parameter, read as Airflow's format_datetime does: a
 * space stands for '+' (an unencoded offset) unless the value ends in Z.
 */
static int query_ts(api_req_t *r, const char *key, bool *present, ts_us_t *out, char *err,
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

int api_filter_ts_range(api_req_t *r, sqlb_t *b, const char *key, const char *col, char *err,
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

void api_filter_values(api_req_t *r, sqlb_t *b, const char *key, const char *expr)
{
    size_t n = httpq_count(&r->q, key);
    cJSON *arr;

    if (n == 0)
        return;
    arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(httpq_get_nth(&r->q, key, i)));
    sqlb_add(b, " AND %s (SELECT jsonb_array_elements_text($%d::jsonb))", expr,
             sqlb_param_own(b, arr ? cJSON_PrintUnformatted(arr) : NULL));
    cJSON_Delete(arr);
}

void api_filter_list(api_req_t *r, sqlb_t *b, const char *key, const char *col)
{
    char expr[128];

    snprintf(expr, sizeof(expr), "%s IN", col);
    api_filter_values(r, b, key, expr);
}

/* ---- paging and ordering -------------------------------------------------- */

/* p->order from an order_by value (NULL: the default); 0, or -1 with err. */
static int read_order(const api_sorting_t *s, const char *value, api_page_t *p, char *err,
                      size_t errlen)
{
    const char *sort_sql;
    bool desc;

    p->order[0] = '\0';
    if (!s)
        return 0;
    if (httpq_order_by(value, s->sorts, s->n, s->def_field, &sort_sql, &desc, err, errlen) < 0)
        return -1;
    snprintf(p->order, sizeof(p->order), "%s %s%s, %s", sort_sql, desc ? "DESC" : "ASC",
             s->nulls_last ? " NULLS LAST" : "", s->tiebreak);
    return 0;
}

int api_read_page(api_req_t *r, const api_sorting_t *s, api_page_t *p)
{
    char err[256];

    p->order[0] = '\0';
    if (httpq_get_page(&r->q, API_PAGE_DEFAULT, API_PAGE_MAX, &p->limit, &p->offset, err,
                       sizeof(err)) < 0 ||
        read_order(s, httpq_get(&r->q, "order_by"), p, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    return 0;
}

/* An integer member (absent: dflt) of at least min; 0, or -1 with err. */
static int body_int(const cJSON *body, const char *key, int64_t dflt, int64_t min, int64_t *out,
                    char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

    *out = dflt;
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
        v->valuedouble > 9e15 || v->valuedouble < -9e15) {
        snprintf(err, errlen, "{'%s': ['Not a valid integer.']}", key);
        return -1;
    }
    *out = (int64_t)v->valuedouble;
    if (*out < min) {
        snprintf(err, errlen, "{'%s': ['Must be greater than or equal to %lld.']}", key,
                 (long long)min);
        return -1;
    }
    return 0;
}

int api_read_body_page(api_req_t *r, const cJSON *body, const api_sorting_t *s, api_page_t *p)
{
    char err[256];
    const char *order = NULL;

    p->order[0] = '\0';
    if (body_int(body, "page_limit", API_PAGE_DEFAULT, 1, &p->limit, err, sizeof(err)) < 0 ||
        body_int(body, "page_offset", 0, 0, &p->offset, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if (p->limit > API_PAGE_MAX)
        p->limit = API_PAGE_MAX;
    if (s && api_body_str(body, "order_by", &order) < 0)
        return api_bad_request(r, "{'order_by': ['Not a valid string.']}");
    if (read_order(s, order, p, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    return 0;
}

int api_filter_body_list(sqlb_t *b, const cJSON *body, const char *key, const char *expr,
                         const char *null_as, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key), *it;
    cJSON *arr;
    int i = 0;

    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v)) {
        snprintf(err, errlen, "{'%s': ['Not a valid list.']}", key);
        return -1;
    }
    if (!v->child)
        return 0; /* an empty list filters nothing, as Airflow */
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) && !(null_as && cJSON_IsNull(it))) {
            snprintf(err, errlen, "{'%s': {%d: ['Not a valid string.']}}", key, i);
            return -1;
        }
        i++;
    }
    arr = cJSON_CreateArray();
    cJSON_ArrayForEach(it, v)
    {
        if (arr)
            cJSON_AddItemToArray(
                arr, cJSON_CreateString(cJSON_IsString(it) ? it->valuestring : null_as));
    }
    sqlb_add(b, " AND %s IN (SELECT jsonb_array_elements_text($%d::jsonb))", expr,
             sqlb_param_own(b, arr ? cJSON_PrintUnformatted(arr) : NULL));
    cJSON_Delete(arr);
    return 0;
}

int api_filter_body_ts_range(sqlb_t *b, const cJSON *body, const char *key, const char *col,
                             char *err, size_t errlen)
{
    static const char *const ops[2] = {">=", "<="};
    static const char *const sfx[2] = {"_gte", "_lte"};

    for (int i = 0; i < 2; i++) {
        char name[64];
        ts_us_t t;

        snprintf(name, sizeof(name), "%s%s", key, sfx[i]);
        if (api_body_aware_ts(body, name, &t, err, errlen) < 0)
            return -1;
        if (t != TS_NONE)
            sqlb_add(b, " AND %s %s $%d::timestamptz", col, ops[i], sqlb_param_ts(b, t));
    }
    return 0;
}

/* ---- column descriptors --------------------------------------------------- */

/*
 * The SELECT list of rs into sql, and where each field's value lands: a
 * field whose expression an earlier field selected reuses that column.
 * -1 when the table is too long (a programming error, answered 500).
 */
static int select_list(const api_resource_t *rs, strbuf_t *sql, api_colmap_t *m)
{
    if (rs->nfields > API_MAX_FIELDS)
        return -1;
    m->ncols = 0;
    for (size_t i = 0; i < rs->nfields; i++) {
        const api_field_t *f = &rs->fields[i];
        m->col[i] = -1;
        if (f->fmt == API_CONST || !f->sql)
            continue;
        for (size_t j = 0; j < i && m->col[i] < 0; j++)
            if (rs->fields[j].sql && strcmp(rs->fields[j].sql, f->sql) == 0)
                m->col[i] = m->col[j];
        if (m->col[i] >= 0)
            continue;
        m->col[i] = m->ncols++;
        if (m->col[i] > 0)
            strbuf_puts(sql, ", ");
        strbuf_puts(sql, f->sql);
    }
    return 0;
}

void api_write_fields(jsonw_t *w, const api_resource_t *rs, const api_colmap_t *m,
                      const PGresult *res, int i, int base)
{
    for (size_t k = 0; k < rs->nfields; k++) {
        const api_field_t *f = &rs->fields[k];
        int c = base + m->col[k];

        if (f->fmt == API_HIDDEN)
            continue;
        jsonw_key(w, f->name);
        switch (f->fmt) {
        case API_STR:
            jsonw_pg_str(w, res, i, c);
            break;
        case API_INT:
            jsonw_pg_int(w, res, i, c);
            break;
        case API_NUM:
            jsonw_pg_num(w, res, i, c);
            break;
        case API_BOOL:
            jsonw_pg_bool(w, res, i, c);
            break;
        case API_TS:
            jsonw_pg_ts(w, res, i, c);
            break;
        case API_JSON:
            jsonw_pg_json(w, res, i, c);
            break;
        case API_CONST:
            jsonw_raw(w, f->json, strlen(f->json));
            break;
        case API_FN:
            f->fn(w, db_get_str(res, i, c));
            break;
        case API_HIDDEN:
            break;
        }
    }
}

void api_write_object(jsonw_t *w, const api_resource_t *rs, const api_colmap_t *m,
                      const PGresult *res, int i, int base)
{
    jsonw_obj_begin(w);
    api_write_fields(w, rs, m, res, i, base);
    jsonw_obj_end(w);
}

/* ---- statements ----------------------------------------------------------- */

static void stmt_name(const char *sql, char *name, size_t len)
{
    snprintf(name, len, "api_q%016" PRIx64, hash_str(sql));
}

/* Runs sql (n parameters of b) as a statement named by its hash. */
static PGresult *run_generated(api_req_t *r, const char *sql, int n, const sqlb_t *b)
{
    char stname[32];

    stmt_name(sql, stname, sizeof(stname));
    return db_query(r->db, stname, sql, n, b->params);
}

/* The total when the page came back empty past offset 0 (the page held none). */
static int count_alone(api_req_t *r, const api_resource_t *rs, const sqlb_t *b, int nwhere,
                       int64_t *total)
{
    char *sql = NULL;
    PGresult *cnt;

    if (asprintf(&sql, "SELECT count(*) FROM %s WHERE true%s", rs->from, b->sql) < 0)
        return api_send_json(r, 500, NULL);
    cnt = run_generated(r, sql, nwhere, b);
    free(sql);
    if (!cnt)
        return api_db_failed(r);
    *total = db_get_i64(cnt, 0, 0);
    PQclear(cnt);
    return 0;
}

/* Writes {"<name>": [rows], "total_entries": total} and sends it. */
static int send_page(api_req_t *r, const char *name, const api_resource_t *rs,
                     const api_colmap_t *m, const PGresult *page, int64_t total)
{
    int n = PQntuples(page), status;
    jsonw_t w;

    jsonw_init(&w, (size_t)n * 768 + 64);
    jsonw_obj_begin(&w);
    jsonw_key(&w, name);
    jsonw_arr_begin(&w);
    for (int i = 0; i < n; i++)
        api_write_object(&w, rs, m, page, i, 1);
    jsonw_arr_end(&w);
    jsonw_key(&w, "total_entries");
    jsonw_i64(&w, total);
    jsonw_obj_end(&w);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}

/*
 * One prepared statement for the page, with the total as an uncorrelated
 * scalar subquery (evaluated once) in column 0:
 *   SELECT (SELECT count(*) FROM <from> WHERE <b>), <cols> FROM <from>
 *   WHERE <b> ORDER BY <order> LIMIT $l OFFSET $o
 * Only an empty page past offset 0 needs the count on its own.
 */
int api_send_collection(api_req_t *r, const char *name, const api_resource_t *rs, sqlb_t *b,
                        const char *order, const api_page_t *p)
{
    strbuf_t cols = {0};
    char *list = NULL, *sql = NULL;
    PGresult *page = NULL;
    api_colmap_t m;
    int status, nwhere = b->n, pl, po;
    int64_t total = 0;

    pl = sqlb_param_i64(b, p->limit);
    po = sqlb_param_i64(b, p->offset);
    if (b->overflow) {
        status = api_bad_request(r, "too many filters");
        goto out;
    }
    if (select_list(rs, &cols, &m) < 0 || !(list = strbuf_take(&cols)) ||
        asprintf(&sql,
                 "SELECT (SELECT count(*) FROM %s WHERE true%s), %s FROM %s WHERE true%s "
                 "ORDER BY %s LIMIT $%d OFFSET $%d",
                 rs->from, b->sql, list, rs->from, b->sql, order, pl, po) < 0) {
        sql = NULL;
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    page = run_generated(r, sql, b->n, b);
    if (!page) {
        status = api_db_failed(r);
        goto out;
    }
    if (PQntuples(page) > 0)
        total = db_get_i64(page, 0, 0);
    else if (p->offset != 0 && (status = count_alone(r, rs, b, nwhere, &total)) != 0)
        goto out;
    status = send_page(r, name, rs, &m, page, total);
out:
    strbuf_free(&cols);
    free(list);
    free(sql);
    PQclear(page);
    return status;
}

int api_fetch(api_req_t *r, const api_resource_t *rs, sqlb_t *b, PGresult **out, api_colmap_t *m)
{
    strbuf_t cols = {0};
    char *list = NULL, *sql = NULL;
    int status = 0;

    *out = NULL;
    if (b->overflow || select_list(rs, &cols, m) < 0 || !(list = strbuf_take(&cols)) ||
        asprintf(&sql, "SELECT %s FROM %s WHERE true%s", list, rs->from, b->sql) < 0) {
        sql = NULL;
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    *out = run_generated(r, sql, b->n, b);
    if (!*out)
        status = api_db_failed(r);
out:
    strbuf_free(&cols);
    free(list);
    free(sql);
    return status;
}

int api_send_row(api_req_t *r, const api_resource_t *rs, const api_colmap_t *m, const PGresult *res)
{
    jsonw_t w;
    int status;

    jsonw_init(&w, 2048);
    api_write_object(&w, rs, m, res, 0, 0);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}
