/*
 * dag.c - the DAG model: diagnostics, lists, lookups, and the serialized
 * form stored in dag_version.data (proto/PROTOCOL.md, "Serialized DAG").
 *
 * dag_to_json writes keys in one fixed order and tasks in topological
 * order, so the same DAG always prints to the same bytes: the scheduler
 * hashes the printed document to decide whether a DAG changed. The YAML
 * loader lives in dag_load.c.
 */
#include "common/dag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIAL_FORMAT 1

/* ---- diagnostics ---- */

void dag_diags_init(dag_diags_t *d)
{
    d->items = NULL;
    d->n = d->cap = 0;
}

void dag_diags_free(dag_diags_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].path);
        free(d->items[i].message);
    }
    free(d->items);
    dag_diags_init(d);
}

size_t dag_diags_errors(const dag_diags_t *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (!d->items[i].warning)
            n++;
    return n;
}

void dag_diags_add(dag_diags_t *d, const char *path, int line, int col, bool warning,
                   const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL, *p = NULL;

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        dag_diag_t *items = realloc(d->items, cap * sizeof *items);
        if (!items)
            return;
        d->items = items;
        d->cap = cap;
    }
    va_start(ap, fmt);
    int len = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    p = strdup(path ? path : "");
    if (!p) {
        free(msg);
        return;
    }
    d->items[d->n++] = (dag_diag_t){.path = p, .line = line, .col = col, .warning = warning,
                                    .message = msg};
}

char *dag_diags_format(const dag_diags_t *d, bool with_warnings)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    if (!f)
        return NULL;
    for (size_t i = 0; i < d->n; i++) {
        const dag_diag_t *g = &d->items[i];
        if (g->warning && !with_warnings)
            continue;
        if (g->line > 0 && g->col > 0)
            fprintf(f, "%s:%d:%d: ", g->path, g->line, g->col);
        else if (g->line > 0)
            fprintf(f, "%s:%d: ", g->path, g->line);
        else
            fprintf(f, "%s: ", g->path);
        fprintf(f, "%s%s\n", g->warning ? "warning: " : "", g->message);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- lists, lookups ---- */

void dag_list_init(dag_list_t *l)
{
    l->items = NULL;
    l->n = l->cap = 0;
}

void dag_list_free(dag_list_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        dag_free(l->items[i]);
    free(l->items);
    dag_list_init(l);
}

void dag_task_clear(dag_task_t *t)
{
    free(t->task_id);
    free(t->bash_command);
    for (size_t i = 0; i < t->n_env; i++) {
        free(t->env[i].name);
        free(t->env[i].value);
    }
    free(t->env);
    free(t->cwd);
    free(t->owner);
    free(t->queue);
    free(t->pool);
    free(t->trigger_rule);
    for (size_t i = 0; i < t->n_upstream; i++)
        free(t->upstream[i]);
    free(t->upstream);
    for (size_t i = 0; i < t->n_downstream; i++)
        free(t->downstream[i]);
    free(t->downstream);
    memset(t, 0, sizeof *t);
}

void dag_free(dag_t *dag)
{
    if (!dag)
        return;
    free(dag->dag_id);
    free(dag->fileloc);
    free(dag->description);
    free(dag->schedule);
    free(dag->timezone);
    for (size_t i = 0; i < dag->n_tags; i++)
        free(dag->tags[i]);
    free(dag->tags);
    free(dag->owner);
    for (size_t i = 0; i < dag->n_tasks; i++)
        dag_task_clear(&dag->tasks[i]);
    free(dag->tasks);
    free(dag);
}

int dag_find_task(const dag_t *dag, const char *task_id)
{
    if (!dag || !task_id)
        return -1;
    for (size_t i = 0; i < dag->n_tasks; i++)
        if (strcmp(dag->tasks[i].task_id, task_id) == 0)
            return (int)i;
    return -1;
}

const char *dag_operator_name(dag_operator_t op)
{
    switch (op) {
    case DAG_OP_BASH:
        return "BashOperator";
    case DAG_OP_EMPTY:
        return "EmptyOperator";
    }
    return "UnknownOperator";
}

static int operator_from_name(const char *name, dag_operator_t *out)
{
    if (strcmp(name, "BashOperator") == 0)
        *out = DAG_OP_BASH;
    else if (strcmp(name, "EmptyOperator") == 0)
        *out = DAG_OP_EMPTY;
    else
        return -1;
    return 0;
}

/* ---- serialization ---- */

/* Adds a string or null; false on OOM. */
static bool add_str(cJSON *obj, const char *key, const char *val)
{
    return (val ? cJSON_AddStringToObject(obj, key, val) : cJSON_AddNullToObject(obj, key)) != NULL;
}

static bool add_ts(cJSON *obj, const char *key, ts_us_t t)
{
    char buf[TS_ISO_LEN];
    return add_str(obj, key, t == TS_NONE ? NULL : ts_format_iso(t, buf));
}

static bool add_tristate(cJSON *obj, const char *key, int v)
{
    return (v < 0 ? cJSON_AddNullToObject(obj, key) : cJSON_AddBoolToObject(obj, key, v)) != NULL;
}

static bool add_str_array(cJSON *obj, const char *key, char *const *items, size_t n)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, key);
    if (!arr)
        return false;
    for (size_t i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(items[i]);
        if (!s)
            return false;
        cJSON_AddItemToArray(arr, s);
    }
    return true;
}

static cJSON *task_to_json(const dag_task_t *t)
{
    cJSON *o = cJSON_CreateObject(), *env;
    bool ok = o != NULL;

    ok = ok && add_str(o, "task_id", t->task_id);
    ok = ok && add_str(o, "operator", dag_operator_name(t->op));
    ok = ok && add_str(o, "bash_command", t->bash_command);
    ok = ok && (env = cJSON_AddObjectToObject(o, "env")) != NULL;
    for (size_t i = 0; ok && i < t->n_env; i++)
        ok = add_str(env, t->env[i].name, t->env[i].value);
    ok = ok && cJSON_AddBoolToObject(o, "append_env", t->append_env);
    ok = ok && add_str(o, "cwd", t->cwd);
    ok = ok && add_str(o, "owner", t->owner);
    ok = ok && cJSON_AddNumberToObject(o, "retries", t->retries);
    ok = ok && cJSON_AddNumberToObject(o, "retry_delay_sec", t->retry_delay_sec);
    ok = ok && add_str(o, "queue", t->queue);
    ok = ok && add_str(o, "pool", t->pool);
    ok = ok && cJSON_AddNumberToObject(o, "pool_slots", t->pool_slots);
    ok = ok && cJSON_AddNumberToObject(o, "priority_weight", t->priority_weight);
    ok = ok && add_str(o, "trigger_rule", t->trigger_rule);
    ok = ok && cJSON_AddNumberToObject(o, "execution_timeout_sec", t->execution_timeout_sec);
    ok = ok && add_str_array(o, "upstream_task_ids", t->upstream, t->n_upstream);
    ok = ok && add_str_array(o, "downstream_task_ids", t->downstream, t->n_downstream);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *dag_to_json(const dag_t *dag)
{
    cJSON *o = cJSON_CreateObject(), *order = NULL, *tasks = NULL;
    bool ok = o != NULL;

    ok = ok && cJSON_AddNumberToObject(o, "format", SERIAL_FORMAT);
    ok = ok && add_str(o, "dag_id", dag->dag_id);
    ok = ok && add_str(o, "fileloc", dag->fileloc);
    ok = ok && add_str(o, "description", dag->description);
    ok = ok && add_str(o, "schedule", dag->schedule);
    ok = ok && add_ts(o, "start_date", dag->start_date);
    ok = ok && add_ts(o, "end_date", dag->end_date);
    ok = ok && add_tristate(o, "catchup", dag->catchup);
    ok = ok && add_str(o, "timezone", dag->timezone ? dag->timezone : "UTC");
    ok = ok && add_str_array(o, "tags", dag->tags, dag->n_tags);
    ok = ok && add_str(o, "owner", dag->owner);
    ok = ok && cJSON_AddNumberToObject(o, "max_active_runs", dag->max_active_runs);
    ok = ok && cJSON_AddNumberToObject(o, "max_active_tasks", dag->max_active_tasks);
    ok = ok && add_tristate(o, "is_paused_upon_creation", dag->is_paused_upon_creation);
    ok = ok && (order = cJSON_AddArrayToObject(o, "task_order")) != NULL;
    ok = ok && (tasks = cJSON_AddObjectToObject(o, "tasks")) != NULL;
    for (size_t i = 0; ok && i < dag->n_tasks; i++) {
        cJSON *id = cJSON_CreateString(dag->tasks[i].task_id);
        cJSON *t = task_to_json(&dag->tasks[i]);
        if (!id || !t) {
            cJSON_Delete(id);
            cJSON_Delete(t);
            ok = false;
            break;
        }
        cJSON_AddItemToArray(order, id);
        cJSON_AddItemToObject(tasks, dag->tasks[i].task_id, t);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/*
 * Readers for dag_from_json. Each returns 0, or -1 with err filled; an
 * absent or null optional key leaves the default in place.
 */
static int json_str(const cJSON *o, const char *key, bool required, char **out, char *err,
                    size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(err, errlen, "missing key '%s'", key);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(v)) {
        snprintf(err, errlen, "key '%s' is not a string", key);
        return -1;
    }
    char *s = strdup(v->valuestring);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(*out);
    *out = s;
    return 0;
}

static int json_int(const cJSON *o, const char *key, int *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)v->valueint) {
        snprintf(err, errlen, "key '%s' is not an integer", key);
        return -1;
    }
    *out = v->valueint;
    return 0;
}

static int json_bool(const cJSON *o, const char *key, int *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(err, errlen, "key '%s' is not a boolean", key);
        return -1;
    }
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

static int json_ts(const cJSON *o, const char *key, ts_us_t *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || ts_parse(v->valuestring, out) != 0) {
        snprintf(err, errlen, "key '%s' is not a timestamp", key);
        return -1;
    }
    return 0;
}

static int json_str_array(const cJSON *o, const char *key, char ***out, size_t *n, char *err,
                          size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v)) {
        snprintf(err, errlen, "key '%s' is not an array", key);
        return -1;
    }
    int count = cJSON_GetArraySize(v);
    char **items = calloc(count ? (size_t)count : 1, sizeof *items);
    if (!items) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = items;
    *n = 0;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it)) {
            snprintf(err, errlen, "key '%s' holds a non-string", key);
            return -1;
        }
        if (!(items[*n] = strdup(it->valuestring))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        (*n)++;
    }
    return 0;
}

static int task_from_json(const cJSON *o, const char *task_id, dag_task_t *t, char *err,
                          size_t errlen)
{
    char *opname = NULL;
    int append_env = 0, rc = -1;
    const cJSON *env, *it;
    char sub[200];

    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "task '%s' is not an object", task_id);
        return -1;
    }
    t->retry_delay_sec = 300;
    t->pool_slots = 1;
    t->priority_weight = 1;
    if (!(t->task_id = strdup(task_id)))
        goto oom;
    if (json_str(o, "operator", true, &opname, sub, sizeof sub) != 0)
        goto bad;
    if (operator_from_name(opname, &t->op) != 0) {
        snprintf(sub, sizeof sub, "unknown operator '%s'", opname);
        goto bad;
    }
    if (json_str(o, "bash_command", false, &t->bash_command, sub, sizeof sub) != 0 ||
        json_bool(o, "append_env", &append_env, sub, sizeof sub) != 0 ||
        json_str(o, "cwd", false, &t->cwd, sub, sizeof sub) != 0 ||
        json_str(o, "owner", false, &t->owner, sub, sizeof sub) != 0 ||
        json_int(o, "retries", &t->retries, sub, sizeof sub) != 0 ||
        json_int(o, "retry_delay_sec", &t->retry_delay_sec, sub, sizeof sub) != 0 ||
        json_str(o, "queue", false, &t->queue, sub, sizeof sub) != 0 ||
        json_str(o, "pool", false, &t->pool, sub, sizeof sub) != 0 ||
        json_int(o, "pool_slots", &t->pool_slots, sub, sizeof sub) != 0 ||
        json_int(o, "priority_weight", &t->priority_weight, sub, sizeof sub) != 0 ||
        json_str(o, "trigger_rule", false, &t->trigger_rule, sub, sizeof sub) != 0 ||
        json_int(o, "execution_timeout_sec", &t->execution_timeout_sec, sub, sizeof sub) != 0 ||
        json_str_array(o, "upstream_task_ids", &t->upstream, &t->n_upstream, sub, sizeof sub) != 0 ||
        json_str_array(o, "downstream_task_ids", &t->downstream, &t->n_downstream, sub,
                       sizeof sub) != 0)
        goto bad;
    t->append_env = append_env == 1;
    if ((!t->owner && !(t->owner = strdup("airflow"))) ||
        (!t->queue && !(t->queue = strdup("default"))) ||
        (!t->pool && !(t->pool = strdup("default_pool"))) ||
        (!t->trigger_rule && !(t->trigger_rule = strdup("all_success"))))
        goto oom;
    env = cJSON_GetObjectItemCaseSensitive(o, "env");
    if (env && !cJSON_IsNull(env)) {
        if (!cJSON_IsObject(env)) {
            snprintf(sub, sizeof sub, "key 'env' is not an object");
            goto bad;
        }
        int count = cJSON_GetArraySize(env);
        if (!(t->env = calloc(count ? (size_t)count : 1, sizeof *t->env)))
            goto oom;
        cJSON_ArrayForEach(it, env) {
            if (!cJSON_IsString(it) || !it->string) {
                snprintf(sub, sizeof sub, "env value is not a string");
                goto bad;
            }
            dag_env_t *e = &t->env[t->n_env++];
            if (!(e->name = strdup(it->string)) || !(e->value = strdup(it->valuestring)))
                goto oom;
        }
    }
    rc = 0;
    goto out;
oom:
    snprintf(sub, sizeof sub, "out of memory");
bad:
    snprintf(err, errlen, "task '%s': %s", task_id, sub);
out:
    free(opname);
    return rc;
}

dag_t *dag_from_json(const cJSON *json, char *err, size_t errlen)
{
    dag_t *dag = NULL;
    const cJSON *order, *tasks, *it;
    int fmt = 0;

    if (!cJSON_IsObject(json)) {
        snprintf(err, errlen, "serialized dag is not an object");
        return NULL;
    }
    if (json_int(json, "format", &fmt, err, errlen) != 0)
        return NULL;
    if (fmt != SERIAL_FORMAT) {
        snprintf(err, errlen, "unsupported serialized dag format %d", fmt);
        return NULL;
    }
    if (!(dag = calloc(1, sizeof *dag))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dag->start_date = dag->end_date = TS_NONE;
    dag->catchup = dag->is_paused_upon_creation = -1;
    dag->max_active_runs = dag->max_active_tasks = 16;
    if (json_str(json, "dag_id", true, &dag->dag_id, err, errlen) != 0 ||
        json_str(json, "fileloc", false, &dag->fileloc, err, errlen) != 0 ||
        json_str(json, "description", false, &dag->description, err, errlen) != 0 ||
        json_str(json, "schedule", false, &dag->schedule, err, errlen) != 0 ||
        json_ts(json, "start_date", &dag->start_date, err, errlen) != 0 ||
        json_ts(json, "end_date", &dag->end_date, err, errlen) != 0 ||
        json_bool(json, "catchup", &dag->catchup, err, errlen) != 0 ||
        json_str(json, "timezone", false, &dag->timezone, err, errlen) != 0 ||
        json_str_array(json, "tags", &dag->tags, &dag->n_tags, err, errlen) != 0 ||
        json_str(json, "owner", false, &dag->owner, err, errlen) != 0 ||
        json_int(json, "max_active_runs", &dag->max_active_runs, err, errlen) != 0 ||
        json_int(json, "max_active_tasks", &dag->max_active_tasks, err, errlen) != 0 ||
        json_bool(json, "is_paused_upon_creation", &dag->is_paused_upon_creation, err, errlen) != 0)
        goto fail;
    if (dag->timezone && strcmp(dag->timezone, "UTC") == 0) {
        free(dag->timezone); /* written for UTC; NULL means UTC in memory */
        dag->timezone = NULL;
    }
    if (!dag->owner && !(dag->owner = strdup("airflow"))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    order = cJSON_GetObjectItemCaseSensitive(json, "task_order");
    tasks = cJSON_GetObjectItemCaseSensitive(json, "tasks");
    if (!cJSON_IsArray(order) || !cJSON_IsObject(tasks)) {
        snprintf(err, errlen, "missing 'task_order' array or 'tasks' object");
        goto fail;
    }
    int count = cJSON_GetArraySize(order);
    if (count != cJSON_GetArraySize(tasks)) {
        snprintf(err, errlen, "'task_order' and 'tasks' do not match");
        goto fail;
    }
    if (!(dag->tasks = calloc(count ? (size_t)count : 1, sizeof *dag->tasks))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    cJSON_ArrayForEach(it, order) {
        if (!cJSON_IsString(it)) {
            snprintf(err, errlen, "'task_order' holds a non-string");
            goto fail;
        }
        if (dag_find_task(dag, it->valuestring) >= 0) {
            snprintf(err, errlen, "task '%s' appears twice in 'task_order'", it->valuestring);
            goto fail;
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(tasks, it->valuestring);
        if (!t) {
            snprintf(err, errlen, "task '%s' is in 'task_order' but not in 'tasks'",
                     it->valuestring);
            goto fail;
        }
        /* counted before filling, so a failed task is still freed */
        dag_task_t *task = &dag->tasks[dag->n_tasks++];
        if (task_from_json(t, it->valuestring, task, err, errlen) != 0)
            goto fail;
    }
    /* Every edge must name a task of this DAG. */
    for (size_t i = 0; i < dag->n_tasks; i++) {
        const dag_task_t *t = &dag->tasks[i];
        for (size_t j = 0; j < t->n_upstream; j++)
            if (dag_find_task(dag, t->upstream[j]) < 0) {
                snprintf(err, errlen, "task '%s' depends on unknown task '%s'", t->task_id,
                         t->upstream[j]);
                goto fail;
            }
        for (size_t j = 0; j < t->n_downstream; j++)
            if (dag_find_task(dag, t->downstream[j]) < 0) {
                snprintf(err, errlen, "task '%s' has unknown downstream task '%s'", t->task_id,
                         t->downstream[j]);
                goto fail;
            }
    }
    return dag;
fail:
    dag_free(dag);
    return NULL;
}
