/*
 * apireq.c - what every REST API handler does with its request (see
 * api_int.h): answer it (problem bodies, the error contract's statuses,
 * cached JSON), read its body's members as Airflow's schemas do, and open
 * the secrets keyring for the routes that store secrets.
 */
#include "webserver/api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/utf8.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

/* ---- responses ------------------------------------------------------------ */

int api_bad_request(api_req_t *r, const char *detail)
{
    http_send_problem(r->conn, 400, NULL, "%s", detail);
    return 400;
}

int api_not_found(api_req_t *r, const char *title, const char *detail_fmt, ...)
{
    char detail[768];
    va_list ap;

    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    http_send_problem(r->conn, 404, title, "%s", detail);
    return 404;
}

int api_db_failed(api_req_t *r)
{
    if (!db_ok(r->db)) {
        http_send_problem(r->conn, 503, NULL, "the metadata database is unavailable");
        return 503;
    }
    http_send_problem(r->conn, 500, NULL, "database error (sqlstate %s)", db_sqlstate(r->db));
    return 500;
}

int api_fail(api_req_t *r, int err, const char *title, const char *detail_fmt, ...)
{
    char detail[768];
    va_list ap;

    if (err == UPDRAFT_EDB)
        return api_db_failed(r);
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    return http_send_error(r->conn, err, title, "%s", detail);
}

int api_send_json(api_req_t *r, int status, cJSON *json)
{
    if (!json) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    http_send_json(r->conn, status, json);
    cJSON_Delete(json);
    return status;
}

/* A 200 JSON answer, stored in the cache when the route caches. */
static int send_ok_json(api_req_t *r, const char *data, size_t len)
{
    if (r->cacheable)
        apicache_put(r->api->cache, r->key, r->klen, r->gen, data, len);
    http_send(r->conn, 200, "application/json", data, len);
    return 200;
}

int api_send_jsonw(api_req_t *r, const jsonw_t *w)
{
    if (jsonw_failed(w)) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    return send_ok_json(r, jsonw_data(w), jsonw_len(w));
}

int api_send_tree(api_req_t *r, cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    int status;

    cJSON_Delete(json);
    if (!text) {
        http_send_problem(r->conn, 500, NULL, "out of memory");
        return 500;
    }
    status = send_ok_json(r, text, strlen(text));
    cJSON_free(text);
    return status;
}

int api_send_items(api_req_t *r, const char *member, cJSON *items, long total)
{
    cJSON *out = cJSON_CreateObject();

    if (!out || !cJSON_AddItemToObject(out, member, items)) {
        cJSON_Delete(items);
        cJSON_Delete(out);
        return api_send_json(r, 500, NULL);
    }
    cJSON_AddNumberToObject(out, "total_entries", (double)total);
    return api_send_json(r, 200, out);
}

int api_send_no_content(api_req_t *r)
{
    http_send(r->conn, 204, "application/json", "", 0);
    return 204;
}

/* ---- request bodies ------------------------------------------------------- */

cJSON *api_read_body(api_req_t *r, int *status)
{
    char err[512];
    cJSON *body = http_read_json_object(r->conn, status, err, sizeof(err));

    if (!body)
        http_send_problem(r->conn, *status, NULL, "%s", err);
    return body;
}

int api_body_str(const cJSON *body, const char *key, const char **out)
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

int api_body_ts(const cJSON *body, const char *key, ts_us_t *out, char *err, size_t errlen)
{
    const char *s;

    *out = TS_NONE;
    if (api_body_str(body, key, &s) < 0 || (s && ts_parse(s, out) < 0)) {
        snprintf(err, errlen, "{'%s': ['Not a valid datetime.']}", key);
        return -1;
    }
    return 0;
}

int api_body_check_known(const cJSON *body, const char *const *known, char *err, size_t errlen)
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

cJSON *api_read_fields(api_req_t *r, const char *const *known, const char *const *required,
                       const char **values, int *status)
{
    char err[256];
    cJSON *body = api_read_body(r, status);

    if (!body)
        return NULL;
    if (api_body_check_known(body, known, err, sizeof(err)) < 0) {
        *status = api_bad_request(r, err);
        cJSON_Delete(body);
        return NULL;
    }
    for (size_t i = 0; required && required[i]; i++) {
        if (api_body_str(body, required[i], &values[i]) < 0 || !values[i]) {
            snprintf(err, sizeof(err), "{'%s': ['Missing data for required field.']}", required[i]);
            *status = api_bad_request(r, err);
            cJSON_Delete(body);
            return NULL;
        }
    }
    return body;
}

int api_body_bool(const cJSON *body, const char *key, bool dflt, bool *out, char *err,
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

int api_body_aware_ts(const cJSON *body, const char *key, ts_us_t *out, char *err, size_t errlen)
{
    const char *s;
    size_t n;

    if (api_body_ts(body, key, out, err, errlen) < 0)
        return -1;
    if (*out == TS_NONE)
        return 0;
    api_body_str(body, key, &s);
    n = strlen(s);
    /* An offset is Z, or [+-]hh[:mm] after the time. */
    if (!(n > 0 && (s[n - 1] == 'Z' || s[n - 1] == 'z')) &&
        !(n > 19 && (strchr(s + 19, '+') || strchr(s + 19, '-')))) {
        snprintf(err, errlen, "{'%s': ['Naive datetime is disallowed']}", key);
        return -1;
    }
    return 0;
}

int api_read_update_mask(api_req_t *r, const char *const *allowed, char mask[][API_MASK_FIELD],
                         size_t max, size_t *n, char *err, size_t errlen)
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

bool api_mask_has(char mask[][API_MASK_FIELD], size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(mask[i], field) == 0)
            return true;
    return false;
}

int api_read_note(api_req_t *r, const cJSON *body, const char **note)
{
    static const char *const known[] = {"note", NULL};
    char err[256];

    if (api_body_check_known(body, known, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if (!cJSON_GetObjectItemCaseSensitive(body, "note"))
        return api_bad_request(r, "{'note': ['Missing data for required field.']}");
    if (api_body_str(body, "note", note) < 0)
        return api_bad_request(r, "{'note': ['Not a valid string.']}");
    if (*note && utf8_count(*note) > API_NOTE_MAX)
        return api_bad_request(r, "{'note': ['Longer than maximum length 1000.']}");
    return 0;
}

/* ---- secrets -------------------------------------------------------------- */

secrets_keyring_t *api_request_keyring(api_req_t *r)
{
    char err[256];
    secrets_keyring_t *ring = secrets_keyring_new(r->api->cfg->core.fernet_key, err, sizeof(err));

    if (!ring) {
        log_error("invalid encryption key configuration error=\"%s\"", err);
        http_send_problem(r->conn, 500, NULL, "the encryption key configuration is invalid");
    }
    return ring;
}

int api_secret_failed(api_req_t *r, const char *err)
{
    log_error("secret unreadable error=\"%s\"", err);
    http_send_problem(r->conn, 500, NULL, "%s", err);
    return 500;
}
