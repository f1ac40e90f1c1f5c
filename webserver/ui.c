/*
 * ui.c - the web UI: its files and the page every UI path answers with.
 *
 * The UI is one page (index.html) that reads the path and draws the view,
 * so every UI path (/dags, /dags/etl/grid, ...) answers with the same
 * index.html, behind the login, never cached. The scripts and styles it
 * names live under /assets/ with content-hashed names: they are public
 * (nothing in them is a secret), cached for a year and immutable, and sent
 * gzip'ed to a browser that accepts it. GET /ui/me tells the page who is
 * signed in and what they may do, so it shows only the actions they have;
 * GET /ui/changes tells a live page when to fetch again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/timeutil.h"
#include "model/roles.h"
#include "store/dagrun.h"
#include "webserver/api_int.h"
#include "webserver/dbpool.h"
#include "webserver/http.h"
#include "webserver/livefeed.h"
#include "webserver/ui_assets.h"

/* The page's own rules: only this server's scripts, styles and data. */
static const char *const page_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "same-origin",
    "X-Content-Type-Options",
    "nosniff",
    "Cache-Control",
    "no-cache",
    NULL,
};

static const char *const asset_headers[] = {
    "Cache-Control",
    "public, max-age=31536000, immutable",
    "X-Content-Type-Options",
    "nosniff",
    "Vary",
    "Accept-Encoding",
    NULL,
};

static const char *const asset_gz_headers[] = {
    "Cache-Control",
    "public, max-age=31536000, immutable",
    "X-Content-Type-Options",
    "nosniff",
    "Vary",
    "Accept-Encoding",
    "Content-Encoding",
    "gzip",
    NULL,
};

static const ui_asset_t *find_asset(const char *path)
{
    for (size_t i = 0; i < ui_assets_count; i++)
        if (strcmp(ui_assets[i].path, path) == 0)
            return &ui_assets[i];
    return NULL;
}

int page_get_asset(api_req_t *r)
{
    char path[256];
    const ui_asset_t *a;

    if (snprintf(path, sizeof(path), "assets/%s", r->cap[0]) >= (int)sizeof(path) ||
        !(a = find_asset(path)))
        return api_not_found(r, "Not Found", "no such file: /assets/%s", r->cap[0]);
    if (http_takes_gzip(mg_get_header(r->conn, "Accept-Encoding")))
        http_send_h(r->conn, 200, asset_gz_headers, a->content_type, (const char *)a->gz,
                    a->gz_len);
    else
        http_send_h(r->conn, 200, asset_headers, a->content_type, (const char *)a->raw, a->raw_len);
    return 200;
}

int page_get_ui(api_req_t *r)
{
    const ui_asset_t *a = find_asset("index.html");

    if (!a) {
        http_send_problem(r->conn, 500, NULL, "the UI was not built into this webserver");
        return 500;
    }
    http_send_h(r->conn, 200, page_headers, a->content_type, (const char *)a->raw, a->raw_len);
    return 200;
}

int page_get_root(api_req_t *r)
{
    static const char *const to_dags[] = {"Location", "/dags", NULL};

    http_send_h(r->conn, 302, to_dags, "text/plain; charset=utf-8", "", 0);
    return 302;
}

int api_get_ui_me(api_req_t *r)
{
    cJSON *me = cJSON_CreateObject(), *roles = cJSON_AddArrayToObject(me, "roles"),
          *perms = cJSON_AddArrayToObject(me, "permissions");

    cJSON_AddStringToObject(me, "username", r->who.username);
    cJSON_AddStringToObject(me, "display_name",
                            r->who.display[0] ? r->who.display : r->who.username);
    cJSON_AddBoolToObject(me, "session", r->who.via_session);
    for (int i = 0; i < ROLE__COUNT; i++)
        if (r->who.roles & ROLE_BIT(i))
            cJSON_AddItemToArray(roles, cJSON_CreateString(roles_name((role_t)i)));
    /* Airflow's form: [action, resource] pairs, e.g. ["can_edit", "DAGs"]. */
    for (int res = RES_NONE + 1; res < RES__COUNT; res++)
        for (int act = ACT_NONE + 1; act < ACT__COUNT; act++) {
            cJSON *pair;

            if (!roles_allow(r->who.roles, (perm_action_t)act, (perm_resource_t)res))
                continue;
            pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(roles_action_name((perm_action_t)act)));
            cJSON_AddItemToArray(pair,
                                 cJSON_CreateString(roles_resource_name((perm_resource_t)res)));
            cJSON_AddItemToArray(perms, pair);
        }
    http_send_json(r->conn, 200, me);
    cJSON_Delete(me);
    return 200;
}

/*
 * GET /ui/changes?after=TOKEN[&dag_id=D][&wait_ms=N]: a page that shows
 * live data asks this and waits. Without after: the current token at once.
 * With it: the answer comes when something changed since the token (with
 * dag_id: a run of that DAG, or something that may concern every DAG), or
 * after wait_ms (at most and by default CHANGES_WAIT_MS) with "changed": false; either way with the
 * token to ask with next. A token from another webserver (behind the same proxy) or an earlier
 * start of this one counts from now. The request holds no database connection while it waits.
 */
#define CHANGES_WAIT_MS 20000
#define CHANGES_RUNS 256

static int send_changes(api_req_t *r, uint64_t seq, bool changed)
{
    char tok[48];
    cJSON *o = cJSON_CreateObject();

    snprintf(tok, sizeof(tok), "%08x-%llu", livefeed_id(r->api->feed), (unsigned long long)seq);
    cJSON_AddStringToObject(o, "token", tok);
    cJSON_AddBoolToObject(o, "changed", changed);
    http_send_json(r->conn, 200, o);
    cJSON_Delete(o);
    return 200;
}

int api_get_ui_changes(api_req_t *r)
{
    livefeed_t *f = r->api->feed;
    const char *after_s = httpq_get(&r->q, "after"), *dag_id = httpq_get(&r->q, "dag_id");
    int64_t deadline, wait_ms;
    unsigned feed_id;
    unsigned long long after;
    int used = 0;
    bool changed = false;
    char err[256];

    if (!f) {
        http_send_problem(r->conn, 503, NULL, "live updates are not running");
        return 503;
    }
    if (httpq_get_i64(&r->q, "wait_ms", CHANGES_WAIT_MS, 0, CHANGES_WAIT_MS, &wait_ms, err,
                      sizeof(err)) < 0)
        return api_bad_request(r, err);
    deadline = ts_mono_us() + wait_ms * 1000;
    if (!after_s)
        return send_changes(r, livefeed_seq(f), false);
    if (sscanf(after_s, "%8x-%llu%n", &feed_id, &after, &used) != 2 || after_s[used])
        return api_bad_request(r, "after: expected the token of an earlier answer");
    if (feed_id != livefeed_id(f) || after > livefeed_seq(f))
        after = livefeed_seq(f);
    dbpool_release(r->api->pool, r->db);
    r->db = NULL;
    for (;;) {
        int64_t left_ms = (deadline - ts_mono_us()) / 1000, runs[CHANGES_RUNS];
        size_t n;
        bool all;
        uint64_t seq;
        int rc;

        if (left_ms <= 0)
            break;
        seq = livefeed_wait(f, after, (int)left_ms, runs, CHANGES_RUNS, &n, &all);
        if (seq <= after)
            break; /* waited long enough, or the webserver is stopping */
        after = seq;
        if (all || !dag_id) {
            changed = true;
            break;
        }
        if (!(r->db = dbpool_acquire(r->api->pool, r->api->db_wait_ms, err, sizeof(err)))) {
            changed = true; /* cannot tell: let the page look */
            break;
        }
        rc = dagrun_any_of_dag(r->db, dag_id, runs, n);
        dbpool_release(r->api->pool, r->db);
        r->db = NULL;
        if (rc != 0) {
            changed = true;
            break;
        }
    }
    return send_changes(r, after, changed);
}
