/*
 * api_eventlogs.c - GET /eventLogs and /eventLogs/{id} (Airflow 2's
 * EventLog schema) over store/eventlog.h: who changed what, when, from
 * the API, the CLI and the login page.
 */
#include "webserver/api_int.h"

#include <errno.h>
#include <stdlib.h>

#include "store/eventlog.h"
#include "webserver/http.h"

/* An integer query parameter (absent: dflt); -1 after answering 400. */
static int query_int(api_req_t *r, const char *name, int dflt, int *out)
{
    const char *v = httpq_get(&r->q, name);
    char *end;
    long n;

    *out = dflt;
    if (!v)
        return 0;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < -1 || n > 1000000) {
        http_send_problem(r->conn, 400, NULL, "'%s' is not a valid integer for %s", v, name);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int query_ts(api_req_t *r, const char *name, ts_us_t *out)
{
    const char *v = httpq_get(&r->q, name);

    *out = TS_NONE;
    if (v && ts_parse(v, out) < 0) {
        http_send_problem(r->conn, 400, NULL, "'%s' is not a valid datetime for %s", v, name);
        return -1;
    }
    return 0;
}

int api_get_event_logs(api_req_t *r)
{
    eventlog_filter_t f = {
        .dag_id = httpq_get(&r->q, "dag_id"),
        .task_id = httpq_get(&r->q, "task_id"),
        .run_id = httpq_get(&r->q, "run_id"),
        .event = httpq_get(&r->q, "event"),
        .owner = httpq_get(&r->q, "owner"),
        .included_events = httpq_get(&r->q, "included_events"),
        .excluded_events = httpq_get(&r->q, "excluded_events"),
    };
    char err[256];
    int64_t limit, offset;
    long total;
    cJSON *items = NULL;
    int rc;

    if (httpq_get_page(&r->q, API_PAGE_DEFAULT, API_PAGE_MAX, &limit, &offset, err, sizeof(err)) <
        0)
        return api_bad_request(r, err);
    if (query_int(r, "map_index", -2, &f.map_index) < 0 ||
        query_int(r, "try_number", 0, &f.try_number) < 0 || query_ts(r, "before", &f.before) < 0 ||
        query_ts(r, "after", &f.after) < 0)
        return 400;
    rc = eventlog_list(r->db, &f, httpq_get(&r->q, "order_by"), (long)limit, (long)offset, &items,
                       &total, err, sizeof(err));
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", err);
    return api_send_items(r, "event_logs", items, total);
}

int api_get_event_log(api_req_t *r)
{
    char err[256], *end;
    cJSON *out = NULL;
    long long id;
    int rc;

    errno = 0;
    id = strtoll(r->cap[0], &end, 10);
    if (errno || end == r->cap[0] || *end || id <= 0)
        return api_bad_request(r, "event_log_id must be a positive integer");
    rc = eventlog_get(r->db, id, &out, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "Event Log not found", "Event Log with id %lld was not found", id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", err);
    return api_send_json(r, 200, out);
}
