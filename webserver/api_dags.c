/*
 * api_dags.c - the DAG routes of the REST API: the list (filtered by
 * activity, pause state, id pattern and tags), one DAG, its details
 * (DAGDetail: the DAG and what its parsed version adds), and PATCH of one
 * DAG or of a page of them (is_paused only, as in Airflow). Shapes follow
 * Airflow 2's DAG schema; the reads are answered from the response cache.
 */
#include "webserver/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "model/cron.h"
#include "store/dags.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

#define TS HTTP_SQL_TS

const char *api_schedule_description(const char *schedule, char *buf, size_t len)
{
    static const struct {
        const char *preset, *text;
    } presets[] = {
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
    if (schedule_expression(schedule, buf, len))
        schedule = buf;
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strcmp(schedule, presets[i].preset) == 0)
            return presets[i].text;
    return schedule;
}

static void write_timetable_description(jsonw_t *w, const char *schedule)
{
    char buf[512];
    jsonw_str(w, api_schedule_description(schedule, buf, sizeof buf));
}

/*
 * Airflow's ScheduleInterval: a fixed interval is a TimeDelta (days,
 * seconds below a day, microseconds, as Python's timedelta keeps them),
 * anything else the CronExpression it was written as; a CronTriggerTimetable
 * its cron expression (Airflow 2 keeps a timetable's summary there).
 */
static void write_schedule_interval(jsonw_t *w, const char *schedule)
{
    schedule_t parsed;
    char err[256], expr[512];

    if (!schedule) {
        jsonw_null(w);
        return;
    }
    if (schedule_parse(schedule, &parsed, err, sizeof(err)) == 0 && parsed.kind == SCHEDULE_DELTA) {
        int64_t us = parsed.delta_us;
        jsonw_obj_begin(w);
        jsonw_key(w, "__type");
        jsonw_str(w, "TimeDelta");
        jsonw_key(w, "days");
        jsonw_i64(w, us / 86400000000);
        jsonw_key(w, "seconds");
        jsonw_i64(w, us / 1000000 % 86400);
        jsonw_key(w, "microseconds");
        jsonw_i64(w, us % 1000000);
        jsonw_obj_end(w);
        return;
    }
    jsonw_obj_begin(w);
    jsonw_key(w, "__type");
    jsonw_str(w, "CronExpression");
    jsonw_key(w, "value");
    jsonw_str(w, schedule_expression(schedule, expr, sizeof expr) ? expr : schedule);
    jsonw_obj_end(w);
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

/*
 * The DAG schema, one row per member in answer order. Column-descriptor
 * tables like this one are the one deliberate place where SQL fragments
 * (column expressions, the FROM clause) live outside lib/store: the select
 * list and the JSON writer are both generated from them, so that a field
 * is added in one row.
 */
static const api_field_t dag_fields[] = {
    {"dag_id", "d.dag_id", API_STR},
    {"dag_display_name", "d.dag_id", API_STR},
    {"root_dag_id", NULL, API_CONST, "null"},
    {"is_paused", "d.is_paused", API_BOOL},
    {"is_active", "d.is_active", API_BOOL},
    {"is_subdag", NULL, API_CONST, "false"},
    {"last_parsed_time", TS("d.last_parsed_time"), API_TS},
    {"last_pickled", NULL, API_CONST, "null"},
    {"last_expired", NULL, API_CONST, "null"},
    {"scheduler_lock", NULL, API_CONST, "null"},
    {"pickle_id", NULL, API_CONST, "null"},
    {"default_view", NULL, API_CONST, "\"grid\""},
    {"fileloc", "d.fileloc", API_STR},
    {"file_token", DAGS_FILE_TOKEN_SQL("d.fileloc"), API_STR},
    {"owners", "d.owners", API_FN, .fn = write_owners},
    {"description", "d.description", API_STR},
    {"schedule_interval", "d.schedule", API_FN, .fn = write_schedule_interval},
    {"timetable_description", "d.schedule", API_FN, .fn = write_timetable_description},
    {"tags", "array_to_json(d.tags)::text", API_FN, .fn = write_tags},
    {"max_active_tasks", "d.max_active_tasks", API_INT},
    {"max_active_runs", "d.max_active_runs", API_INT},
    {"max_consecutive_failed_dag_runs", NULL, API_CONST, "0"},
    {"has_task_concurrency_limits", NULL, API_CONST, "false"},
    {"has_import_errors", "EXISTS (SELECT 1 FROM import_error ie WHERE ie.filename = d.fileloc)",
     API_BOOL},
    {"next_dagrun", TS("d.next_dagrun"), API_TS},
    {"next_dagrun_data_interval_start", TS("d.next_dagrun"), API_TS},
    {"next_dagrun_data_interval_end", TS("d.next_dagrun_create_after"), API_TS},
    {"next_dagrun_create_after", TS("d.next_dagrun_create_after"), API_TS},
};

static const api_resource_t dag_resource = {"dag d", dag_fields, API_NFIELDS(dag_fields)};

static const httpq_sort_t dag_sorts[] = {
    {"dag_id", "d.dag_id"},
    {"dag_display_name", "d.dag_id"},
    {"fileloc", "d.fileloc"},
    {"is_paused", "d.is_paused"},
    {"last_parsed_time", "d.last_parsed_time"},
    {"next_dagrun", "d.next_dagrun"},
};

static const api_sorting_t dag_sorting = {dag_sorts, API_NFIELDS(dag_sorts), "dag_id", true,
                                          "d.dag_id"};

/*
 * only_active (default true), paused, dag_id_pattern, tags. tilde_all: a
 * dag_id_pattern of "~" matches every DAG (PATCH of several DAGs). 0 or -1
 * with err.
 */
static int dag_filters(api_req_t *r, sqlb_t *b, bool tilde_all, char *err, size_t errlen)
{
    const char *pattern = httpq_get(&r->q, "dag_id_pattern");
    bool flag;
    int rc = httpq_get_bool(&r->q, "only_active", &flag, err, errlen);

    if (rc < 0)
        return -1;
    if (rc == 0 || flag)
        sqlb_add(b, " AND d.is_active");
    rc = httpq_get_bool(&r->q, "paused", &flag, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 1)
        sqlb_add(b, " AND d.is_paused = $%d", sqlb_param(b, flag ? "true" : "false"));
    if (pattern && !(tilde_all && strcmp(pattern, "~") == 0))
        sqlb_add(b, " AND d.dag_id ILIKE '%%' || $%d || '%%'", sqlb_param(b, pattern));
    api_filter_values(r, b, "tags", "d.tags && ARRAY");
    return 0;
}

int api_get_dags(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    char err[256];
    int status = api_read_page(r, &dag_sorting, &p);

    if (status != 0)
        return status;
    if (dag_filters(r, &b, false, err, sizeof(err)) < 0)
        status = api_bad_request(r, err);
    else
        status = api_send_collection(r, "dags", &dag_resource, &b, p.order, &p);
    sqlb_free(&b);
    return status;
}

static int send_dag(api_req_t *r, const char *dag_id)
{
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res;
    int status;

    sqlb_add(&b, " AND d.dag_id = $%d", sqlb_param(&b, dag_id));
    status = api_fetch(r, &dag_resource, &b, &res, &m);
    if (status != 0)
        return status;
    if (PQntuples(res) == 0)
        status = api_not_found(r, "DAG not found", "DAG with dag_id: '%s' not found", dag_id);
    else
        status = api_send_row(r, &dag_resource, &m, res);
    PQclear(res);
    return status;
}

int api_get_dag(api_req_t *r)
{
    return send_dag(r, r->cap[0]);
}

/*
 * Only is_paused can be edited, as in Airflow; the update_mask may be
 * repeated or comma-separated but must name nothing else.
 */
static bool mask_is_paused_only(api_req_t *r)
{
    for (size_t i = 0; i < httpq_count(&r->q, "update_mask"); i++) {
        const char *p = httpq_get_nth(&r->q, "update_mask", i);
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
                return false;
            p = comma ? comma + 1 : p + strlen(p);
        }
    }
    return true;
}

/*
 * The update_mask (is_paused only) and the body's is_paused of a PATCH:
 * 0 with *pause, or the status of the 400 (or the body's problem) answered.
 */
static int read_pause(api_req_t *r, bool *pause)
{
    int status = 0;
    cJSON *body, *paused;

    if (!mask_is_paused_only(r))
        return api_bad_request(r, "Only `is_paused` field can be edited through the REST API");
    body = api_read_body(r, &status);
    if (!body)
        return status;
    paused = cJSON_GetObjectItemCaseSensitive(body, "is_paused");
    if (cJSON_IsBool(paused))
        *pause = cJSON_IsTrue(paused);
    else
        status = api_bad_request(r, "{'is_paused': ['Not a valid boolean.']}");
    cJSON_Delete(body);
    return status;
}

int api_patch_dag(api_req_t *r)
{
    const char *dag_id = r->cap[0];
    int status, rc;
    bool pause = false;

    if ((status = read_pause(r, &pause)) != 0)
        return status;
    rc = dags_set_paused(r->db, dag_id, pause);
    if (rc == UPDRAFT_ENOTFOUND)
        return api_fail(r, rc, "DAG not found", "Dag with id: '%s' not found", dag_id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    /* Committed (autocommit): this client must not read its old answer. */
    apicache_bump(r->api->cache);
    log_info("dag %s dag_id=%s", pause ? "paused" : "unpaused", dag_id);
    return send_dag(r, dag_id);
}

/* ---- PATCH of several DAGs ------------------------------------------------ */

/* Only the ids of a page of DAGs are selected to be patched. */
static const api_field_t dag_id_fields[] = {
    {"dag_id", "d.dag_id", API_STR},
};

static const api_resource_t dag_id_resource = {"dag d", dag_id_fields, API_NFIELDS(dag_id_fields)};

/*
 * The ids of the page of DAGs the filters select, by dag_id, as a JSON
 * array in *ids (cJSON_free). 0, or the status answered.
 */
static int select_page_ids(api_req_t *r, const api_page_t *p, char **ids)
{
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res = NULL;
    cJSON *arr = NULL;
    char err[256];
    int status;

    *ids = NULL;
    if (dag_filters(r, &b, true, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    sqlb_add(&b, " ORDER BY d.dag_id LIMIT $%d", sqlb_param_i64(&b, p->limit));
    sqlb_add(&b, " OFFSET $%d", sqlb_param_i64(&b, p->offset));
    if ((status = api_fetch(r, &dag_id_resource, &b, &res, &m)) != 0)
        goto out;
    arr = cJSON_CreateArray();
    for (int i = 0; arr && i < PQntuples(res); i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(PQgetvalue(res, i, m.col[0])));
    if (!arr || !(*ids = cJSON_PrintUnformatted(arr)))
        status = api_send_json(r, 500, NULL);
out:
    cJSON_Delete(arr);
    PQclear(res);
    sqlb_free(&b);
    return status;
}

/*
 * PATCH /dags?dag_id_pattern=... (patch_dags), as Airflow 2: the DAGs of
 * the page (limit, offset, by dag_id) that dag_id_pattern ("~": every
 * DAG), only_active (default true) and tags select get is_paused; the
 * answer is that page as a DAGCollection, total_entries counting every
 * DAG selected.
 */
int api_patch_dags(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    char *ids = NULL, err[256];
    long n = 0;
    bool pause = false;
    int status, rc;

    if (!httpq_get(&r->q, "dag_id_pattern"))
        return api_bad_request(r, "Missing query parameter 'dag_id_pattern'");
    if ((status = api_read_page(r, NULL, &p)) != 0 || (status = read_pause(r, &pause)) != 0 ||
        (status = select_page_ids(r, &p, &ids)) != 0)
        goto out;
    if ((rc = dags_set_paused_many(r->db, ids, pause, &n)) < 0) {
        status = api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
        goto out;
    }
    apicache_bump(r->api->cache);
    log_info("dags %s count=%ld", pause ? "paused" : "unpaused", n);
    if (dag_filters(r, &b, true, err, sizeof(err)) < 0)
        status = api_bad_request(r, err);
    else
        status = api_send_collection(r, "dags", &dag_resource, &b, "d.dag_id", &p);
out:
    cJSON_free(ids);
    sqlb_free(&b);
    return status;
}

/* ---- DAG details ---------------------------------------------------------- */

/* A number of seconds (text) as Airflow's TimeDelta object, or null. */
static void write_timedelta(jsonw_t *w, const char *seconds)
{
    char *end;
    long long s = seconds ? strtoll(seconds, &end, 10) : 0;

    if (!seconds || *end || s <= 0) {
        jsonw_null(w);
        return;
    }
    jsonw_obj_begin(w);
    jsonw_key(w, "__type");
    jsonw_str(w, "TimeDelta");
    jsonw_key(w, "days");
    jsonw_i64(w, s / 86400);
    jsonw_key(w, "seconds");
    jsonw_i64(w, s % 86400);
    jsonw_key(w, "microseconds");
    jsonw_i64(w, 0);
    jsonw_obj_end(w);
}

/*
 * The serialized params ({name: {"default"?, "description"?, "schema"?}})
 * as Airflow's Param.dump() of each: {"__class", "value", "description",
 * "schema"}, a missing default being null.
 */
static void write_params(jsonw_t *w, const char *json)
{
    cJSON *in = json ? cJSON_Parse(json) : NULL, *out = cJSON_CreateObject(), *it;
    const cJSON *params = cJSON_IsObject(in) ? in : NULL;
    char *text;

    cJSON_ArrayForEach(it, params)
    {
        const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(it, "default");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(it, "description");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(it, "schema");
        cJSON *p = cJSON_AddObjectToObject(out, it->string);
        cJSON_AddStringToObject(p, "__class", "airflow.models.param.Param");
        cJSON_AddItemToObject(p, "value", dflt ? cJSON_Duplicate(dflt, 1) : cJSON_CreateNull());
        cJSON_AddItemToObject(p, "description",
                              cJSON_IsString(desc) ? cJSON_Duplicate(desc, 1) : cJSON_CreateNull());
        cJSON_AddItemToObject(p, "schema",
                              cJSON_IsObject(schema) ? cJSON_Duplicate(schema, 1)
                                                     : cJSON_CreateObject());
    }
    text = out ? cJSON_PrintUnformatted(out) : NULL;
    if (text)
        jsonw_raw(w, text, strlen(text));
    else
        jsonw_null(w);
    cJSON_free(text);
    cJSON_Delete(out);
    cJSON_Delete(in);
}

/*
 * What DAGDetail adds to the DAG schema, read from the dag row and its
 * parsed version's document (proto/PROTOCOL.md); one row per member in
 * answer order, after the DAG's members (default_view is the DAG's).
 */
static const api_field_t dag_detail_fields[] = {
    {"catchup", "d.catchup", API_BOOL},
    {"concurrency", "d.max_active_tasks", API_INT},
    {"dag_run_timeout", "v.data->>'dagrun_timeout_sec'", API_FN, .fn = write_timedelta},
    {"dataset_expression", NULL, API_CONST, "null"},
    {"doc_md", "v.data->>'doc_md'", API_STR},
    {"end_date", TS("d.end_date"), API_TS},
    {"is_paused_upon_creation", "(v.data->'is_paused_upon_creation')::text", API_JSON},
    {"last_parsed", TS("d.last_parsed_time"), API_TS},
    {"orientation", NULL, API_CONST, "\"LR\""},
    {"params", "(v.data->'params')::text", API_FN, .fn = write_params},
    {"render_template_as_native_obj", NULL, API_CONST, "false"},
    {"start_date", TS("d.start_date"), API_TS},
    {"template_search_path", NULL, API_CONST, "null"},
    {"timezone", "v.data->>'timezone'", API_STR},
};

static const api_resource_t dag_detail_resource = {
    "dag d LEFT JOIN dag_version v ON v.id = d.version_id", dag_detail_fields,
    API_NFIELDS(dag_detail_fields)};

/* Row 0 of the DAG and of its details as one object. */
static int send_details(api_req_t *r, const PGresult *dag, const api_colmap_t *dm,
                        const PGresult *det, const api_colmap_t *tm)
{
    jsonw_t w;
    int status;

    jsonw_init(&w, 4096);
    jsonw_obj_begin(&w);
    api_write_fields(&w, &dag_resource, dm, dag, 0, 0);
    api_write_fields(&w, &dag_detail_resource, tm, det, 0, 0);
    jsonw_obj_end(&w);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}

/* GET /dags/{dag_id}/details (get_dag_details): the DAG and its DAGDetail members. */
int api_get_dag_details(api_req_t *r)
{
    sqlb_t b = {0};
    api_colmap_t dm, tm;
    PGresult *dag = NULL, *det = NULL;
    int status;

    sqlb_add(&b, " AND d.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    if ((status = api_fetch(r, &dag_resource, &b, &dag, &dm)) != 0 ||
        (status = api_fetch(r, &dag_detail_resource, &b, &det, &tm)) != 0)
        goto out;
    if (PQntuples(dag) == 0 || PQntuples(det) == 0)
        status =
            api_not_found(r, "DAG not found", "The DAG with dag_id: %s was not found", r->cap[0]);
    else
        status = send_details(r, dag, &dm, det, &tm);
out:
    PQclear(dag);
    PQclear(det);
    return status;
}
