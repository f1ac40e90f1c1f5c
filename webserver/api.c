/*
 * api.c - the REST API's routes and its dispatcher (see api.h, docs/api.md).
 *
 * Shapes, parameter names, defaults and error bodies follow Airflow 2's
 * stable API (shared/reference/airflow-rest-api-v1.yaml). Timestamps are
 * selected as epoch microseconds and formatted with ts_format_iso, so they
 * read 2024-03-10T11:00:00.123456+00:00 whatever the session time zone.
 *
 * One table maps (method, path pattern) to a handler, the query
 * parameters it accepts and its flags; a new route, or a new property of
 * every route (permissions), is one row or one column here. The handlers
 * live in one file per resource family (api_<family>.c), the query builder
 * in apiquery.c, the request helpers in apireq.c (api_int.h).
 */
#include "webserver/api.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "model/roles.h"
#include "store/eventlog.h"
#include "webserver/api_int.h"
#include "webserver/apicache.h"
#include "webserver/http.h"
#include "webserver/httpq.h"

/* ---- routes --------------------------------------------------------------- */

#define ROUTE_PUBLIC 0x1      /* needs no login: no caller is identified */
#define ROUTE_DB_OPTIONAL 0x2 /* runs without a database connection */
#define ROUTE_CACHED 0x4      /* answers reads only tables that notify updraft_api */
#define ROUTE_PAGE 0x8        /* a browser page: an anonymous caller goes to /login */

typedef struct route {
    const char *method;
    const char *pattern;
    api_handler_fn fn;
    const char *fn_name;       /* "api_post_dag_run": the event "api.post_dag_run" */
    const char *const *params; /* allowed query parameters, NULL-terminated; NULL: any */
    unsigned flags;
    perm_action_t action; /* the permission the caller needs (ACT_NONE: none) */
    perm_resource_t resource;
} route_t;

static const char *const p_none[] = {NULL};
static const char *const p_dags[] = {"limit",       "offset", "order_by",       "tags",
                                     "only_active", "paused", "dag_id_pattern", NULL};
static const char *const p_patch_dag[] = {"update_mask", NULL};
static const char *const p_runs[] = {"limit",
                                     "offset",
                                     "order_by",
                                     "execution_date_gte",
                                     "execution_date_lte",
                                     "start_date_gte",
                                     "start_date_lte",
                                     "end_date_gte",
                                     "end_date_lte",
                                     "state",
                                     "run_type",
                                     NULL};
static const char *const p_tis[] = {"limit",
                                    "offset",
                                    "execution_date_gte",
                                    "execution_date_lte",
                                    "start_date_gte",
                                    "start_date_lte",
                                    "end_date_gte",
                                    "end_date_lte",
                                    "updated_at_gte",
                                    "updated_at_lte",
                                    "duration_gte",
                                    "duration_lte",
                                    "state",
                                    "pool",
                                    "queue",
                                    "executor",
                                    NULL};
static const char *const p_log[] = {"full_content", "map_index", "token", NULL};
static const char *const p_xcoms[] = {"limit", "offset", "map_index", "xcom_key", NULL};
static const char *const p_mapped[] = {"limit", "offset", "state", "order_by", NULL};
static const char *const p_xcom[] = {"map_index", "deserialize", "stringify", NULL};
static const char *const p_page[] = {"limit", "offset", "order_by", NULL};
static const char *const p_variables[] = {"limit", "offset", "order_by", "variable_key_pattern",
                                          NULL};
static const char *const p_pools[] = {"limit", "offset", NULL};
static const char *const p_login[] = {"next", NULL};
static const char *const p_events[] = {
    "limit",  "offset",    "order_by",        "dag_id",          "task_id",
    "run_id", "map_index", "try_number",      "event",           "owner",
    "before", "after",     "included_events", "excluded_events", NULL};
static const char *const p_config[] = {"section", NULL};
static const char *const p_dag_stats[] = {"dag_ids", NULL};
static const char *const p_patch_dags[] = {"limit",       "offset",         "tags", "update_mask",
                                           "only_active", "dag_id_pattern", NULL};
static const char *const p_order[] = {"order_by", NULL};
static const char *const p_backfills[] = {"dag_id", "limit", "offset", "order_by", NULL};
static const char *const p_ui_jobs[] = {"job_type", NULL};
static const char *const p_changes[] = {"after", "dag_id", "wait_ms", NULL};
static const char *const p_ui_dags[] = {"limit", "offset", "order_by", "dag_id_pattern",
                                        "tags",  "owners", "paused",   NULL};
static const char *const p_ui_grid[] = {"limit", "before", NULL};
static const char *const p_ui_limit[] = {"limit", NULL};
static const char *const p_ui_calendar[] = {"year", NULL};
static const char *const p_version[] = {"version_number", NULL};
static const char *const p_versions[] = {"limit", "offset", "order_by", "version_number", NULL};

#define V1 "/api/v1"
#define V2 "/api/v2"
#define RUN V1 "/dags/{}/dagRuns/{}"

/* A route: its handler's name, less "api_", names its events ("api.post_dag_run"). */
#define R(method, pattern, fn, params, flags, action, resource)                                    \
    {                                                                                              \
        method, pattern, fn, #fn, params, flags, action, resource                                  \
    }

/* A path of the web UI: its page, any query (the page reads it). */
#define UI(pattern) R("GET", pattern, page_get_ui, NULL, ROUTE_PAGE, ACT_READ, RES_WEBSITE)

static const route_t routes[] = {
    R("GET", "/health", api_get_health, p_none, ROUTE_PUBLIC | ROUTE_DB_OPTIONAL, ACT_NONE,
      RES_NONE),
    R("GET", V1 "/health", api_get_health, p_none, ROUTE_PUBLIC | ROUTE_DB_OPTIONAL, ACT_NONE,
      RES_NONE),
    R("GET", V1 "/version", api_get_version, p_none, ROUTE_PUBLIC | ROUTE_DB_OPTIONAL, ACT_NONE,
      RES_NONE),
    /* Prometheus: Basic or a bearer token, as the API; whoever may read Jobs. */
    R("GET", "/metrics", api_get_metrics, p_none, ROUTE_DB_OPTIONAL, ACT_READ, RES_JOBS),
    R("GET", "/login", page_get_login, p_login, ROUTE_PUBLIC | ROUTE_DB_OPTIONAL, ACT_NONE,
      RES_NONE),
    R("POST", "/login", page_post_login, p_login, ROUTE_PUBLIC, ACT_NONE, RES_NONE),
    R("POST", "/logout", page_post_logout, p_none, ROUTE_PUBLIC, ACT_NONE, RES_NONE),
    R("GET", "/", page_get_root, p_none, ROUTE_PAGE, ACT_READ, RES_WEBSITE),
    R("GET", "/assets/{}", page_get_asset, p_none, ROUTE_PUBLIC | ROUTE_DB_OPTIONAL, ACT_NONE,
      RES_NONE),
    /* The UI's paths: one page, which reads the path and its query. */
    UI("/dags"),
    UI("/dags/*"),
    UI("/runs"),
    UI("/task-instances"),
    UI("/import-errors"),
    UI("/jobs"),
    UI("/pools"),
    UI("/variables"),
    UI("/connections"),
    UI("/users"),
    UI("/events"),
    UI("/config"),
    R("GET", "/ui/me", api_get_ui_me, p_none, 0, ACT_READ, RES_WEBSITE),
    R("GET", "/ui/changes", api_get_ui_changes, p_changes, 0, ACT_READ, RES_DAGS),
    R("GET", "/ui/jobs", api_get_ui_jobs, p_ui_jobs, 0, ACT_READ, RES_JOBS),
    R("GET", V1 "/config", api_get_config, p_config, ROUTE_DB_OPTIONAL, ACT_READ, RES_CONFIG),
    R("GET", V1 "/dags", api_get_dags, p_dags, ROUTE_CACHED, ACT_READ, RES_DAGS),
    R("PATCH", V1 "/dags", api_patch_dags, p_patch_dags, 0, ACT_EDIT, RES_DAGS),
    R("GET", V1 "/dags/{}", api_get_dag, p_none, ROUTE_CACHED, ACT_READ, RES_DAGS),
    R("PATCH", V1 "/dags/{}", api_patch_dag, p_patch_dag, 0, ACT_EDIT, RES_DAGS),
    R("GET", V1 "/dags/{}/details", api_get_dag_details, p_none, ROUTE_CACHED, ACT_READ, RES_DAGS),
    R("GET", V1 "/dags/{}/tasks", api_get_tasks, p_order, ROUTE_CACHED, ACT_READ,
      RES_TASK_INSTANCES),
    R("GET", V1 "/dags/{}/tasks/{}", api_get_task, p_none, ROUTE_CACHED, ACT_READ,
      RES_TASK_INSTANCES),
    R("GET", V1 "/dagSources/{}", api_get_dag_source, p_none, 0, ACT_READ, RES_DAG_CODE),
    R("GET", V1 "/dagStats", api_get_dag_stats, p_dag_stats, 0, ACT_READ, RES_DAG_RUNS),
    R("POST", V1 "/dags/~/dagRuns/list", api_post_dag_runs_batch, p_none, 0, ACT_READ,
      RES_DAG_RUNS),
    R("POST", V1 "/dags/~/dagRuns/~/taskInstances/list", api_post_task_instances_batch, p_none, 0,
      ACT_READ, RES_TASK_INSTANCES),
    R("GET", V1 "/dags/{}/dagRuns", api_get_dag_runs, p_runs, 0, ACT_READ, RES_DAG_RUNS),
    R("POST", V1 "/dags/{}/dagRuns", api_post_dag_run, p_none, 0, ACT_CREATE, RES_DAG_RUNS),
    R("POST", V1 "/dags/{}/clearTaskInstances", api_post_clear_task_instances, p_none, 0, ACT_EDIT,
      RES_TASK_INSTANCES),
    R("POST", V1 "/dags/{}/updateTaskInstancesState", api_post_set_task_instances_state, p_none, 0,
      ACT_EDIT, RES_TASK_INSTANCES),
    R("GET", RUN, api_get_dag_run, p_none, 0, ACT_READ, RES_DAG_RUNS),
    R("PATCH", RUN, api_patch_dag_run, p_none, 0, ACT_EDIT, RES_DAG_RUNS),
    R("DELETE", RUN, api_delete_dag_run, p_none, 0, ACT_DELETE, RES_DAG_RUNS),
    R("PATCH", RUN "/setNote", api_set_dag_run_note, p_none, 0, ACT_EDIT, RES_DAG_RUNS),
    R("GET", RUN "/taskInstances", api_get_task_instances, p_tis, 0, ACT_READ, RES_TASK_INSTANCES),
    R("GET", RUN "/taskInstances/{}", api_get_task_instance, p_none, 0, ACT_READ,
      RES_TASK_INSTANCES),
    R("PATCH", RUN "/taskInstances/{}", api_patch_task_instance, p_none, 0, ACT_EDIT,
      RES_TASK_INSTANCES),
    R("PATCH", RUN "/taskInstances/{}/setNote", api_set_task_instance_note, p_none, 0, ACT_EDIT,
      RES_TASK_INSTANCES),
    R("PATCH", RUN "/taskInstances/{}/{}/setNote", api_set_mapped_task_instance_note, p_none, 0,
      ACT_EDIT, RES_TASK_INSTANCES),
    R("GET", RUN "/taskInstances/{}/logs/{}", api_get_log, p_log, 0, ACT_READ, RES_TASK_LOGS),
    R("GET", RUN "/taskInstances/{}/xcomEntries", api_get_xcom_entries, p_xcoms, 0, ACT_READ,
      RES_XCOMS),
    R("GET", RUN "/taskInstances/{}/xcomEntries/{}", api_get_xcom_entry, p_xcom, 0, ACT_READ,
      RES_XCOMS),
    R("GET", RUN "/taskInstances/{}/listMapped", api_get_mapped_task_instances, p_mapped, 0,
      ACT_READ, RES_TASK_INSTANCES),
    R("GET", RUN "/taskInstances/{}/{}", api_get_mapped_task_instance, p_none, 0, ACT_READ,
      RES_TASK_INSTANCES),
    R("GET", V1 "/importErrors", api_get_import_errors, p_page, ROUTE_CACHED, ACT_READ,
      RES_IMPORT_ERRORS),
    R("GET", V1 "/importErrors/{}", api_get_import_error, p_none, ROUTE_CACHED, ACT_READ,
      RES_IMPORT_ERRORS),
    R("GET", V1 "/variables", api_get_variables, p_variables, 0, ACT_READ, RES_VARIABLES),
    R("POST", V1 "/variables", api_post_variable, p_none, 0, ACT_CREATE, RES_VARIABLES),
    R("GET", V1 "/variables/{}", api_get_variable, p_none, 0, ACT_READ, RES_VARIABLES),
    R("PATCH", V1 "/variables/{}", api_patch_variable, p_patch_dag, 0, ACT_EDIT, RES_VARIABLES),
    R("DELETE", V1 "/variables/{}", api_delete_variable, p_none, 0, ACT_DELETE, RES_VARIABLES),
    R("GET", V1 "/connections", api_get_connections, p_page, 0, ACT_READ, RES_CONNECTIONS),
    R("POST", V1 "/connections", api_post_connection, p_none, 0, ACT_CREATE, RES_CONNECTIONS),
    R("POST", V1 "/connections/test", api_post_test_connection, p_none, 0, ACT_CREATE,
      RES_CONNECTIONS),
    R("GET", V1 "/connections/{}", api_get_connection, p_none, 0, ACT_READ, RES_CONNECTIONS),
    R("PATCH", V1 "/connections/{}", api_patch_connection, p_patch_dag, 0, ACT_EDIT,
      RES_CONNECTIONS),
    R("DELETE", V1 "/connections/{}", api_delete_connection, p_none, 0, ACT_DELETE,
      RES_CONNECTIONS),
    R("GET", V1 "/pools", api_get_pools, p_pools, 0, ACT_READ, RES_POOLS),
    R("POST", V1 "/pools", api_post_pool, p_none, 0, ACT_CREATE, RES_POOLS),
    R("GET", V1 "/pools/{}", api_get_pool, p_none, 0, ACT_READ, RES_POOLS),
    R("PATCH", V1 "/pools/{}", api_patch_pool, p_patch_dag, 0, ACT_EDIT, RES_POOLS),
    R("DELETE", V1 "/pools/{}", api_delete_pool, p_none, 0, ACT_DELETE, RES_POOLS),
    R("GET", V1 "/users", api_get_users, p_page, 0, ACT_READ, RES_USERS),
    R("POST", V1 "/users", api_post_user, p_none, 0, ACT_CREATE, RES_USERS),
    R("GET", V1 "/users/{}", api_get_user, p_none, 0, ACT_READ, RES_USERS),
    R("PATCH", V1 "/users/{}", api_patch_user, p_patch_dag, 0, ACT_EDIT, RES_USERS),
    R("DELETE", V1 "/users/{}", api_delete_user, p_none, 0, ACT_DELETE, RES_USERS),
    R("GET", V1 "/roles", api_get_roles, p_page, 0, ACT_READ, RES_ROLES),
    R("GET", V1 "/roles/{}", api_get_role, p_none, 0, ACT_READ, RES_ROLES),
    R("GET", V1 "/permissions", api_get_permissions, p_pools, 0, ACT_READ, RES_PERMISSIONS),
    R("GET", V1 "/eventLogs", api_get_event_logs, p_events, 0, ACT_READ, RES_AUDIT_LOGS),
    R("GET", V1 "/eventLogs/{}", api_get_event_log, p_none, 0, ACT_READ, RES_AUDIT_LOGS),
    /* Airflow 3's stored backfills (REST API v2); the UI's list adds progress. */
    R("GET", V2 "/backfills", api_get_backfills, p_backfills, 0, ACT_READ, RES_DAG_RUNS),
    R("POST", V2 "/backfills", api_post_backfill, p_none, 0, ACT_CREATE, RES_DAG_RUNS),
    R("POST", V2 "/backfills/dry_run", api_post_backfill_dry_run, p_none, 0, ACT_CREATE,
      RES_DAG_RUNS),
    R("GET", V2 "/backfills/{}", api_get_backfill, p_none, 0, ACT_READ, RES_DAG_RUNS),
    R("PUT", V2 "/backfills/{}/pause", api_put_backfill_pause, p_none, 0, ACT_CREATE, RES_DAG_RUNS),
    R("PUT", V2 "/backfills/{}/unpause", api_put_backfill_unpause, p_none, 0, ACT_CREATE,
      RES_DAG_RUNS),
    R("PUT", V2 "/backfills/{}/cancel", api_put_backfill_cancel, p_none, 0, ACT_CREATE,
      RES_DAG_RUNS),
    /* Airflow 3's DAG versions and the text of each (REST API v2). */
    R("GET", V2 "/dagSources/{}", api_get_dag_source_v2, p_version, 0, ACT_READ, RES_DAG_CODE),
    R("GET", V2 "/dags/{}/dagVersions", api_get_dag_versions, p_versions, 0, ACT_READ, RES_DAGS),
    R("GET", V2 "/dags/{}/dagVersions/{}", api_get_dag_version, p_none, 0, ACT_READ, RES_DAGS),
    R("GET", "/ui/backfills", api_get_ui_backfills, p_backfills, 0, ACT_READ, RES_DAG_RUNS),
    /* The web UI's aggregated reads (api_ui.c): not Airflow's API, JSON all the same. */
    R("GET", "/ui/dags", api_get_ui_dags, p_ui_dags, 0, ACT_READ, RES_DAGS),
    R("GET", "/ui/grid/{}", api_get_ui_grid, p_ui_grid, 0, ACT_READ, RES_TASK_INSTANCES),
    R("GET", "/ui/gantt/{}/{}", api_get_ui_gantt, p_none, 0, ACT_READ, RES_TASK_INSTANCES),
    R("GET", "/ui/durations/{}", api_get_ui_durations, p_ui_limit, 0, ACT_READ, RES_TASK_INSTANCES),
    R("GET", "/ui/calendar/{}", api_get_ui_calendar, p_ui_calendar, 0, ACT_READ, RES_DAG_RUNS),
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
static bool build_key(keyb_t *k, const char *method, const httpq_path_t *path, const httpq_t *q,
                      role_mask_t roles)
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
    /* Who asks: the caller's roles, so that an answer is only ever served
     * to callers who may see all of it (were answers to differ by role). */
    char rolebuf[16];
    snprintf(rolebuf, sizeof(rolebuf), "%u", roles);
    key_add(k, rolebuf);
    return !k->bad;
}

static bool method_is_safe(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "OPTIONS") == 0;
}

/* Writes a successful state change to the event log (a failure is only a warning). */
static void audit(const api_req_t *r, const route_t *rt)
{
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    const char *uri = ri->local_uri_raw ? ri->local_uri_raw : ri->local_uri;
    char event[96], err[256];
    char *extra = NULL;
    cJSON *x = cJSON_CreateObject();
    eventlog_entry_t e = {.event = event, .map_index = -2, .execution_date = TS_NONE};
    bool on_dag = strncmp(rt->pattern, V1 "/dags/{}", strlen(V1 "/dags/{}")) == 0;

    snprintf(event, sizeof(event), "api.%s", rt->fn_name + strlen("api_"));
    if (on_dag && r->ncap > 0 && strcmp(r->cap[0], "~") != 0)
        e.dag_id = r->cap[0];
    if (on_dag && strstr(rt->pattern, "/dagRuns/{}") && r->ncap > 1 && strcmp(r->cap[1], "~") != 0)
        e.run_id = r->cap[1];
    if (on_dag && strstr(rt->pattern, "/taskInstances/{}") && r->ncap > 2)
        e.task_id = r->cap[2];
    if (r->ev_dag_id)
        e.dag_id = r->ev_dag_id;
    if (r->ev_run_id)
        e.run_id = r->ev_run_id;
    if (r->ev_task_id)
        e.task_id = r->ev_task_id;
    e.owner = r->who.username[0] ? r->who.username : "anonymous";
    e.owner_display_name = r->who.display[0] ? r->who.display : e.owner;
    e.address = r->address;
    /* The method and path only: a body may hold a password or a secret value. */
    if (x && cJSON_AddStringToObject(x, "method", ri->request_method) &&
        cJSON_AddStringToObject(x, "path", uri ? uri : ""))
        extra = cJSON_PrintUnformatted(x);
    cJSON_Delete(x);
    e.extra = extra;
    if (eventlog_add(r->db, &e, err, sizeof(err)) < 0)
        log_warn("cannot write the event log event=%s error=\"%s\"", event, err);
    cJSON_free(extra);
}

/* The caller of a route that needs a permission: 0, or the status answered. */
static int check_caller(const api_t *api, api_req_t *r, const route_t *rt, const char *method)
{
    int status = auth_identify(api->auth, r->conn, r->db, r->address, &r->who);

    if (status)
        return status;
    if (!roles_allow(r->who.roles, rt->action, rt->resource)) {
        if (r->who.user_id == 0 && (rt->flags & ROUTE_PAGE))
            return page_redirect_login(r);
        if (r->who.user_id == 0)
            return auth_unauthorized(r->conn, "this request needs a login: a session, HTTP Basic "
                                              "credentials or a bearer token");
        http_send_problem(r->conn, 403, "Forbidden",
                          "user '%s' may not do this: it needs the %s permission on %s",
                          r->who.username, roles_action_name(rt->action),
                          roles_resource_name(rt->resource));
        return 403;
    }
    if (!method_is_safe(method) && !auth_csrf_ok(&r->who, r->conn, NULL)) {
        http_send_problem(r->conn, 403, "Forbidden",
                          "the CSRF token is missing or wrong: send the " AUTH_CSRF_COOKIE
                          " cookie's value in the " AUTH_CSRF_HEADER " header");
        return 403;
    }
    return 0;
}

/* Runs a matched route: query, caller, cache, database, handler, event log. */
static int run_route(const api_t *api, struct mg_connection *conn, const route_t *rt,
                     const httpq_path_t *path)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    api_req_t r = {.conn = conn, .api = api};
    char keybuf[KEY_MAX];
    keyb_t key = {.buf = keybuf, .cap = sizeof(keybuf)};
    bool public = (rt->flags & ROUTE_PUBLIC) != 0;
    char err[256];
    int status;

    proxies_client(api->proxies, conn, r.address_buf, sizeof(r.address_buf));
    r.address = r.address_buf;
    httpq_path_match(path, rt->pattern, r.cap, 4, &r.ncap);
    if (httpq_parse(&r.q, ri->query_string, err, sizeof(err)) < 0 ||
        (rt->params && httpq_check_allowed(&r.q, rt->params, err, sizeof(err)) < 0)) {
        http_send_problem(conn, 400, NULL, "%s", err);
        status = 400;
        goto out;
    }
    /* Who calls is read from the database, before the cache is asked. */
    if (!public && auth_enabled(api->auth))
        r.db = dbpool_acquire(api->pool, api->db_wait_ms, err, sizeof(err));
    if (!public && (status = check_caller(api, &r, rt, ri->request_method)) != 0)
        goto out;
    if ((rt->flags & ROUTE_CACHED) && apicache_begin(api->cache, &r.gen)) {
        if (build_key(&key, ri->request_method, path, &r.q, r.who.roles)) {
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
    if (!r.db)
        r.db = dbpool_acquire(api->pool, api->db_wait_ms, err, sizeof(err));
    if (!r.db && !(rt->flags & ROUTE_DB_OPTIONAL)) {
        log_warn("no database connection for request error=\"%s\"", err);
        http_send_problem(conn, 503, NULL, "the metadata database is unavailable");
        status = 503;
        goto out;
    }
    status = rt->fn(&r);
    /* A change, not a read sent as POST (the batch lists). */
    if (status >= 200 && status < 300 && !public && rt->action != ACT_READ &&
        !method_is_safe(ri->request_method) && r.db)
        audit(&r, rt);
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

    if (api->guard && (status = guard_check(api->guard, conn)) != 0)
        return status;
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

void api_print_routes(FILE *f)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const route_t *rt = &routes[i];
        bool public = (rt->flags & ROUTE_PUBLIC) != 0;
        fprintf(f, "%s\t%s\t%s\t%s\t%s\t", rt->method, rt->pattern,
                public ? "-" : roles_action_name(rt->action),
                public ? "-" : roles_resource_name(rt->resource),
                public ? "-" : roles_name(roles_min_role(rt->action, rt->resource)));
        for (size_t j = 0; rt->params && rt->params[j]; j++)
            fprintf(f, "%s%s", j ? "," : "", rt->params[j]);
        if (!rt->params)
            fputc('*', f);
        fputc('\n', f);
    }
}
