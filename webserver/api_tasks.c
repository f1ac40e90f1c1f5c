/*
 * api_tasks.c - GET /api/v1/dags/{dag_id}/tasks and /tasks/{task_id}
 * (Airflow 2's get_tasks and get_task): the tasks of the DAG's parsed
 * version as Airflow's Task schema, read from the serialized document in
 * Postgres (store/dags.h, proto/PROTOCOL.md), so the webserver needs no
 * DAG files.
 *
 * What the document does not hold is Airflow's default: no extra links,
 * the default executor (null), BaseOperator's colours (#fff on #000);
 * doc_md is the task's own (null when it has none). A task's start and end dates are its DAG's. The
 * list follows order_by (default task_id; "-" reverses) over any member whose value is a string, a
 * number, a boolean or null, as Airflow sorts by attribute.
 */
#include "webserver/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/operator.h"
#include "store/dags.h"
#include "webserver/http.h"

/* seconds as Airflow's TimeDelta object; NULL when out of memory. */
static cJSON *timedelta_json(double seconds)
{
    cJSON *o = cJSON_CreateObject();
    long long s = (long long)seconds;

    cJSON_AddStringToObject(o, "__type", "TimeDelta");
    cJSON_AddNumberToObject(o, "days", (double)(s / 86400));
    cJSON_AddNumberToObject(o, "seconds", (double)(s % 86400));
    cJSON_AddNumberToObject(o, "microseconds",
                            (double)(long long)((seconds - (double)s) * 1e6 + 0.5));
    return o;
}

/* spec[key] copied, or dflt (a new item) when absent or of another type. */
static cJSON *member_or(const cJSON *spec, const char *key, cJSON_bool (*is)(const cJSON *),
                        cJSON *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);

    if (v && is(v)) {
        cJSON_Delete(dflt);
        return cJSON_Duplicate(v, 1);
    }
    return dflt;
}

static double num_member(const cJSON *spec, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* {"module_path", "class_name"} of the task's operator. */
static cJSON *class_ref_json(const char *class_name)
{
    cJSON *o = cJSON_CreateObject();
    dag_operator_t op;

    cJSON_AddStringToObject(o, "module_path",
                            operator_parse(class_name, &op) ? operator_module_path(op)
                                                            : "airflow.models.baseoperator");
    cJSON_AddStringToObject(o, "class_name", class_name);
    return o;
}

static cJSON *template_fields_json(const char *class_name)
{
    const char *names[64];
    dag_operator_t op;
    size_t n = operator_parse(class_name, &op) ? operator_template_fields(op, names, 64) : 0;
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
    return a;
}

/* The Task object of one serialized task; doc is the DAG's document. NULL on OOM. */
static cJSON *task_json(const cJSON *doc, const cJSON *spec)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(spec, "operator");
    const char *cls = cJSON_IsString(op) ? op->valuestring : "BaseOperator";
    double timeout = num_member(spec, "execution_timeout_sec", 0);
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddItemToObject(o, "class_ref", class_ref_json(cls));
    cJSON_AddItemToObject(o, "task_id",
                          member_or(spec, "task_id", cJSON_IsString, cJSON_CreateString("")));
    cJSON_AddItemToObject(o, "task_display_name",
                          member_or(spec, "task_id", cJSON_IsString, cJSON_CreateString("")));
    cJSON_AddItemToObject(o, "owner",
                          member_or(spec, "owner", cJSON_IsString, cJSON_CreateString("airflow")));
    cJSON_AddItemToObject(o, "start_date",
                          member_or(doc, "start_date", cJSON_IsString, cJSON_CreateNull()));
    cJSON_AddItemToObject(o, "end_date",
                          member_or(doc, "end_date", cJSON_IsString, cJSON_CreateNull()));
    cJSON_AddItemToObject(
        o, "trigger_rule",
        member_or(spec, "trigger_rule", cJSON_IsString, cJSON_CreateString("all_success")));
    cJSON_AddArrayToObject(o, "extra_links");
    cJSON_AddItemToObject(o, "depends_on_past",
                          member_or(spec, "depends_on_past", cJSON_IsBool, cJSON_CreateFalse()));
    cJSON_AddItemToObject(
        o, "wait_for_downstream",
        member_or(spec, "wait_for_downstream", cJSON_IsBool, cJSON_CreateFalse()));
    cJSON_AddNumberToObject(o, "retries", num_member(spec, "retries", 0));
    cJSON_AddItemToObject(o, "queue", member_or(spec, "queue", cJSON_IsString, cJSON_CreateNull()));
    cJSON_AddNullToObject(o, "executor");
    cJSON_AddItemToObject(
        o, "pool", member_or(spec, "pool", cJSON_IsString, cJSON_CreateString("default_pool")));
    cJSON_AddNumberToObject(o, "pool_slots", num_member(spec, "pool_slots", 1));
    cJSON_AddItemToObject(o, "execution_timeout",
                          timeout > 0 ? timedelta_json(timeout) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "retry_delay",
                          timedelta_json(num_member(spec, "retry_delay_sec", 300)));
    cJSON_AddItemToObject(
        o, "retry_exponential_backoff",
        member_or(spec, "retry_exponential_backoff", cJSON_IsBool, cJSON_CreateFalse()));
    /* The weight as written: own_priority_weight when the effective one differs. */
    cJSON_AddNumberToObject(
        o, "priority_weight",
        num_member(spec, "own_priority_weight", num_member(spec, "priority_weight", 1)));
    cJSON_AddItemToObject(
        o, "weight_rule",
        member_or(spec, "weight_rule", cJSON_IsString, cJSON_CreateString("downstream")));
    cJSON_AddStringToObject(o, "ui_color", "#fff");
    cJSON_AddStringToObject(o, "ui_fgcolor", "#000");
    cJSON_AddItemToObject(o, "template_fields", template_fields_json(cls));
    cJSON_AddItemToObject(
        o, "downstream_task_ids",
        member_or(spec, "downstream_task_ids", cJSON_IsArray, cJSON_CreateArray()));
    cJSON_AddBoolToObject(o, "is_mapped", cJSON_GetObjectItemCaseSensitive(spec, "expand") != NULL);
    cJSON_AddItemToObject(o, "doc_md",
                          member_or(spec, "doc_md", cJSON_IsString, cJSON_CreateNull()));
    cJSON_AddNullToObject(o, "sub_dag"); /* as Airflow 2 for every task but a SubDagOperator */
    return o;
}

/*
 * The document of the DAG's parsed version, parsed into *doc, with its
 * "tasks" object in *tasks. 0, or the status answered (404 for no DAG).
 */
static int load_document(api_req_t *r, cJSON **doc, const cJSON **tasks)
{
    char *text = NULL;
    int rc = dags_parsed_document(r->db, r->cap[0], &text);

    *doc = NULL;
    if (rc == UPDRAFT_ENOTFOUND)
        return api_not_found(r, "DAG not found", "The DAG with dag_id: %s was not found",
                             r->cap[0]);
    if (rc < 0)
        return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
    *doc = cJSON_Parse(text);
    free(text);
    *tasks = cJSON_GetObjectItemCaseSensitive(*doc, "tasks");
    if (!cJSON_IsObject(*tasks)) {
        cJSON_Delete(*doc);
        *doc = NULL;
        http_send_problem(r->conn, 500, NULL, "the serialized DAG does not read");
        return 500;
    }
    return 0;
}

/* ---- ordering ------------------------------------------------------------- */

typedef struct task_sort {
    const char *key;
    bool desc;
} task_sort_t;

static int kind_rank(const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsBool(v))
        return 1;
    if (cJSON_IsNumber(v))
        return 2;
    return 3;
}

static int compare_values(const cJSON *a, const cJSON *b)
{
    int ka = kind_rank(a), kb = kind_rank(b);

    if (ka != kb)
        return ka - kb;
    switch (ka) {
    case 1:
        return cJSON_IsTrue(a) - cJSON_IsTrue(b);
    case 2:
        return (a->valuedouble > b->valuedouble) - (a->valuedouble < b->valuedouble);
    case 3:
        return strcmp(a->valuestring, b->valuestring);
    default:
        return 0;
    }
}

/* An insertion sort of the n tasks by key, stable (n is a DAG's task count). */
static void sort_tasks(cJSON **items, size_t n, const task_sort_t *s)
{
    for (size_t i = 1; i < n; i++) {
        cJSON *t = items[i];
        const cJSON *tv = cJSON_GetObjectItemCaseSensitive(t, s->key);
        size_t j = i;
        while (j > 0) {
            int c = compare_values(cJSON_GetObjectItemCaseSensitive(items[j - 1], s->key), tv);
            if (s->desc ? c >= 0 : c <= 0)
                break;
            items[j] = items[j - 1];
            j--;
        }
        items[j] = t;
    }
}

/* order_by against a task's members: 0, or -1 when it names none that sorts. */
static int read_task_sort(const char *order_by, const cJSON *sample, task_sort_t *s)
{
    const cJSON *v;

    s->desc = order_by[0] == '-';
    s->key = order_by + s->desc;
    if (!sample)
        return 0;
    v = cJSON_GetObjectItemCaseSensitive(sample, s->key);
    return v && !cJSON_IsObject(v) && !cJSON_IsArray(v) ? 0 : -1;
}

/* ---- handlers ------------------------------------------------------------- */

/* Sends {"tasks": [the n items, ordered]}; the items are consumed. */
static int send_tasks(api_req_t *r, cJSON **items, size_t n, const task_sort_t *s)
{
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "tasks");

    sort_tasks(items, n, s);
    for (size_t i = 0; i < n; i++) {
        if (arr)
            cJSON_AddItemToArray(arr, items[i]);
        else
            cJSON_Delete(items[i]);
    }
    if (!arr) {
        cJSON_Delete(out);
        out = NULL;
    }
    return api_send_tree(r, out);
}

/* GET /dags/{dag_id}/tasks (get_tasks): TaskCollection, ordered by order_by. */
int api_get_tasks(api_req_t *r)
{
    const char *order_by = httpq_get(&r->q, "order_by");
    const cJSON *tasks, *it;
    cJSON *doc = NULL, **items = NULL;
    task_sort_t sort;
    size_t n = 0, cap;
    int status = load_document(r, &doc, &tasks);

    if (status != 0)
        return status;
    cap = (size_t)cJSON_GetArraySize(tasks);
    if (!(items = calloc(cap + 1, sizeof(*items)))) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    cJSON_ArrayForEach(it, tasks)
    {
        if (n < cap && !(items[n++] = task_json(doc, it))) {
            status = api_send_json(r, 500, NULL);
            goto out;
        }
    }
    if (read_task_sort(order_by && *order_by ? order_by : "task_id", n ? items[0] : NULL, &sort) <
        0) {
        char err[160];
        snprintf(err, sizeof(err), "'BaseOperator' object has no attribute '%.64s'", sort.key);
        status = api_bad_request(r, err);
        goto out;
    }
    status = send_tasks(r, items, n, &sort);
    n = 0; /* consumed */
out:
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(items[i]);
    free(items);
    cJSON_Delete(doc);
    return status;
}

/* GET /dags/{dag_id}/tasks/{task_id} (get_task): one Task. */
int api_get_task(api_req_t *r)
{
    const cJSON *tasks, *spec;
    cJSON *doc = NULL;
    int status = load_document(r, &doc, &tasks);

    if (status != 0)
        return status;
    spec = cJSON_GetObjectItemCaseSensitive(tasks, r->cap[1]);
    if (!spec)
        status = api_not_found(r, "Task not found", "Task with id: '%s' not found in DAG '%s'",
                               r->cap[1], r->cap[0]);
    else
        status = api_send_tree(r, task_json(doc, spec));
    cJSON_Delete(doc);
    return status;
}
