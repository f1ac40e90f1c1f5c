/*
 * api_logs.c - GET .../taskInstances/{task_id}/logs/{try_number}: a task
 * try's log (store/tasklog.h), as JSON {continuation_token, content} or as
 * text/plain when the client prefers it. A page holds about LOG_PAGE_BYTES
 * (whole log rows); the continuation token names the last row sent, so the
 * next request resumes after it.
 */
#include "webserver/api_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/tasklog.h"
#include "webserver/http.h"

#define LOG_PAGE_BYTES (1 << 20) /* log bytes per response without full_content */
#define LOG_FULL_MAX (64 << 20)  /* hard cap even with full_content */

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

/* What the request names; 0, or the status of the 400 answered. */
static int read_log_request(api_req_t *r, int64_t *try_number, int64_t *map_index, bool *full,
                            int64_t *last_id)
{
    const char *tok = httpq_get(&r->q, "token");
    char err[256], *end;

    errno = 0;
    *try_number = strtoll(r->cap[3], &end, 10);
    if (!*r->cap[3] || *end || errno || *try_number < 0 || *try_number > INT_MAX)
        return api_bad_request(r, "task_try_number must be a non-negative integer");
    if (httpq_get_i64(&r->q, "map_index", -1, -1, INT_MAX, map_index, err, sizeof(err)) < 0 ||
        httpq_get_bool(&r->q, "full_content", full, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if (tok && token_parse(tok, last_id) < 0)
        return api_bad_request(r, "Bad Signature. Please use only the tokens provided by the API.");
    return 0;
}

/* The log text as text/plain or as {"continuation_token", "content"}. */
static int send_log(api_req_t *r, const char *content, size_t len, int64_t last_id)
{
    char tokbuf[32];
    cJSON *o;

    if (http_prefers_text(r->conn)) {
        http_send(r->conn, 200, "text/plain; charset=utf-8", content, len);
        return 200;
    }
    token_format(last_id, tokbuf, sizeof(tokbuf));
    o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "continuation_token", tokbuf);
        cJSON_AddStringToObject(o, "content", content);
    }
    return api_send_json(r, 200, o);
}

int api_get_log(api_req_t *r)
{
    int64_t try_number, map_index, last_id = 0, ti_id = 0;
    bool full = false;
    char *content = NULL;
    size_t len = 0;
    int status, rc;

    status = read_log_request(r, &try_number, &map_index, &full, &last_id);
    if (status != 0)
        return status;
    rc = tasklog_find_ti(r->db, r->cap[0], r->cap[1], r->cap[2], map_index, &ti_id);
    if (rc == UPDRAFT_ENOTFOUND)
        return api_fail(r, rc, "TaskInstance not found",
                        "Task instance did not exist in the DB (run '%s', task '%s')", r->cap[1],
                        r->cap[2]);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    rc = tasklog_read(r->db, ti_id, try_number, full ? LOG_FULL_MAX : LOG_PAGE_BYTES, &last_id,
                      &content, &len);
    if (rc == UPDRAFT_ENOMEM)
        return api_send_json(r, 500, NULL);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    status = send_log(r, content, len, last_id);
    free(content);
    return status;
}
