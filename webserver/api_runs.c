/*
 * api_runs.c - the DAG run routes of the REST API: the list (of one DAG,
 * or of every DAG with "~") and its POST form (dags/~/dagRuns/list), one
 * run, POST (a manual run, through store/dagrun.h), PATCH (mark a run
 * success, failed or queued, through sched/clear.h), DELETE, setNote, and
 * dagStats (how many runs of each DAG are in each state). Shapes follow
 * Airflow 2's DAGRun schema.
 */
#include "webserver/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "sched/clear.h"
#include "store/dagrun.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

#define TS HTTP_SQL_TS

/*
 * The DAGRun schema, one row per member in answer order. Column-descriptor
 * tables like this one are the one deliberate place where SQL fragments
 * live outside lib/store (see api_dags.c).
 */
static const api_field_t run_fields[] = {
    {"dag_run_id", "dr.run_id", API_STR},
    {"dag_id", "dr.dag_id", API_STR},
    {"logical_date", TS("dr.logical_date"), API_TS},
    {"execution_date", TS("dr.logical_date"), API_TS},
    {"start_date", TS("dr.start_date"), API_TS},
    {"end_date", TS("dr.end_date"), API_TS},
    {"data_interval_start", TS("dr.data_interval_start"), API_TS},
    {"data_interval_end", TS("dr.data_interval_end"), API_TS},
    {"last_scheduling_decision", TS("dr.last_scheduling_decision"), API_TS},
    {"run_type", "dr.run_type", API_STR},
    {"state", "dr.state", API_STR},
    {"external_trigger", "dr.external_trigger", API_BOOL},
    {"conf", "dr.conf::text", API_JSON},
    {"note", "dr.note", API_STR},
    /* The DAG version the run uses (Airflow 3 lists it in dag_versions). */
    {"dag_version_id", "dr.dag_version_id::text", API_STR},
    {"version_number",
     "(SELECT v.version_number FROM dag_version v WHERE v.id = dr.dag_version_id)", API_INT},
};

static const api_resource_t run_resource = {"dag_run dr", run_fields, API_NFIELDS(run_fields)};

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

static const api_sorting_t run_sorting = {run_sorts, API_NFIELDS(run_sorts), "id", true, "dr.id"};

int api_get_dag_runs(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    char err[256];
    int status = api_read_page(r, &run_sorting, &p);

    if (status != 0)
        return status;
    /* "~" lists the runs of every DAG, as in Airflow. */
    if (strcmp(r->cap[0], "~") != 0)
        sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    if (api_filter_ts_range(r, &b, "execution_date", "dr.logical_date", err, sizeof(err)) < 0 ||
        api_filter_ts_range(r, &b, "start_date", "dr.start_date", err, sizeof(err)) < 0 ||
        api_filter_ts_range(r, &b, "end_date", "dr.end_date", err, sizeof(err)) < 0) {
        sqlb_free(&b);
        return api_bad_request(r, err);
    }
    api_filter_list(r, &b, "state", "dr.state");
    api_filter_list(r, &b, "run_type", "dr.run_type");
    status = api_send_collection(r, "dag_runs", &run_resource, &b, p.order, &p);
    sqlb_free(&b);
    return status;
}

int api_get_dag_run(api_req_t *r)
{
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res;
    int status;

    sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    status = api_fetch(r, &run_resource, &b, &res, &m);
    if (status != 0)
        return status;
    if (PQntuples(res) == 0)
        status = api_not_found(r, "DAGRun not found",
                               "DAGRun with DAG ID: '%s' and DagRun ID: '%s' not found", r->cap[0],
                               r->cap[1]);
    else
        status = api_send_row(r, &run_resource, &m, res);
    PQclear(res);
    return status;
}

/* ---- POST: a manual run --------------------------------------------------- */

/* What a POST body asks for; conf_text is owned (cJSON_free). */
typedef struct run_request {
    dagrun_spec_t spec;
    const char *note;
    char *conf_text;
} run_request_t;

/* The dates of a POST body into the spec; 0, or -1 with the detail in err. */
static int read_run_dates(const cJSON *body, dagrun_spec_t *spec, char *err, size_t errlen)
{
    ts_us_t logical, exec_date;

    if (api_body_ts(body, "logical_date", &logical, err, errlen) < 0 ||
        api_body_ts(body, "execution_date", &exec_date, err, errlen) < 0 ||
        api_body_ts(body, "data_interval_start", &spec->interval_start, err, errlen) < 0 ||
        api_body_ts(body, "data_interval_end", &spec->interval_end, err, errlen) < 0)
        return -1;
    if (logical != TS_NONE && exec_date != TS_NONE && logical != exec_date) {
        snprintf(err, errlen, "logical_date conflicts with execution_date");
        return -1;
    }
    spec->logical_date = logical != TS_NONE ? logical : exec_date;
    if ((spec->interval_start == TS_NONE) != (spec->interval_end == TS_NONE)) {
        snprintf(err, errlen,
                 "data_interval_start and data_interval_end must be given "
                 "together");
        return -1;
    }
    if (spec->interval_start != TS_NONE && spec->interval_start > spec->interval_end) {
        snprintf(err, errlen, "data_interval_start must not be after data_interval_end");
        return -1;
    }
    return 0;
}

/*
 * Reads a POST body into rq. 0, or the status of the answer sent (400 with
 * Airflow's wording, or 500).
 */
static int read_run_request(api_req_t *r, const cJSON *body, run_request_t *rq)
{
    static const char *const known[] = {
        "dag_run_id", "logical_date",        "execution_date",    "conf",
        "note",       "data_interval_start", "data_interval_end", NULL};
    char err[512];
    const cJSON *conf;

    if (api_body_check_known(body, known, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    rq->spec.dag_id = r->cap[0];
    rq->spec.type = DAGRUN_MANUAL;
    if (api_body_str(body, "dag_run_id", &rq->spec.run_id) < 0)
        return api_bad_request(r, "{'dag_run_id': ['Not a valid string.']}");
    if (rq->spec.run_id && !dagrun_run_id_valid(rq->spec.run_id))
        return api_bad_request(r, "The provided run ID does not match the pattern "
                                  "^[A-Za-z0-9_.~:+-]+$ (at most 250 characters)");
    if (read_run_dates(body, &rq->spec, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    conf = cJSON_GetObjectItemCaseSensitive(body, "conf");
    if (conf && !cJSON_IsNull(conf)) {
        if (!cJSON_IsObject(conf))
            return api_bad_request(r, "{'conf': ['Not a valid mapping type.']}");
        rq->conf_text = cJSON_PrintUnformatted(conf);
        if (!rq->conf_text)
            return api_send_json(r, 500, NULL);
        rq->spec.conf_json = rq->conf_text;
    }
    if (api_body_str(body, "note", &rq->note) < 0)
        return api_bad_request(r, "{'note': ['Not a valid string.']}");
    return 0;
}

/* Creates the run; 0 with its row id in *id, or the status of the answer sent. */
static int create_run(api_req_t *r, const run_request_t *rq, int64_t *id)
{
    char err[512], run_id[DAGRUN_ID_MAX + 1];
    int rc = dagrun_create(r->db, &rq->spec, id, run_id, err, sizeof(err));

    switch (rc) {
    case 0:
        apicache_bump(r->api->cache);
        snprintf(r->ev_buf, sizeof(r->ev_buf), "%s", run_id);
        r->ev_run_id = r->ev_buf;
        return 0;
    case UPDRAFT_EEXISTS:
        http_send_problem(r->conn, 409, "DAGRun already exists", "%s", err);
        return 409;
    case UPDRAFT_ENOTFOUND:
        http_send_problem(r->conn, 404, "DAG not found", "%s", err);
        return 404;
    case UPDRAFT_EINVALID:
        return api_bad_request(r, err);
    default:
        return api_db_failed(r);
    }
}

/* Sets the new run's note (if any) and answers the run as stored. */
static int send_new_run(api_req_t *r, int64_t id, const char *note)
{
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res;
    int status, rc;

    if (note && (rc = dagrun_set_note(r->db, id, note)) < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    sqlb_add(&b, " AND dr.id = $%d", sqlb_param_i64(&b, id));
    status = api_fetch(r, &run_resource, &b, &res, &m);
    if (status != 0)
        return status;
    if (PQntuples(res) == 0) {
        http_send_problem(r->conn, 500, NULL, "the new DAG run vanished");
        status = 500;
    } else {
        status = api_send_row(r, &run_resource, &m, res);
    }
    PQclear(res);
    return status;
}

int api_post_dag_run(api_req_t *r)
{
    run_request_t rq = {0};
    int64_t id = 0;
    int status = 0;
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    status = read_run_request(r, body, &rq);
    if (status == 0)
        status = create_run(r, &rq, &id);
    if (status == 0)
        status = send_new_run(r, id, rq.note);
    cJSON_free(rq.conf_text);
    cJSON_Delete(body);
    return status;
}

/* ---- PATCH: mark a run ---------------------------------------------------- */

static int run_not_found(api_req_t *r)
{
    return api_not_found(r, "DAGRun not found", "Dag Run id %s not found in dag %s", r->cap[1],
                         r->cap[0]);
}

/*
 * PATCH /dags/{dag_id}/dagRuns/{dag_run_id} (UpdateDagRunState), as
 * Airflow 2's update_dag_run_state: the run must exist (404 before the
 * body is looked at), state is success, failed or queued.
 */
int api_patch_dag_run(api_req_t *r)
{
    static const char *const known[] = {"state", NULL};
    char err[512];
    int status = 0, rc;
    const char *state = NULL;
    cJSON *body;
    dagrun_ref_t run;

    rc = dagrun_find(r->db, r->cap[0], r->cap[1], NULL, &run);
    if (rc == UPDRAFT_ENOTFOUND)
        return run_not_found(r);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    body = api_read_body(r, &status);
    if (!body)
        return status;
    if (api_body_check_known(body, known, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    if (api_body_str(body, "state", &state) < 0 || !state ||
        (strcmp(state, "success") != 0 && strcmp(state, "failed") != 0 &&
         strcmp(state, "queued") != 0)) {
        status = api_bad_request(r, "{'state': ['Must be one of: success, failed, queued.']}");
        goto out;
    }
    rc = clear_mark_run(r->db, r->cap[0], r->cap[1], state, err, sizeof(err));
    if (rc == UPDRAFT_ENOTFOUND) {
        status = run_not_found(r);
        goto out;
    }
    if (rc < 0) {
        log_warn("mark dag run failed dag_id=%s run_id=%s error=\"%s\"", r->cap[0], r->cap[1], err);
        status = api_db_failed(r);
        goto out;
    }
    apicache_bump(r->api->cache);
    status = api_get_dag_run(r);
out:
    cJSON_Delete(body);
    return status;
}

/* ---- DELETE, setNote ------------------------------------------------------ */

/* DELETE /dags/{dag_id}/dagRuns/{dag_run_id} (delete_dag_run): 204, or 404. */
int api_delete_dag_run(api_req_t *r)
{
    int rc = dagrun_delete(r->db, r->cap[0], r->cap[1]);

    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, NULL, "DAGRun with DAG ID: '%s' and DagRun ID: '%s' not found",
                             r->cap[0], r->cap[1]);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    apicache_bump(r->api->cache);
    log_info("dag run deleted dag_id=%s run_id=%s", r->cap[0], r->cap[1]);
    return api_send_no_content(r);
}

/*
 * PATCH /dags/{dag_id}/dagRuns/{dag_run_id}/setNote (set_dag_run_note), as
 * Airflow 2: the run must exist (404 before the body is read); note is a
 * string of at most 1000 characters, or null. Answers the DAGRun.
 */
int api_set_dag_run_note(api_req_t *r)
{
    const char *note = NULL;
    dagrun_ref_t run;
    int status = 0, rc = dagrun_find(r->db, r->cap[0], r->cap[1], NULL, &run);
    cJSON *body;

    if (rc == UPDRAFT_ENOTFOUND)
        return run_not_found(r);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    if (!(body = api_read_body(r, &status)))
        return status;
    status = api_read_note(r, body, &note);
    if (status == 0 && (rc = dagrun_set_note(r->db, run.id, note)) < 0)
        status = api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    if (status == 0) {
        apicache_bump(r->api->cache);
        status = api_get_dag_run(r);
    }
    cJSON_Delete(body);
    return status;
}

/* ---- POST dags/~/dagRuns/list --------------------------------------------- */

/*
 * POST /dags/~/dagRuns/list (get_dag_runs_batch), Airflow's
 * ListDagRunsForm: dag_ids and states (lists, OR within each; empty or
 * absent: all), execution/start/end date ranges, order_by, page_offset,
 * page_limit.
 */
int api_post_dag_runs_batch(api_req_t *r)
{
    static const char *const known[] = {
        "dag_ids",        "states",         "execution_date_gte", "execution_date_lte",
        "start_date_gte", "start_date_lte", "end_date_gte",       "end_date_lte",
        "order_by",       "page_offset",    "page_limit",         NULL};
    sqlb_t b = {0};
    api_page_t p;
    char err[512];
    int status = 0;
    cJSON *body = api_read_fields(r, known, NULL, NULL, &status);

    if (!body)
        return status;
    if ((status = api_read_body_page(r, body, &run_sorting, &p)) != 0)
        goto out;
    if (api_filter_body_list(&b, body, "dag_ids", "dr.dag_id", NULL, err, sizeof(err)) < 0 ||
        api_filter_body_list(&b, body, "states", "dr.state", NULL, err, sizeof(err)) < 0 ||
        api_filter_body_ts_range(&b, body, "execution_date", "dr.logical_date", err, sizeof(err)) <
            0 ||
        api_filter_body_ts_range(&b, body, "start_date", "dr.start_date", err, sizeof(err)) < 0 ||
        api_filter_body_ts_range(&b, body, "end_date", "dr.end_date", err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    status = api_send_collection(r, "dag_runs", &run_resource, &b, p.order, &p);
out:
    sqlb_free(&b);
    cJSON_Delete(body);
    return status;
}

/* ---- GET dagStats --------------------------------------------------------- */

/* The comma-separated ids of the dag_ids parameter as a JSON array (cJSON_free), or NULL. */
static char *dag_ids_json(const char *list)
{
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;

    while (arr && list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        cJSON *id = cJSON_CreateString("");
        char *copy = strndup(list, len);
        if (!id || !copy || !cJSON_SetValuestring(id, copy)) {
            cJSON_Delete(id);
            free(copy);
            goto out;
        }
        free(copy);
        cJSON_AddItemToArray(arr, id);
        list = comma ? comma + 1 : NULL;
    }
    text = arr ? cJSON_PrintUnformatted(arr) : NULL;
out:
    cJSON_Delete(arr);
    return text;
}

/* {"dags": [{"dag_id", "stats": [{"state", "count"}]}], "total_entries"} of the rows. */
static int send_dag_stats(api_req_t *r, const PGresult *res)
{
    int n = PQntuples(res), dags = 0, status;
    const char *prev = NULL;
    jsonw_t w;

    jsonw_init(&w, (size_t)n * 48 + 64);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "dags");
    jsonw_arr_begin(&w);
    for (int i = 0; i < n; i++) {
        const char *dag_id = PQgetvalue(res, i, DAGRUN_COUNT_COL_DAG_ID);
        if (!prev || strcmp(prev, dag_id) != 0) {
            if (prev) {
                jsonw_arr_end(&w);
                jsonw_obj_end(&w);
            }
            jsonw_obj_begin(&w);
            jsonw_key(&w, "dag_id");
            jsonw_str(&w, dag_id);
            jsonw_key(&w, "stats");
            jsonw_arr_begin(&w);
            prev = dag_id;
            dags++;
        }
        jsonw_obj_begin(&w);
        jsonw_key(&w, "state");
        jsonw_pg_str(&w, res, i, DAGRUN_COUNT_COL_STATE);
        jsonw_key(&w, "count");
        jsonw_pg_int(&w, res, i, DAGRUN_COUNT_COL_COUNT);
        jsonw_obj_end(&w);
    }
    if (prev) {
        jsonw_arr_end(&w);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_key(&w, "total_entries");
    jsonw_i64(&w, dags);
    jsonw_obj_end(&w);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}

/*
 * GET /dagStats?dag_ids=a,b (get_dag_stats): for each DAG named that
 * exists, how many of its runs are in each state, zeros included, in one
 * aggregated statement. dag_ids is required, as in the 2.x spec.
 */
int api_get_dag_stats(api_req_t *r)
{
    const char *list = httpq_get(&r->q, "dag_ids");
    PGresult *res = NULL;
    char *ids;
    int status, rc;

    if (!list)
        return api_bad_request(r, "Missing query parameter 'dag_ids'");
    if (!(ids = dag_ids_json(list)))
        return api_send_json(r, 500, NULL);
    rc = dagrun_state_counts(r->db, ids, &res);
    cJSON_free(ids);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    status = send_dag_stats(r, res);
    PQclear(res);
    return status;
}
