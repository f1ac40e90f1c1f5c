/*
 * api_dagsource.c - a DAG file's text and a DAG's versions:
 *
 *   GET /api/v1/dagSources/{file_token}         Airflow 2's get_dag_source
 *   GET /api/v2/dagSources/{dag_id}             Airflow 3's, ?version_number=N
 *   GET /api/v2/dags/{dag_id}/dagVersions       the DAG's versions, paged
 *   GET /api/v2/dags/{dag_id}/dagVersions/{n}   one of them
 *
 * The text comes from the database (dag_code: the DAG processor stores it
 * with each version, and updates the latest version's when only the text
 * changed), never from the DAGs folder: the webserver needs no access to
 * it, and a version's text stays what it was when the version was parsed.
 * The v1 token is the one the DAG answers carry (store/dags.h,
 * DAGS_FILE_TOKEN_SQL), matched in SQL, never decoded into a path; it
 * answers the latest version's text. Text the processor cut at its limit
 * is served as stored followed by a comment line saying so. An unknown
 * token, DAG or version, or a v1 token whose version has no text, is the
 * same 404, but for v2's version parsed before texts were kept: its
 * content is null (empty as text/plain). Each source answer is text/plain when the client prefers
 * it, else JSON ({"content"} in v1; {"content", "dag_id", "dag_display_name", "version_number"} in
 * v2).
 */
#include "webserver/api_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/utf8.h"
#include "store/dags.h"
#include "webserver/http.h"

#define FILE_TOKEN_MAX 8192 /* the token of a path of PATH_MAX bytes fits */
#define TS HTTP_SQL_TS

static int source_not_found(api_req_t *r)
{
    return api_not_found(r, "Dag source not found", "Dag source not found");
}

/*
 * The stored text, with a closing comment when it was cut, in *text
 * (malloc'd) of *len bytes. UPDRAFT_OK or UPDRAFT_ENOMEM.
 */
static int full_text(const dags_code_t *c, char **text, size_t *len)
{
    char note[160];
    int n = 0;

    if (c->truncated)
        n = snprintf(note, sizeof(note),
                     "%s# updraft: the file has %" PRId64 " bytes; only the first %zu are stored\n",
                     c->len && c->source[c->len - 1] != '\n' ? "\n" : "", c->size, c->len);
    if (!(*text = malloc(c->len + (size_t)n + 1)))
        return UPDRAFT_ENOMEM;
    memcpy(*text, c->source, c->len);
    memcpy(*text + c->len, note, (size_t)n);
    *len = c->len + (size_t)n;
    (*text)[*len] = '\0';
    return UPDRAFT_OK;
}

/* Sends the text in the form the client prefers; dag_id non-NULL: the v2 shape. */
static int send_source(api_req_t *r, const dags_code_t *c, const char *dag_id)
{
    char *text = NULL;
    size_t len = 0;
    jsonw_t w;
    int status;

    if (!c->source) { /* a version parsed before texts were kept (v2 only) */
        if (http_prefers_text(r->conn)) {
            http_send(r->conn, 200, "text/plain", "", 0);
            return 200;
        }
        jsonw_init(&w, 256);
        jsonw_obj_begin(&w);
        jsonw_key(&w, "content");
        jsonw_null(&w);
        jsonw_key(&w, "dag_id");
        jsonw_str(&w, dag_id);
        jsonw_key(&w, "dag_display_name");
        jsonw_str(&w, dag_id);
        jsonw_key(&w, "version_number");
        jsonw_i64(&w, c->version_number);
        jsonw_obj_end(&w);
        status = api_send_jsonw(r, &w);
        jsonw_free(&w);
        return status;
    }
    if (full_text(c, &text, &len) < 0)
        return api_fail(r, UPDRAFT_ENOMEM, NULL, "out of memory");
    if (http_prefers_text(r->conn)) {
        http_send(r->conn, 200, "text/plain", text, len);
        free(text);
        return 200;
    }
    if (!utf8_valid(text, len)) {
        free(text);
        http_send_problem(r->conn, 500, NULL, "the DAG file is not UTF-8 text");
        return 500;
    }
    jsonw_init(&w, len + len / 8 + 128);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "content");
    jsonw_strn(&w, text, len);
    if (dag_id) {
        jsonw_key(&w, "dag_id");
        jsonw_str(&w, dag_id);
        jsonw_key(&w, "dag_display_name");
        jsonw_str(&w, dag_id);
        jsonw_key(&w, "version_number");
        jsonw_i64(&w, c->version_number);
    }
    jsonw_obj_end(&w);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    free(text);
    return status;
}

int api_get_dag_source(api_req_t *r)
{
    const char *token = r->cap[0];
    dags_code_t c;
    int rc, status;

    if (strlen(token) > FILE_TOKEN_MAX)
        return source_not_found(r);
    rc = dags_code_of_token(r->db, token, &c);
    if (rc == UPDRAFT_ENOTFOUND)
        return source_not_found(r);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    status = send_source(r, &c, NULL);
    dags_code_clear(&c);
    return status;
}

int api_get_dag_source_v2(api_req_t *r)
{
    const char *dag_id = r->cap[0];
    char err[256];
    int64_t version = 0;
    dags_code_t c;
    int rc, status;

    if (httpq_get_i64(&r->q, "version_number", 0, 1, INT32_MAX, &version, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    rc = dags_code_of_version(r->db, dag_id, (int)version, &c);
    if (rc == UPDRAFT_ENOTFOUND) {
        if (version > 0)
            return api_not_found(r, "Dag source not found",
                                 "The source code of the DAG %s, version_number %" PRId64
                                 " was not found",
                                 dag_id, version);
        return api_not_found(r, "Dag source not found",
                             "The source code of the DAG %s was not found", dag_id);
    }
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    status = send_source(r, &c, dag_id);
    dags_code_clear(&c);
    return status;
}

/*
 * Airflow 3's DagVersionResponse. Versions come from the DAGs folder, not
 * a bundle: the bundle fields are null. Column-descriptor tables are the
 * one deliberate place where SQL fragments live outside lib/store (see
 * api_dags.c).
 */
static const api_field_t version_fields[] = {
    {"id", "v.id::text", API_STR},
    {"version_number", "v.version_number", API_INT},
    {"dag_id", "v.dag_id", API_STR},
    {"bundle_name", NULL, API_CONST, "null"},
    {"bundle_version", NULL, API_CONST, "null"},
    {"created_at", TS("v.created_at"), API_TS},
    {"dag_display_name", "v.dag_id", API_STR},
    {"bundle_url", NULL, API_CONST, "null"},
};

static const api_resource_t version_resource = {"dag_version v", version_fields,
                                                API_NFIELDS(version_fields)};

static const httpq_sort_t version_sorts[] = {
    {"id", "v.id"},
    {"version_number", "v.version_number"},
    {"created_at", "v.created_at"},
};

static const api_sorting_t version_sorting = {version_sorts, API_NFIELDS(version_sorts), "id",
                                              false, "v.id"};

/* 0 when dag_id exists, else the status of the 404 (or failure) answered. */
static int check_dag(api_req_t *r, const char *dag_id)
{
    bool exists = false;
    int rc = dags_exists(r->db, dag_id, &exists);

    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    if (!exists)
        return api_not_found(r, "DAG not found", "The DAG with dag_id: `%s` was not found", dag_id);
    return 0;
}

int api_get_dag_versions(api_req_t *r)
{
    const char *dag_id = r->cap[0];
    sqlb_t b = {0};
    api_page_t p;
    char err[256];
    int64_t version = 0;
    int status = api_read_page(r, &version_sorting, &p);

    if (status != 0)
        return status;
    if (httpq_get_i64(&r->q, "version_number", 0, 1, INT32_MAX, &version, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if ((status = check_dag(r, dag_id)) != 0)
        return status;
    sqlb_add(&b, " AND v.dag_id = $%d", sqlb_param(&b, dag_id));
    if (version > 0)
        sqlb_add(&b, " AND v.version_number = $%d", sqlb_param_i64(&b, version));
    status = api_send_collection(r, "dag_versions", &version_resource, &b, p.order, &p);
    sqlb_free(&b);
    return status;
}

int api_get_dag_version(api_req_t *r)
{
    const char *dag_id = r->cap[0];
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res;
    char *end;
    long long n;
    int status;

    n = strtoll(r->cap[1], &end, 10);
    if (!*r->cap[1] || *end || n < 1 || n > INT32_MAX)
        return api_bad_request(r, "version_number must be a positive integer");
    sqlb_add(&b, " AND v.dag_id = $%d", sqlb_param(&b, dag_id));
    sqlb_add(&b, " AND v.version_number = $%d", sqlb_param(&b, r->cap[1]));
    status = api_fetch(r, &version_resource, &b, &res, &m);
    sqlb_free(&b);
    if (status != 0)
        return status;
    if (PQntuples(res) == 0)
        status = api_not_found(r, "Dag version not found",
                               "The DagVersion with dag_id: `%s` and version_number: `%s` was "
                               "not found",
                               dag_id, r->cap[1]);
    else
        status = api_send_row(r, &version_resource, &m, res);
    PQclear(res);
    return status;
}
