/*
 * api_backfills.c - Airflow 3's backfill routes of the REST API v2
 * (shared/reference/airflow-rest-api-v2.yaml: BackfillPostBody,
 * BackfillResponse, DryRunBackfillResponse) over sched/backfill.h and
 * store/backfill.h: list, create, dry run, get, pause, unpause, cancel;
 * and /ui/backfills, the same list with each backfill's progress (its
 * planned runs by state) for the web UI.
 *
 * A backfill is stored and driven by the scheduler; these routes only
 * plan, store and change it. Pausing, unpausing or cancelling a completed
 * backfill is 409, as a second active backfill of one DAG is.
 */
#include "webserver/api_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sched/backfill.h"
#include "store/backfill.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

#define BACKFILL_MAX_ACTIVE_DEFAULT 10 /* BackfillPostBody.max_active_runs */
#define BACKFILL_MAX_ACTIVE_LIMIT 1000

static void add_ts(cJSON *o, const char *key, ts_us_t t)
{
    char buf[TS_ISO_LEN];
    if (t == TS_NONE)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, /* as Python's isoformat: no zero fraction */
                                t % TS_US_PER_SEC ? ts_format_iso(t, buf)
                                                  : ts_format_iso_sec(t, buf));
}

/* BackfillResponse; with progress, the UI's "runs" member too. */
static cJSON *backfill_json(const backfill_info_t *b, bool progress)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)b->id);
    cJSON_AddStringToObject(o, "dag_id", b->dag_id);
    add_ts(o, "from_date", b->from_date);
    add_ts(o, "to_date", b->to_date);
    cJSON *conf = cJSON_Parse(b->dag_run_conf);
    cJSON_AddItemToObject(o, "dag_run_conf", conf ? conf : cJSON_CreateObject());
    cJSON_AddBoolToObject(o, "is_paused", b->is_paused);
    cJSON_AddStringToObject(o, "reprocess_behavior", b->reprocess_behavior);
    cJSON_AddNumberToObject(o, "max_active_runs", b->max_active_runs);
    add_ts(o, "created_at", b->created_at);
    add_ts(o, "completed_at", b->completed_at);
    add_ts(o, "updated_at", b->updated_at);
    cJSON_AddStringToObject(o, "dag_display_name", b->dag_id);
    if (progress) {
        cJSON *p = cJSON_AddObjectToObject(o, "runs");
        const struct {
            const char *k;
            long v;
        } c[] = {{"total", b->total},   {"skipped", b->skipped}, {"pending", b->pending},
                 {"queued", b->queued}, {"running", b->running}, {"success", b->success},
                 {"failed", b->failed}};
        for (size_t i = 0; p && i < sizeof(c) / sizeof(c[0]); i++)
            cJSON_AddNumberToObject(p, c[i].k, (double)c[i].v);
    }
    return o;
}

/* The path's backfill id; -1 after answering 404 for one that cannot be. */
static int64_t path_id(api_req_t *r)
{
    char *end = NULL;
    long long v = strtoll(r->cap[0], &end, 10);
    if (!r->cap[0][0] || *end || v <= 0) {
        api_not_found(r, "Backfill not found", "Could not find backfill with id %.64s", r->cap[0]);
        return -1;
    }
    return (int64_t)v;
}

static int send_backfill(api_req_t *r, int64_t id)
{
    backfill_info_t *b = NULL;
    int rc = backfill_get(r->db, id, &b);
    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "Backfill not found", "Could not find backfill with id %" PRId64,
                             id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "out of memory");
    int status = api_send_json(r, 200, backfill_json(b, false));
    backfill_info_free(b, 1);
    return status;
}

int api_get_backfill(api_req_t *r)
{
    int64_t id = path_id(r);
    return id < 0 ? 404 : send_backfill(r, id);
}

/* GET /api/v2/backfills and /ui/backfills: dag_id required, order_by id or -id. */
static int list_backfills(api_req_t *r, bool progress)
{
    const char *dag_id = httpq_get(&r->q, "dag_id");
    const char *order = httpq_get(&r->q, "order_by");
    char err[256];
    int64_t limit, offset;
    backfill_info_t *v = NULL;
    size_t n = 0;
    long total = 0;

    if (!dag_id || !*dag_id)
        return api_bad_request(r, "dag_id is required");
    if (order && strcmp(order, "id") != 0 && strcmp(order, "-id") != 0)
        return api_bad_request(r, "Ordering with 'order_by' is supported for 'id' only");
    if (httpq_get_page(&r->q, 50, API_PAGE_MAX, &limit, &offset, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    int rc = backfill_list(r->db, dag_id, (long)limit, (long)offset, order && order[0] == '-', &v,
                           &n, &total);
    if (rc < 0)
        return api_fail(r, rc, NULL, "out of memory");
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; items && i < n; i++) {
        cJSON *o = backfill_json(&v[i], progress);
        if (!o) {
            cJSON_Delete(items);
            items = NULL;
            break;
        }
        cJSON_AddItemToArray(items, o);
    }
    backfill_info_free(v, n);
    if (!items)
        return api_send_json(r, 500, NULL);
    return api_send_items(r, "backfills", items, total);
}

int api_get_backfills(api_req_t *r)
{
    return list_backfills(r, false);
}

int api_get_ui_backfills(api_req_t *r)
{
    return list_backfills(r, true);
}

/* BackfillPostBody into req; -1 with the problem detail in err. */
static int read_request(const cJSON *body, backfill_request_t *req, char **conf, char *err,
                        size_t errlen)
{
    static const char *const known[] = {"dag_id",
                                        "from_date",
                                        "to_date",
                                        "run_backwards",
                                        "dag_run_conf",
                                        "reprocess_behavior",
                                        "max_active_runs",
                                        "run_on_latest_version",
                                        NULL};
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "dag_run_conf");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "max_active_runs");
    const char *rp = NULL;
    bool latest = true;

    memset(req, 0, sizeof(*req));
    *conf = NULL;
    if (api_body_check_known(body, known, err, errlen) < 0)
        return -1;
    if (api_body_str(body, "dag_id", &req->dag_id) < 0 || !req->dag_id || !*req->dag_id) {
        snprintf(err, errlen, "{'dag_id': ['Missing data for required field.']}");
        return -1;
    }
    if (api_body_ts(body, "from_date", &req->from_date, err, errlen) < 0 ||
        api_body_ts(body, "to_date", &req->to_date, err, errlen) < 0)
        return -1;
    if (req->from_date == TS_NONE || req->to_date == TS_NONE) {
        snprintf(err, errlen, "{'%s': ['Missing data for required field.']}",
                 req->from_date == TS_NONE ? "from_date" : "to_date");
        return -1;
    }
    if (api_body_bool(body, "run_backwards", false, &req->run_backwards, err, errlen) < 0 ||
        api_body_bool(body, "run_on_latest_version", true, &latest, err, errlen) < 0)
        return -1;
    if (api_body_str(body, "reprocess_behavior", &rp) < 0 ||
        (rp && backfill_reprocess_parse(rp, &req->reprocess) < 0)) {
        snprintf(err, errlen,
                 "{'reprocess_behavior': ['Must be one of: failed, completed, none.']}");
        return -1;
    }
    req->max_active_runs = BACKFILL_MAX_ACTIVE_DEFAULT;
    if (m && !cJSON_IsNull(m)) {
        if (!cJSON_IsNumber(m) || m->valuedouble != floor(m->valuedouble) || m->valuedouble < 1 ||
            m->valuedouble > BACKFILL_MAX_ACTIVE_LIMIT) {
            snprintf(err, errlen, "{'max_active_runs': ['Must be an integer from 1 to %d.']}",
                     BACKFILL_MAX_ACTIVE_LIMIT);
            return -1;
        }
        req->max_active_runs = (int)m->valuedouble;
    }
    if (c && !cJSON_IsNull(c)) {
        if (!cJSON_IsObject(c)) {
            snprintf(err, errlen, "{'dag_run_conf': ['Not a valid object.']}");
            return -1;
        }
        *conf = cJSON_PrintUnformatted(c);
        if (!*conf) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        req->conf_json = *conf;
    }
    return 0;
}

/* Plans (and unless dry_run stores) the body's backfill; answers the result. */
static int post_backfill(api_req_t *r, bool dry_run)
{
    backfill_request_t req;
    backfill_item_t *items = NULL;
    size_t n = 0;
    int64_t id = 0;
    char *conf = NULL, err[768];
    int status = 0;
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    if (read_request(body, &req, &conf, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    /* The event log is written after the body is gone: a copy. */
    snprintf(r->ev_buf, sizeof(r->ev_buf), "%s", req.dag_id);
    r->ev_dag_id = r->ev_buf;
    int rc = backfill_create(r->db, &req, dry_run, &items, &n, &id, err, sizeof(err));
    if (rc == UPDRAFT_EINVALID) {
        http_send_problem(r->conn, 422, "Unprocessable Entity", "%s", err);
        status = 422;
        goto out;
    }
    if (rc < 0) {
        status = api_fail(r, rc, NULL, "%s", err);
        goto out;
    }
    if (!dry_run) {
        log_info("backfill created id=%" PRId64 " dag_id=%s by=%s", id, req.dag_id,
                 r->who.username);
        status = send_backfill(r, id);
        goto out;
    }
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; list && i < n; i++) {
        if (items[i].act == BACKFILL_SKIP)
            continue;
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        add_ts(o, "logical_date", items[i].iv.start);
        cJSON_AddItemToArray(list, o);
    }
    status = list ? api_send_items(r, "backfills", list, cJSON_GetArraySize(list))
                  : api_send_json(r, 500, NULL);
out:
    free(items);
    cJSON_free(conf);
    cJSON_Delete(body);
    return status;
}

int api_post_backfill(api_req_t *r)
{
    return post_backfill(r, false);
}

int api_post_backfill_dry_run(api_req_t *r)
{
    return post_backfill(r, true);
}

/* PUT .../pause, .../unpause, .../cancel. */
static int change_backfill(api_req_t *r, const char *what)
{
    int64_t id = path_id(r);
    long failed = 0;
    if (id < 0)
        return 404;
    int rc = !strcmp(what, "cancel") ? backfill_cancel(r->db, id, &failed)
                                     : backfill_set_paused(r->db, id, !strcmp(what, "pause"));
    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "Backfill not found", "Could not find backfill with id %" PRId64,
                             id);
    if (rc == UPDRAFT_ECONFLICT) {
        http_send_problem(r->conn, 409, "Conflict", "Backfill is already completed.");
        return 409;
    }
    if (rc < 0)
        return api_fail(r, rc, NULL, "cannot %s backfill %" PRId64, what, id);
    log_info("backfill %s id=%" PRId64 " runs_failed=%ld by=%s", what, id, failed, r->who.username);
    return send_backfill(r, id);
}

int api_put_backfill_pause(api_req_t *r)
{
    return change_backfill(r, "pause");
}

int api_put_backfill_unpause(api_req_t *r)
{
    return change_backfill(r, "unpause");
}

int api_put_backfill_cancel(api_req_t *r)
{
    return change_backfill(r, "cancel");
}
