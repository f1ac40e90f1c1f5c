/*
 * api_tis.c - the task instance routes of the REST API: the list of a run
 * (or of every run with "~") and its POST form
 * (dags/~/dagRuns/~/taskInstances/list), one task instance, the instances
 * of a mapped task, PATCH (set a state, then resume the failed downstream
 * tasks), POST updateTaskInstancesState (the same over a task, its
 * relatives and runs), POST clearTaskInstances and setNote. Shapes follow
 * Airflow 2's TaskInstance and TaskInstanceReference schemas; clearing and
 * marking go through sched/clear.h.
 */
#include "webserver/api_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "sched/clear.h"
#include "store/dagrun.h"
#include "store/dags.h"
#include "store/ti_admin.h"
#include "webserver/apicache.h"
#include "webserver/http.h"

#define TS HTTP_SQL_TS

/* Airflow has no "none" state: a task instance not yet scheduled has null. */
static void write_state(jsonw_t *w, const char *state)
{
    if (!state || strcmp(state, "none") == 0)
        jsonw_null(w);
    else
        jsonw_str(w, state);
}

/*
 * The TaskInstance schema, one row per member in answer order.
 * Column-descriptor tables like this one are the one deliberate place
 * where SQL fragments live outside lib/store (see api_dags.c).
 */
static const api_field_t ti_fields[] = {
    {"task_id", "ti.task_id", API_STR},
    {"task_display_name", "ti.task_id", API_STR},
    {"dag_id", "ti.dag_id", API_STR},
    {"dag_run_id", "ti.run_id", API_STR},
    {"execution_date", TS("dr.logical_date"), API_TS},
    {"start_date", TS("ti.start_date"), API_TS},
    {"end_date", TS("ti.end_date"), API_TS},
    {"duration", "ti.duration", API_NUM},
    {"state", "ti.state", API_FN, .fn = write_state},
    {"try_number", "ti.try_number", API_INT},
    {"map_index", "ti.map_index", API_INT},
    {"rendered_map_index", NULL, API_CONST, "null"},
    {"max_tries", "ti.max_tries", API_INT},
    {"hostname", "ti.hostname", API_STR},
    {"unixname", NULL, API_CONST, "\"\""},
    {"pool", "ti.pool", API_STR},
    {"pool_slots", "ti.pool_slots", API_INT},
    {"queue", "ti.queue", API_STR},
    {"priority_weight", "ti.priority_weight", API_INT},
    {"operator", "ti.operator", API_STR},
    {"queued_when", TS("ti.queued_at"), API_TS},
    {"pid", "ti.pid", API_INT},
    {"executor", NULL, API_CONST, "null"},
    {"executor_config", NULL, API_CONST, "\"{}\""},
    {"note", "ti.note", API_STR},
    {"sla_miss", NULL, API_CONST, "null"},
    /* The latest try's, stored by the worker (store/ti.h ti_log); {} before any. */
    {"rendered_fields",
     "coalesce((SELECT f.rendered_fields::text FROM rendered_task_instance_fields f"
     " WHERE f.ti_id = ti.id), '{}')",
     API_JSON},
    {"trigger", NULL, API_CONST, "null"},
    {"triggerer_job", NULL, API_CONST, "null"},
};

static const api_resource_t ti_resource = {
    "task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id", ti_fields, API_NFIELDS(ti_fields)};

/* The batch list's order_by (default id, as the GET list). */
static const httpq_sort_t ti_sorts[] = {
    {"id", "ti.id"},
    {"dag_id", "ti.dag_id"},
    {"task_id", "ti.task_id"},
    {"dag_run_id", "ti.run_id"},
    {"execution_date", "dr.logical_date"},
    {"start_date", "ti.start_date"},
    {"end_date", "ti.end_date"},
    {"duration", "ti.duration"},
    {"state", "ti.state"},
    {"try_number", "ti.try_number"},
    {"map_index", "ti.map_index"},
};

static const api_sorting_t ti_sorting = {ti_sorts, API_NFIELDS(ti_sorts), "id", true, "ti.id"};

/* duration_gte / duration_lte: seconds, as numbers. */
static int filter_duration(api_req_t *r, sqlb_t *b, char *err, size_t errlen)
{
    static const char *const keys[2] = {"duration_gte", "duration_lte"};
    static const char *const ops[2] = {">=", "<="};

    for (int i = 0; i < 2; i++) {
        const char *v = httpq_get(&r->q, keys[i]);
        char *end;
        double d;
        if (!v)
            continue;
        errno = 0;
        d = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(d) || strlen(v) > 32) {
            snprintf(err, errlen, "'%.32s' is not of type 'number' - '%s'", v, keys[i]);
            return -1;
        }
        sqlb_add(b, " AND ti.duration %s $%d::float8", ops[i], sqlb_param(b, v));
    }
    return 0;
}

int api_get_task_instances(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    char err[256];
    int status = api_read_page(r, NULL, &p);

    if (status != 0)
        return status;
    /* On dag_run's (dag_id, run_id) key, then the run's own task instances:
     * filtering task_instance by dag_id would read the DAG's whole history. */
    if (strcmp(r->cap[0], "~") != 0)
        sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    if (strcmp(r->cap[1], "~") != 0)
        sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    if (api_filter_ts_range(r, &b, "execution_date", "dr.logical_date", err, sizeof(err)) < 0 ||
        api_filter_ts_range(r, &b, "start_date", "ti.start_date", err, sizeof(err)) < 0 ||
        api_filter_ts_range(r, &b, "end_date", "ti.end_date", err, sizeof(err)) < 0 ||
        api_filter_ts_range(r, &b, "updated_at", "ti.updated_at", err, sizeof(err)) < 0 ||
        filter_duration(r, &b, err, sizeof(err)) < 0) {
        sqlb_free(&b);
        return api_bad_request(r, err);
    }
    api_filter_list(r, &b, "state", "ti.state");
    api_filter_list(r, &b, "pool", "ti.pool");
    api_filter_list(r, &b, "queue", "ti.queue");
    /* Every task instance runs on the default executor (null). */
    if (httpq_count(&r->q, "executor") > 0)
        sqlb_add(&b, " AND false");
    status = api_send_collection(r, "task_instances", &ti_resource, &b, "ti.id", &p);
    sqlb_free(&b);
    return status;
}

/* One task instance of a run by map index (-1: an unmapped task). */
static int send_task_instance(api_req_t *r, long map_index)
{
    sqlb_t b = {0};
    api_colmap_t m;
    PGresult *res;
    int status;

    sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    sqlb_add(&b, " AND ti.task_id = $%d", sqlb_param(&b, r->cap[2]));
    sqlb_add(&b, " AND ti.map_index = $%d::int", sqlb_param_i64(&b, map_index));
    status = api_fetch(r, &ti_resource, &b, &res, &m);
    if (status != 0)
        return status;
    if (PQntuples(res) == 0 && map_index < 0)
        status = api_not_found(r, "Task instance not found",
                               "Task instance not found for DAG run '%s' of DAG '%s'", r->cap[1],
                               r->cap[0]);
    else if (PQntuples(res) == 0)
        status = api_not_found(r, "Task instance not found",
                               "Task instance not found for map index %ld of task '%s'", map_index,
                               r->cap[2]);
    else
        status = api_send_row(r, &ti_resource, &m, res);
    PQclear(res);
    return status;
}

int api_get_task_instance(api_req_t *r)
{
    return send_task_instance(r, -1);
}

/*
 * GET .../taskInstances/{task_id}/listMapped (GetMappedTaskInstances): the
 * instances of a mapped task, by map index.
 */
int api_get_mapped_task_instances(api_req_t *r)
{
    sqlb_t b = {0};
    api_page_t p;
    int status = api_read_page(r, NULL, &p);

    if (status != 0)
        return status;
    sqlb_add(&b, " AND dr.dag_id = $%d", sqlb_param(&b, r->cap[0]));
    sqlb_add(&b, " AND dr.run_id = $%d", sqlb_param(&b, r->cap[1]));
    sqlb_add(&b, " AND ti.task_id = $%d AND ti.map_index >= 0", sqlb_param(&b, r->cap[2]));
    api_filter_list(r, &b, "state", "ti.state");
    status = api_send_collection(r, "task_instances", &ti_resource, &b, "ti.map_index", &p);
    sqlb_free(&b);
    return status;
}

/* A {map_index} path segment: -1 or more, an int. 0, or -1 when it is not one. */
static int parse_map_index(const char *seg, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(seg, &end, 10);
    return !*seg || *end || errno || *out < -1 || *out > INT32_MAX ? -1 : 0;
}

/* GET .../taskInstances/{task_id}/{map_index} (GetMappedTaskInstance). */
int api_get_mapped_task_instance(api_req_t *r)
{
    long mi;

    if (parse_map_index(r->cap[3], &mi) < 0)
        return api_not_found(r, "Not Found", "no such path: '%.64s' is not a map index", r->cap[3]);
    return send_task_instance(r, mi);
}

/* Writes a TaskInstanceReference {task_id, dag_id, execution_date, dag_run_id}. */
static void write_ti_ref(jsonw_t *w, const char *task_id, const char *dag_id, ts_us_t logical,
                         const char *run_id)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "task_id");
    jsonw_str(w, task_id);
    jsonw_key(w, "dag_id");
    jsonw_str(w, dag_id);
    jsonw_key(w, "execution_date");
    jsonw_ts(w, logical);
    jsonw_key(w, "dag_run_id");
    jsonw_str(w, run_id);
    jsonw_obj_end(w);
}

/* ---- PATCH: set a task instance's state ------------------------------------ */

/* Reads {dry_run, new_state}; 0, or the status of the 400 answered. */
static int read_patch_body(api_req_t *r, const cJSON *body, bool *dry_run, const char **state)
{
    static const char *const known[] = {"dry_run", "new_state", NULL};
    char err[512];

    if (api_body_check_known(body, known, err, sizeof(err)) < 0 ||
        api_body_bool(body, "dry_run", true, dry_run, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if (!cJSON_GetObjectItemCaseSensitive(body, "new_state"))
        return api_bad_request(r, "{'new_state': ['Missing data for required field.']}");
    if (api_body_str(body, "new_state", state) < 0 || !*state ||
        (strcmp(*state, "success") != 0 && strcmp(*state, "failed") != 0 &&
         strcmp(*state, "skipped") != 0))
        return api_bad_request(r, "{'new_state': ['Must be one of: success, failed, skipped.']}");
    return 0;
}

/*
 * The task must be in the DAG, and its unmapped instance in the run: 0 with
 * the run's logical date, or the status of the 404 (or 5xx) answered.
 */
static int find_patched_ti(api_req_t *r, ts_us_t *logical)
{
    const char *dag_id = r->cap[0], *run_id = r->cap[1], *task_id = r->cap[2];
    bool has = false;
    int rc = dags_has_task(r->db, dag_id, task_id, &has);

    if (rc == UPDRAFT_ENOTFOUND)
        return api_fail(r, rc, "DAG not found", "DAG '%s' not found", dag_id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    if (!has)
        return api_not_found(r, "Task not found", "Task '%s' not found in DAG '%s'", task_id,
                             dag_id);
    rc = ti_admin_find_ti(r->db, dag_id, run_id, task_id, logical);
    if (rc == UPDRAFT_ENOTFOUND)
        return api_fail(r, rc, NULL,
                        "Task instance not found for task '%s' on DAG run with ID '%s'", task_id,
                        run_id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    return 0;
}

/*
 * Marks the task instance, then clears its failed and upstream_failed
 * downstream task instances of the run (not the task itself) and puts the
 * run back to queued if it had finished, as DAG.set_task_instance_state
 * does. 0, or the status answered.
 */
static int mark_and_resume_downstream(api_req_t *r, const char *state)
{
    const char *dag_id = r->cap[0], *run_id = r->cap[1], *task_id = r->cap[2];
    clear_filter_t scope = {.dag_id = dag_id, .start = TS_NONE, .end = TS_NONE, .run_id = run_id};
    char err[512];
    long cleared = 0;
    int rc = clear_mark_ti(r->db, dag_id, run_id, task_id, state, err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, NULL, "%s", err);
    if (rc < 0)
        return api_db_failed(r);
    apicache_bump(r->api->cache);
    if (clear_resume_downstream(r->db, &scope, task_id, &cleared, err, sizeof(err)) < 0) {
        log_warn("clearing downstream after marking failed dag_id=%s error=\"%s\"", dag_id, err);
        return api_db_failed(r);
    }
    return 0;
}

/*
 * PATCH /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}
 * (UpdateTaskInstance), as Airflow 2's patch_task_instance: dry_run
 * defaults to true; new_state is success, failed or skipped. Answers a
 * TaskInstanceReference.
 */
int api_patch_task_instance(api_req_t *r)
{
    bool dry_run = true;
    const char *state = NULL;
    ts_us_t logical = TS_NONE;
    int status = 0;
    jsonw_t w;
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    status = read_patch_body(r, body, &dry_run, &state);
    if (status == 0)
        status = find_patched_ti(r, &logical);
    if (status == 0 && !dry_run)
        status = mark_and_resume_downstream(r, state);
    if (status == 0) {
        jsonw_init(&w, 256);
        write_ti_ref(&w, r->cap[2], r->cap[0], logical, r->cap[1]);
        status = api_send_jsonw(r, &w);
        jsonw_free(&w);
    }
    cJSON_Delete(body);
    return status;
}

/* ---- POST clearTaskInstances ---------------------------------------------- */

/* What a clearTaskInstances body asks for; ids is owned (free). */
typedef struct clear_request {
    bool dry_run, reset, past, future;
    const char *run_id;
    const char **ids;
    clear_filter_t f;
} clear_request_t;

/* The boolean and date members; 0, or -1 with the detail in err. */
static int read_clear_flags(const cJSON *body, clear_request_t *c, char *err, size_t errlen)
{
    static const char *const known[] = {
        "dry_run",         "task_ids",          "start_date",
        "end_date",        "only_failed",       "only_running",
        "include_subdags", "include_parentdag", "reset_dag_runs",
        "dag_run_id",      "include_upstream",  "include_downstream",
        "include_future",  "include_past",      NULL};
    clear_filter_t *f = &c->f;
    bool ignored;

    if (api_body_check_known(body, known, err, errlen) < 0 ||
        api_body_bool(body, "dry_run", true, &c->dry_run, err, errlen) < 0 ||
        api_body_bool(body, "only_failed", true, &f->only_failed, err, errlen) < 0 ||
        api_body_bool(body, "only_running", false, &f->only_running, err, errlen) < 0 ||
        api_body_bool(body, "reset_dag_runs", false, &c->reset, err, errlen) < 0 ||
        api_body_bool(body, "include_upstream", false, &f->upstream, err, errlen) < 0 ||
        api_body_bool(body, "include_downstream", false, &f->downstream, err, errlen) < 0 ||
        api_body_bool(body, "include_future", false, &c->future, err, errlen) < 0 ||
        api_body_bool(body, "include_past", false, &c->past, err, errlen) < 0 ||
        api_body_bool(body, "include_subdags", false, &ignored, err, errlen) < 0 ||
        api_body_bool(body, "include_parentdag", false, &ignored, err, errlen) < 0 ||
        api_body_aware_ts(body, "start_date", &f->start, err, errlen) < 0 ||
        api_body_aware_ts(body, "end_date", &f->end, err, errlen) < 0)
        return -1;
    return 0;
}

/* task_ids: a non-empty list of strings; 0, or the status answered. */
static int read_clear_task_ids(api_req_t *r, const cJSON *body, clear_request_t *c)
{
    const cJSON *tids = cJSON_GetObjectItemCaseSensitive(body, "task_ids"), *it;
    char err[128];
    size_t i = 0, n;

    if (!tids)
        return 0;
    if (!cJSON_IsArray(tids))
        return api_bad_request(r, "{'task_ids': ['Not a valid list.']}");
    n = (size_t)cJSON_GetArraySize(tids);
    if (n == 0)
        return api_bad_request(r, "{'task_ids': ['Shorter than minimum length 1.']}");
    c->ids = calloc(n, sizeof(*c->ids));
    if (!c->ids)
        return api_send_json(r, 500, NULL);
    cJSON_ArrayForEach(it, tids)
    {
        if (!cJSON_IsString(it)) {
            snprintf(err, sizeof(err), "{'task_ids': {%zu: ['Not a valid string.']}}", i);
            return api_bad_request(r, err);
        }
        c->ids[i++] = it->valuestring;
    }
    c->f.task_ids = c->ids;
    c->f.n_task_ids = n;
    return 0;
}

/* Airflow's ClearTaskInstanceFormSchema.validate_form, in its order. */
static const char *clear_form_error(const clear_request_t *c)
{
    const clear_filter_t *f = &c->f;

    if (f->only_failed && f->only_running)
        return "{'_schema': ['only_failed and only_running both are set to True']}";
    if (f->start != TS_NONE && f->end != TS_NONE && f->start > f->end)
        return "{'_schema': ['end_date is sooner than start_date']}";
    if (f->start != TS_NONE && c->run_id)
        return "{'_schema': ['Exactly one of dag_run_id or start_date must be provided']}";
    if (f->end != TS_NONE && c->run_id)
        return "{'_schema': ['Exactly one of dag_run_id or end_date must be provided']}";
    return NULL;
}

/* Reads and checks the whole body into c; 0, or the status answered. */
static int read_clear_request(api_req_t *r, const cJSON *body, clear_request_t *c)
{
    char err[512];
    const char *form_err;
    int status;

    if (read_clear_flags(body, c, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if (api_body_str(body, "dag_run_id", &c->run_id) < 0)
        return api_bad_request(r, "{'dag_run_id': ['Not a valid string.']}");
    if ((status = read_clear_task_ids(r, body, c)) != 0)
        return status;
    if ((form_err = clear_form_error(c)) != NULL)
        return api_bad_request(r, form_err);
    return 0;
}

/*
 * The DAG must exist; a dag_run_id stands for its logical date, widened by
 * include_past / include_future. 0, or the status answered.
 */
static int resolve_clear_scope(api_req_t *r, clear_request_t *c)
{
    const char *dag_id = r->cap[0];
    dagrun_ref_t run;
    int rc = dags_check_parsed(r->db, dag_id);

    if (rc == UPDRAFT_ENOTFOUND)
        return api_fail(r, rc, "DAG not found", "Dag id %s not found", dag_id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    if (!c->run_id)
        return 0;
    rc = dagrun_find(r->db, dag_id, c->run_id, NULL, &run);
    if (rc == UPDRAFT_ENOTFOUND)
        return api_fail(r, rc, "DAGRun not found", "Dag Run id %s not found in dag %s", c->run_id,
                        dag_id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    c->f.start = c->past ? TS_NONE : run.logical_date;
    c->f.end = c->future ? TS_NONE : run.logical_date;
    return 0;
}

/* Selects the task instances into l and, without dry_run, clears them. */
static int select_and_clear(api_req_t *r, clear_request_t *c, clear_list_t *l)
{
    const char *dag_id = r->cap[0];
    char err[512];
    long cleared = 0;
    int rc = clear_find(r->db, &c->f, l, err, sizeof(err));

    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "DAG not found", "Dag id %s not found", dag_id);
    if (rc < 0) {
        if (rc == UPDRAFT_EDB)
            return api_db_failed(r);
        http_send_problem(r->conn, 400, NULL, "%s", err);
        return 400;
    }
    if (c->dry_run || l->n == 0)
        return 0;
    if (clear_apply_mode(r->db, l, c->reset ? CLEAR_RUNS_FINISHED : CLEAR_RUNS_KEEP, &cleared, err,
                         sizeof(err)) < 0) {
        log_warn("clear task instances failed dag_id=%s error=\"%s\"", dag_id, err);
        return api_db_failed(r);
    }
    apicache_bump(r->api->cache);
    log_info("task instances cleared through the API dag_id=%s count=%ld reset_dag_runs=%d", dag_id,
             cleared, (int)c->reset);
    return 0;
}

/* {"task_instances": [TaskInstanceReference...]} of the selected list. */
static int send_clear_list(api_req_t *r, const clear_list_t *l)
{
    jsonw_t w;
    int status;

    jsonw_init(&w, l->n * 192 + 64);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "task_instances");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < l->n; i++)
        write_ti_ref(&w, l->items[i].task_id, r->cap[0], l->items[i].logical_date,
                     l->items[i].run_id);
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    return status;
}

/*
 * POST /dags/{dag_id}/clearTaskInstances (ClearTaskInstances), as Airflow
 * 2's post_clear_task_instances: dry_run and only_failed default to true;
 * a dag_run_id stands for its logical date (widened by include_past /
 * include_future); task_ids are exact ids, widened by include_upstream /
 * include_downstream; reset_dag_runs puts finished runs back to queued.
 * The answer lists the task instances selected (and, without dry_run,
 * cleared).
 */
int api_post_clear_task_instances(api_req_t *r)
{
    clear_request_t c = {.f = {.dag_id = r->cap[0], .start = TS_NONE, .end = TS_NONE}};
    clear_list_t l = {0};
    int status = 0;
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    status = read_clear_request(r, body, &c);
    if (status == 0)
        status = resolve_clear_scope(r, &c);
    if (status == 0)
        status = select_and_clear(r, &c, &l);
    if (status == 0)
        status = send_clear_list(r, &l);
    clear_list_free(&l);
    free(c.ids);
    cJSON_Delete(body);
    return status;
}

/* ---- setNote -------------------------------------------------------------- */

/*
 * PATCH .../taskInstances/{task_id}[/{map_index}]/setNote
 * (set_task_instance_note, set_mapped_task_instance_note), as Airflow 2:
 * the body is checked first, then the task instance must exist. Answers
 * the TaskInstance.
 */
static int set_note(api_req_t *r, long map_index)
{
    const char *note = NULL;
    int status = 0, rc;
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    status = api_read_note(r, body, &note);
    if (status == 0) {
        rc = ti_admin_set_note(r->db, r->cap[0], r->cap[1], r->cap[2], (int)map_index, note);
        if (rc == UPDRAFT_ENOTFOUND)
            status = api_not_found(r, NULL,
                                   "Task Instance not found for dag_id=%s, run_id=%s, task_id=%s",
                                   r->cap[0], r->cap[1], r->cap[2]);
        else if (rc < 0)
            status = api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    }
    if (status == 0)
        status = send_task_instance(r, map_index);
    cJSON_Delete(body);
    return status;
}

int api_set_task_instance_note(api_req_t *r)
{
    return set_note(r, -1);
}

int api_set_mapped_task_instance_note(api_req_t *r)
{
    long mi;

    if (parse_map_index(r->cap[3], &mi) < 0)
        return api_not_found(r, "Not Found", "no such path: '%.64s' is not a map index", r->cap[3]);
    return set_note(r, mi);
}

/* ---- POST updateTaskInstancesState ---------------------------------------- */

/* What an updateTaskInstancesState body asks for. */
typedef struct state_request {
    bool dry_run, upstream, downstream, future, past;
    const char *task_id, *run_id, *state;
    ts_us_t logical;
    const char *logical_text; /* as given, for the 404's wording */
} state_request_t;

/* Airflow's SetTaskInstanceStateFormSchema; 0, or the status of the 400 answered. */
static int read_state_request(api_req_t *r, const cJSON *body, state_request_t *q)
{
    static const char *const known[] = {"dry_run",          "task_id",
                                        "execution_date",   "dag_run_id",
                                        "include_upstream", "include_downstream",
                                        "include_future",   "include_past",
                                        "new_state",        NULL};
    static const char *const flags[] = {"include_upstream", "include_downstream", "include_future",
                                        "include_past"};
    bool *dst[] = {&q->upstream, &q->downstream, &q->future, &q->past};
    char err[512];

    if (api_body_check_known(body, known, err, sizeof(err)) < 0 ||
        api_body_bool(body, "dry_run", true, &q->dry_run, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    if (api_body_str(body, "task_id", &q->task_id) < 0 || !q->task_id)
        return api_bad_request(r, "{'task_id': ['Missing data for required field.']}");
    for (size_t i = 0; i < 4; i++) {
        if (!cJSON_GetObjectItemCaseSensitive(body, flags[i])) {
            snprintf(err, sizeof(err), "{'%s': ['Missing data for required field.']}", flags[i]);
            return api_bad_request(r, err);
        }
        if (api_body_bool(body, flags[i], false, dst[i], err, sizeof(err)) < 0)
            return api_bad_request(r, err);
    }
    if (!cJSON_GetObjectItemCaseSensitive(body, "new_state"))
        return api_bad_request(r, "{'new_state': ['Missing data for required field.']}");
    if (api_body_str(body, "new_state", &q->state) < 0 || !q->state ||
        (strcmp(q->state, "success") != 0 && strcmp(q->state, "failed") != 0 &&
         strcmp(q->state, "skipped") != 0))
        return api_bad_request(r, "{'new_state': ['Must be one of: success, failed, skipped.']}");
    if (api_body_aware_ts(body, "execution_date", &q->logical, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    api_body_str(body, "execution_date", &q->logical_text);
    if (api_body_str(body, "dag_run_id", &q->run_id) < 0)
        return api_bad_request(r, "{'dag_run_id': ['Not a valid string.']}");
    if ((q->logical != TS_NONE) == (q->run_id != NULL))
        return api_bad_request(
            r, "{'_schema': ['Exactly one of execution_date or dag_run_id must be provided']}");
    return 0;
}

/*
 * The DAG and its task must exist, and the task's unmapped instance in the
 * run named (by id or logical date): 0 with the run in *run, or the status
 * of the 404 (or 5xx) answered.
 */
static int find_state_run(api_req_t *r, const state_request_t *q, dagrun_ref_t *run)
{
    const char *dag_id = r->cap[0];
    char when[TS_ISO_LEN];
    bool has = false;
    ts_us_t logical;
    int rc = dags_has_task(r->db, dag_id, q->task_id, &has);

    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, NULL, "Dag ID %s not found", dag_id);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    if (!has)
        return api_not_found(r, NULL, "Task ID %s not found", q->task_id);
    rc = dagrun_find(r->db, dag_id, q->run_id, q->run_id ? NULL : ts_format_iso(q->logical, when),
                     run);
    if (rc == 0)
        rc = ti_admin_find_ti(r->db, dag_id, run->run_id, q->task_id, &logical);
    if (rc == UPDRAFT_ENOTFOUND && q->run_id)
        return api_not_found(r, NULL,
                             "Task instance not found for task '%s' on DAG run with ID '%s'",
                             q->task_id, q->run_id);
    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, NULL, "Task instance not found for task '%s' on execution_date %s",
                             q->task_id, q->logical_text);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    return 0;
}

/*
 * Selects the task instances to set into l (the task and the relatives
 * asked for, in the run or, with include_past / include_future, the runs
 * before or after it, those not already in the state) and, without
 * dry_run, sets them and resumes the failed tasks downstream of the task.
 * 0, or the status answered.
 */
static int set_states(api_req_t *r, const state_request_t *q, const dagrun_ref_t *run,
                      clear_list_t *l)
{
    const char *ids[1] = {q->task_id};
    clear_filter_t f = {.dag_id = r->cap[0],
                        .start = TS_NONE,
                        .end = TS_NONE,
                        .task_ids = ids,
                        .n_task_ids = 1,
                        .upstream = q->upstream,
                        .downstream = q->downstream,
                        .not_state = q->state};
    char err[512];
    long marked = 0, cleared = 0;

    if (!q->past && !q->future) {
        f.run_id = run->run_id;
    } else {
        f.start = q->past ? TS_NONE : run->logical_date;
        f.end = q->future ? TS_NONE : run->logical_date;
    }
    if (clear_find(r->db, &f, l, err, sizeof(err)) < 0)
        goto failed;
    if (q->dry_run)
        return 0;
    if (clear_mark_tis(r->db, l, q->state, &marked, err, sizeof(err)) < 0)
        goto failed;
    apicache_bump(r->api->cache);
    if (clear_resume_downstream(r->db, &f, q->task_id, &cleared, err, sizeof(err)) < 0)
        goto failed;
    log_info("task instances set through the API dag_id=%s task_id=%s state=%s count=%ld "
             "resumed=%ld",
             r->cap[0], q->task_id, q->state, marked, cleared);
    return 0;
failed:
    log_warn("setting task instance states failed dag_id=%s error=\"%s\"", r->cap[0], err);
    return api_db_failed(r);
}

/*
 * POST /dags/{dag_id}/updateTaskInstancesState
 * (post_set_task_instances_state), as Airflow 2's
 * DAG.set_task_instance_state: dry_run defaults to true; the four include_
 * flags and new_state are required; exactly one of execution_date and
 * dag_run_id. Answers the task instances set (or, with dry_run, that would
 * be) as TaskInstanceReferences.
 */
int api_post_set_task_instances_state(api_req_t *r)
{
    state_request_t q = {.logical = TS_NONE};
    clear_list_t l = {0};
    dagrun_ref_t run;
    int status = 0;
    cJSON *body = api_read_body(r, &status);

    if (!body)
        return status;
    status = read_state_request(r, body, &q);
    if (status == 0)
        status = find_state_run(r, &q, &run);
    if (status == 0)
        status = set_states(r, &q, &run, &l);
    if (status == 0)
        status = send_clear_list(r, &l);
    clear_list_free(&l);
    cJSON_Delete(body);
    return status;
}

/* ---- POST dags/~/dagRuns/~/taskInstances/list ----------------------------- */

/* duration_gte / duration_lte of a batch body: numbers of seconds; -1 with err. */
static int filter_body_duration(sqlb_t *b, const cJSON *body, char *err, size_t errlen)
{
    static const char *const keys[2] = {"duration_gte", "duration_lte"};
    static const char *const ops[2] = {">=", "<="};

    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, keys[i]);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            snprintf(err, errlen, "{'%s': ['Not a valid number.']}", keys[i]);
            return -1;
        }
        sqlb_add(b, " AND ti.duration %s $%d::float8", ops[i], sqlb_param_num(b, v->valuedouble));
    }
    return 0;
}

/*
 * POST /dags/~/dagRuns/~/taskInstances/list (get_task_instances_batch),
 * Airflow's ListTaskInstanceForm: dag_ids, dag_run_ids, task_ids, state
 * (null is the state of a task instance not yet scheduled), pool, queue,
 * executor (lists, OR within each), the date and duration ranges, and
 * page_offset / page_limit as Airflow's form takes them, and order_by
 * (Airflow 2.10's; by id by default, as the GET list).
 */
int api_post_task_instances_batch(api_req_t *r)
{
    static const char *const known[] = {"dag_ids",
                                        "dag_run_ids",
                                        "task_ids",
                                        "execution_date_gte",
                                        "execution_date_lte",
                                        "start_date_gte",
                                        "start_date_lte",
                                        "end_date_gte",
                                        "end_date_lte",
                                        "duration_gte",
                                        "duration_lte",
                                        "state",
                                        "pool",
                                        "queue",
                                        "executor",
                                        "page_offset",
                                        "page_limit",
                                        "order_by",
                                        NULL};
    sqlb_t b = {0};
    api_page_t p;
    char err[512];
    int status = 0;
    cJSON *body = api_read_fields(r, known, NULL, NULL, &status);

    if (!body)
        return status;
    if ((status = api_read_body_page(r, body, &ti_sorting, &p)) != 0)
        goto out;
    if (api_filter_body_list(&b, body, "dag_ids", "dr.dag_id", NULL, err, sizeof(err)) < 0 ||
        api_filter_body_list(&b, body, "dag_run_ids", "ti.run_id", NULL, err, sizeof(err)) < 0 ||
        api_filter_body_list(&b, body, "task_ids", "ti.task_id", NULL, err, sizeof(err)) < 0 ||
        api_filter_body_list(&b, body, "state", "ti.state", "none", err, sizeof(err)) < 0 ||
        api_filter_body_list(&b, body, "pool", "ti.pool", NULL, err, sizeof(err)) < 0 ||
        api_filter_body_list(&b, body, "queue", "ti.queue", NULL, err, sizeof(err)) < 0 ||
        /* Every task instance runs on the default executor (null), which
         * no executor list holds: a non-empty list matches none. */
        api_filter_body_list(&b, body, "executor", "NULL::text", NULL, err, sizeof(err)) < 0 ||
        api_filter_body_ts_range(&b, body, "execution_date", "dr.logical_date", err, sizeof(err)) <
            0 ||
        api_filter_body_ts_range(&b, body, "start_date", "ti.start_date", err, sizeof(err)) < 0 ||
        api_filter_body_ts_range(&b, body, "end_date", "ti.end_date", err, sizeof(err)) < 0 ||
        filter_body_duration(&b, body, err, sizeof(err)) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    status = api_send_collection(r, "task_instances", &ti_resource, &b, p.order, &p);
out:
    sqlb_free(&b);
    cJSON_Delete(body);
    return status;
}
