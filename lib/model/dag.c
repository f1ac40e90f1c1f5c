/*
 * dag.c - the DAG model: diagnostics, lists, lookups, and the serialized
 * form stored in dag_version.data (proto/PROTOCOL.md, "Serialized DAG").
 *
 * dag_to_json writes keys in one fixed order and tasks in topological
 * order, so the same DAG always prints to the same bytes: the scheduler
 * hashes the printed document to decide whether a DAG changed. The YAML
 * loader lives in dag_load.c.
 */
#include "model/dag.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
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
    d->items[d->n++] =
        (dag_diag_t){.path = p, .line = line, .col = col, .warning = warning, .message = msg};
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
    free(t->run_as_user);
    free(t->queue);
    free(t->pool);
    free(t->trigger_rule);
    free(t->doc_md);
    free(t->task_group);
    cJSON_Delete(t->args);
    cJSON_Delete(t->expand);
    cJSON_Delete(t->alerts);
    cJSON_Delete(t->var_args);
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
    free(dag->doc_md);
    free(dag->schedule);
    free(dag->timezone);
    for (size_t i = 0; i < dag->n_tags; i++)
        free(dag->tags[i]);
    free(dag->tags);
    free(dag->owner);
    cJSON_Delete(dag->params);
    cJSON_Delete(dag->alerts);
    for (size_t i = 0; i < dag->n_tasks; i++)
        dag_task_clear(&dag->tasks[i]);
    free(dag->tasks);
    for (size_t i = 0; i < dag->n_groups; i++) {
        free(dag->groups[i].group_id);
        free(dag->groups[i].label);
        free(dag->groups[i].parent_id);
        free(dag->groups[i].tooltip);
    }
    free(dag->groups);
    free(dag);
}

/* ---- params ---------------------------------------------------------- */

/* Whether v is an instance of the JSON Schema type name t. */
static bool type_matches(const cJSON *v, const char *t)
{
    if (!strcmp(t, "string"))
        return cJSON_IsString(v);
    if (!strcmp(t, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(t, "integer"))
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
               floor(v->valuedouble) == v->valuedouble;
    if (!strcmp(t, "boolean"))
        return cJSON_IsBool(v);
    if (!strcmp(t, "object"))
        return cJSON_IsObject(v);
    if (!strcmp(t, "array"))
        return cJSON_IsArray(v);
    if (!strcmp(t, "null"))
        return cJSON_IsNull(v);
    return true; /* an unknown type name is not ours to refuse */
}

/* Checks one value against a param's schema ("type", "enum"). */
static int check_param(const char *name, const cJSON *v, const cJSON *schema, char *err,
                       size_t errlen)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    const cJSON *it;
    bool ok;

    if (cJSON_IsString(type)) {
        ok = type_matches(v, type->valuestring);
    } else if (cJSON_IsArray(type)) {
        ok = false;
        cJSON_ArrayForEach(it, type) ok =
            ok || (cJSON_IsString(it) && type_matches(v, it->valuestring));
    } else {
        ok = true;
    }
    if (!ok) {
        char *want = cJSON_PrintUnformatted(type);
        snprintf(err, errlen, "invalid input for param '%s': not of type %s", name,
                 want ? want : "?");
        cJSON_free(want);
        return -1;
    }
    if (cJSON_IsArray(en)) {
        ok = false;
        cJSON_ArrayForEach(it, en) ok = ok || cJSON_Compare(it, v, true);
        if (!ok) {
            snprintf(err, errlen, "invalid input for param '%s': not one of its enum values", name);
            return -1;
        }
    }
    return 0;
}

int dag_params_resolve(const cJSON *params, const cJSON *conf, cJSON **out, char *err,
                       size_t errlen)
{
    const cJSON *p;
    cJSON *res;

    *out = NULL;
    if (conf && !cJSON_IsObject(conf)) {
        snprintf(err, errlen, "conf must be a JSON object");
        return -1;
    }
    if (params && !cJSON_IsObject(params)) {
        snprintf(err, errlen, "the DAG's params are not an object");
        return -1;
    }
    res = conf ? cJSON_Duplicate(conf, true) : cJSON_CreateObject();
    if (!res)
        goto oom;
    cJSON_ArrayForEach(p, params)
    {
        const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(p, "default");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(res, p->string);
        if (!v) {
            cJSON *copy;
            if (!dflt) {
                snprintf(err, errlen,
                         "param '%s' is required: it has no default value and "
                         "the conf does not set it",
                         p->string);
                goto fail;
            }
            if (!(copy = cJSON_Duplicate(dflt, true)) ||
                !cJSON_AddItemToObject(res, p->string, copy)) {
                cJSON_Delete(copy);
                goto oom;
            }
            v = copy;
        }
        if (check_param(p->string, v, cJSON_GetObjectItemCaseSensitive(p, "schema"), err, errlen) <
            0)
            goto fail;
    }
    *out = res;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    cJSON_Delete(res);
    return -1;
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

static const char *const weight_rule_names[] = {"downstream", "upstream", "absolute"};

bool dag_user_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > DAG_USER_NAME_MAX || name[0] == '-')
        return false;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

const char *dag_weight_rule_name(dag_weight_rule_t r)
{
    return (unsigned)r < 3 ? weight_rule_names[r] : "downstream";
}

int dag_weight_rule_parse(const char *name, dag_weight_rule_t *out)
{
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, weight_rule_names[i])) {
            *out = (dag_weight_rule_t)i;
            return 0;
        }
    return -1;
}

int dag_find_group(const dag_t *dag, const char *group_id)
{
    if (!dag || !group_id)
        return -1;
    for (size_t i = 0; i < dag->n_groups; i++)
        if (strcmp(dag->groups[i].group_id, group_id) == 0)
            return (int)i;
    return -1;
}

const char *dag_operator_name(dag_operator_t op)
{
    return operator_class_name(op);
}

bool dag_expandable_field(dag_operator_t op, const char *name)
{
    if (operator_takes_bash(op) && (!strcmp(name, "bash_command") || !strcmp(name, "env")))
        return true;
    const operator_arg_t *a = operator_find_arg(op, name);
    return a && a->expandable;
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
    cJSON *o = cJSON_CreateObject(), *env = NULL;
    bool ok = o != NULL;

    ok = ok && add_str(o, "task_id", t->task_id);
    ok = ok && add_str(o, "operator", dag_operator_name(t->op));
    ok = ok && add_str(o, "bash_command", t->bash_command);
    /* env: null when the task declared none (it inherits the worker's
     * environment); an object, maybe empty, when it did. */
    if (!t->env)
        ok = ok && cJSON_AddNullToObject(o, "env") != NULL;
    else
        ok = ok && (env = cJSON_AddObjectToObject(o, "env")) != NULL;
    for (size_t i = 0; ok && t->env && i < t->n_env; i++)
        ok = add_str(env, t->env[i].name, t->env[i].value);
    ok = ok && cJSON_AddBoolToObject(o, "append_env", t->append_env);
    ok = ok && add_str(o, "cwd", t->cwd);
    ok = ok && add_str(o, "owner", t->owner);
    if (t->run_as_user) /* only when set, so that other DAGs keep their bytes (and hash) */
        ok = ok && add_str(o, "run_as_user", t->run_as_user);
    ok = ok && cJSON_AddNumberToObject(o, "retries", t->retries);
    ok = ok && cJSON_AddNumberToObject(o, "retry_delay_sec", t->retry_delay_sec);
    ok = ok && add_str(o, "queue", t->queue);
    ok = ok && add_str(o, "pool", t->pool);
    ok = ok && cJSON_AddNumberToObject(o, "pool_slots", t->pool_slots);
    /* The effective priority, which task_instance.priority_weight copies;
     * the weight as written and the rule only when they differ from it and
     * from the default, so that DAGs without them keep their bytes. */
    ok = ok && cJSON_AddNumberToObject(o, "priority_weight", t->priority_weight_total);
    if (t->priority_weight != t->priority_weight_total)
        ok = ok && cJSON_AddNumberToObject(o, "own_priority_weight", t->priority_weight);
    if (t->weight_rule != DAG_WEIGHT_DOWNSTREAM)
        ok = ok && add_str(o, "weight_rule", dag_weight_rule_name(t->weight_rule));
    if (t->max_active_tis_per_dag > 0)
        ok = ok && cJSON_AddNumberToObject(o, "max_active_tis_per_dag", t->max_active_tis_per_dag);
    if (t->max_active_tis_per_dagrun > 0)
        ok = ok &&
             cJSON_AddNumberToObject(o, "max_active_tis_per_dagrun", t->max_active_tis_per_dagrun);
    ok = ok && add_str(o, "trigger_rule", t->trigger_rule);
    if (t->doc_md) /* only when set, so that existing DAGs keep their bytes (and hash) */
        ok = ok && add_str(o, "doc_md", t->doc_md);
    ok = ok && cJSON_AddNumberToObject(o, "execution_timeout_sec", t->execution_timeout_sec);
    /* Only when not the default, so that existing DAGs keep their bytes (and hash). */
    if (t->retry_exponential_backoff)
        ok = ok && cJSON_AddBoolToObject(o, "retry_exponential_backoff", true);
    if (t->no_xcom_push)
        ok = ok && cJSON_AddBoolToObject(o, "do_xcom_push", false);
    if (t->max_retry_delay_sec > 0)
        ok = ok && cJSON_AddNumberToObject(o, "max_retry_delay_sec", t->max_retry_delay_sec);
    if (ok && !(t->n_skip_on_exit_code == 1 && t->skip_on_exit_code[0] == 99)) {
        cJSON *codes = cJSON_AddArrayToObject(o, "skip_on_exit_code");
        ok = codes != NULL;
        for (size_t i = 0; ok && i < t->n_skip_on_exit_code && i < DAG_SKIP_CODES_MAX; i++) {
            cJSON *c = cJSON_CreateNumber(t->skip_on_exit_code[i]);
            ok = c != NULL;
            if (ok)
                cJSON_AddItemToArray(codes, c);
        }
    }
    /* only when set, so that older documents keep their bytes (and hash) */
    if (t->depends_on_past)
        ok = ok && cJSON_AddBoolToObject(o, "depends_on_past", true);
    if (t->wait_for_downstream)
        ok = ok && cJSON_AddBoolToObject(o, "wait_for_downstream", true);
    if (t->args) {
        cJSON *a = cJSON_Duplicate(t->args, 1);
        ok = ok && a && cJSON_AddItemToObject(o, "args", a);
    }
    if (t->expand) {
        cJSON *e = cJSON_Duplicate(t->expand, 1);
        ok = ok && e && cJSON_AddItemToObject(o, "expand", e);
    }
    if (t->alerts) {
        cJSON *a = cJSON_Duplicate(t->alerts, 1);
        ok = ok && a && cJSON_AddItemToObject(o, "alerts", a);
    }
    if (t->var_args) {
        cJSON *a = cJSON_Duplicate(t->var_args, 1);
        ok = ok && a && cJSON_AddItemToObject(o, "variables_as_arguments", a);
    }
    if (t->sla_sec > 0)
        ok = ok && cJSON_AddNumberToObject(o, "sla_sec", t->sla_sec);
    if (t->task_group)
        ok = ok && add_str(o, "task_group", t->task_group);
    ok = ok && add_str_array(o, "upstream_task_ids", t->upstream, t->n_upstream);
    ok = ok && add_str_array(o, "downstream_task_ids", t->downstream, t->n_downstream);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/*
 * One group with its tasks (in topological order) and its child groups,
 * recursively; the loader bounds the depth (DAG_GROUP_DEPTH_MAX).
 */
static cJSON *group_to_json(const dag_t *dag, size_t gi)
{
    const dag_group_t *g = &dag->groups[gi];
    cJSON *o = cJSON_CreateObject(), *ids = NULL, *kids = NULL;
    bool ok = o != NULL;

    ok = ok && add_str(o, "group_id", g->group_id);
    ok = ok && add_str(o, "label", g->label);
    ok = ok && add_str(o, "tooltip", g->tooltip ? g->tooltip : "");
    ok = ok && cJSON_AddBoolToObject(o, "prefix_group_id", g->prefix_group_id);
    ok = ok && (ids = cJSON_AddArrayToObject(o, "task_ids")) != NULL;
    for (size_t i = 0; ok && i < dag->n_tasks; i++) {
        if (!dag->tasks[i].task_group || strcmp(dag->tasks[i].task_group, g->group_id) != 0)
            continue;
        cJSON *id = cJSON_CreateString(dag->tasks[i].task_id);
        ok = id != NULL;
        if (ok)
            cJSON_AddItemToArray(ids, id);
    }
    ok = ok && (kids = cJSON_AddArrayToObject(o, "children")) != NULL;
    for (size_t i = 0; ok && i < dag->n_groups; i++) {
        if (!dag->groups[i].parent_id || strcmp(dag->groups[i].parent_id, g->group_id) != 0)
            continue;
        cJSON *k = group_to_json(dag, i);
        ok = k != NULL;
        if (ok)
            cJSON_AddItemToArray(kids, k);
    }
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
    if (dag->doc_md) /* only when set, so that existing DAGs keep their bytes (and hash) */
        ok = ok && add_str(o, "doc_md", dag->doc_md);
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
    /* Only when set, so that existing DAGs keep their hash. */
    if (dag->dagrun_timeout_sec > 0)
        ok = ok && cJSON_AddNumberToObject(o, "dagrun_timeout_sec", dag->dagrun_timeout_sec);
    if (dag->max_consecutive_failed_dag_runs > 0)
        ok = ok && cJSON_AddNumberToObject(o, "max_consecutive_failed_dag_runs",
                                           dag->max_consecutive_failed_dag_runs);
    /* Only when there are params, so that DAGs without them keep their hash. */
    if (ok && dag->alerts) {
        cJSON *ac = cJSON_Duplicate(dag->alerts, true);
        ok = ac && cJSON_AddItemToObject(o, "alerts", ac);
    }
    if (ok && dag->params) {
        cJSON *pc = cJSON_Duplicate(dag->params, true);
        ok = pc && cJSON_AddItemToObject(o, "params", pc);
        if (!ok)
            cJSON_Delete(pc);
    }
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
    /* The group tree, top-level groups in declaration order; only when the
     * DAG has groups, so that other DAGs keep their bytes (and hash). */
    cJSON *groups = NULL;
    if (ok && dag->n_groups)
        ok = (groups = cJSON_AddArrayToObject(o, "task_groups")) != NULL;
    for (size_t i = 0; ok && i < dag->n_groups; i++) {
        if (dag->groups[i].parent_id)
            continue;
        cJSON *g = group_to_json(dag, i);
        ok = g != NULL;
        if (ok)
            cJSON_AddItemToArray(groups, g);
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

/* skip_on_exit_code: absent = the default {99}; a list of integers (empty = none). */
static int json_skip_codes(const cJSON *o, dag_task_t *t, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "skip_on_exit_code"), *it;
    if (!v)
        return 0;
    t->n_skip_on_exit_code = 0;
    if (cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > DAG_SKIP_CODES_MAX) {
        snprintf(err, errlen, "key 'skip_on_exit_code' is not a list of at most %d integers",
                 DAG_SKIP_CODES_MAX);
        return -1;
    }
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble != (double)it->valueint) {
            snprintf(err, errlen, "key 'skip_on_exit_code' holds a value that is not an integer");
            return -1;
        }
        t->skip_on_exit_code[t->n_skip_on_exit_code++] = it->valueint;
    }
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
    cJSON_ArrayForEach(it, v)
    {
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
    char *opname = NULL, *rule = NULL;
    int append_env = 0, backoff = 0, xcom_push = 1, rc = -1, own_weight = INT_MIN;
    const cJSON *env, *it;
    char sub[200];

    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "task '%s' is not an object", task_id);
        return -1;
    }
    t->retry_delay_sec = 300;
    t->pool_slots = 1;
    t->priority_weight = t->priority_weight_total = 1;
    t->skip_on_exit_code[0] = 99;
    t->n_skip_on_exit_code = 1;
    if (!(t->task_id = strdup(task_id)))
        goto oom;
    if (json_str(o, "operator", true, &opname, sub, sizeof sub) != 0)
        goto bad;
    if (!operator_parse(opname, &t->op)) {
        snprintf(sub, sizeof sub, "unknown operator '%s'", opname);
        goto bad;
    }
    if (json_str(o, "bash_command", false, &t->bash_command, sub, sizeof sub) != 0 ||
        json_bool(o, "append_env", &append_env, sub, sizeof sub) != 0 ||
        json_str(o, "cwd", false, &t->cwd, sub, sizeof sub) != 0 ||
        json_str(o, "owner", false, &t->owner, sub, sizeof sub) != 0 ||
        json_str(o, "run_as_user", false, &t->run_as_user, sub, sizeof sub) != 0 ||
        json_int(o, "retries", &t->retries, sub, sizeof sub) != 0 ||
        json_int(o, "retry_delay_sec", &t->retry_delay_sec, sub, sizeof sub) != 0 ||
        json_str(o, "queue", false, &t->queue, sub, sizeof sub) != 0 ||
        json_str(o, "pool", false, &t->pool, sub, sizeof sub) != 0 ||
        json_int(o, "pool_slots", &t->pool_slots, sub, sizeof sub) != 0 ||
        json_int(o, "priority_weight", &t->priority_weight_total, sub, sizeof sub) != 0 ||
        json_int(o, "own_priority_weight", &own_weight, sub, sizeof sub) != 0 ||
        json_str(o, "weight_rule", false, &rule, sub, sizeof sub) != 0 ||
        json_int(o, "max_active_tis_per_dag", &t->max_active_tis_per_dag, sub, sizeof sub) != 0 ||
        json_int(o, "max_active_tis_per_dagrun", &t->max_active_tis_per_dagrun, sub, sizeof sub) !=
            0 ||
        json_str(o, "trigger_rule", false, &t->trigger_rule, sub, sizeof sub) != 0 ||
        json_str(o, "doc_md", false, &t->doc_md, sub, sizeof sub) != 0 ||
        json_int(o, "execution_timeout_sec", &t->execution_timeout_sec, sub, sizeof sub) != 0 ||
        json_bool(o, "retry_exponential_backoff", &backoff, sub, sizeof sub) != 0 ||
        json_bool(o, "do_xcom_push", &xcom_push, sub, sizeof sub) != 0 ||
        json_int(o, "max_retry_delay_sec", &t->max_retry_delay_sec, sub, sizeof sub) != 0 ||
        json_skip_codes(o, t, sub, sizeof sub) != 0 ||
        json_str(o, "task_group", false, &t->task_group, sub, sizeof sub) != 0 ||
        json_str_array(o, "upstream_task_ids", &t->upstream, &t->n_upstream, sub, sizeof sub) !=
            0 ||
        json_str_array(o, "downstream_task_ids", &t->downstream, &t->n_downstream, sub,
                       sizeof sub) != 0)
        goto bad;
    int dop = 0, wfd = 0;
    if (json_bool(o, "depends_on_past", &dop, sub, sizeof sub) != 0 ||
        json_bool(o, "wait_for_downstream", &wfd, sub, sizeof sub) != 0)
        goto bad;
    t->depends_on_past = dop == 1;
    t->wait_for_downstream = wfd == 1;
    if (json_int(o, "sla_sec", &t->sla_sec, sub, sizeof sub) != 0)
        goto bad;
    const cJSON *jal = cJSON_GetObjectItemCaseSensitive(o, "alerts");
    if (jal && cJSON_IsObject(jal) && !(t->alerts = cJSON_Duplicate(jal, 1)))
        goto oom;
    const cJSON *jva = cJSON_GetObjectItemCaseSensitive(o, "variables_as_arguments");
    if (jva && cJSON_IsArray(jva) && !(t->var_args = cJSON_Duplicate(jva, 1)))
        goto oom;
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(o, "args");
    const cJSON *je = cJSON_GetObjectItemCaseSensitive(o, "expand");
    if ((ja && !cJSON_IsNull(ja) && !cJSON_IsObject(ja)) ||
        (je && !cJSON_IsNull(je) && !cJSON_IsObject(je))) {
        snprintf(sub, sizeof sub, "args and expand must be objects");
        goto bad;
    }
    if ((ja && cJSON_IsObject(ja) && !(t->args = cJSON_Duplicate(ja, 1))) ||
        (je && cJSON_IsObject(je) && !(t->expand = cJSON_Duplicate(je, 1))))
        goto oom;
    t->append_env = append_env == 1;
    t->retry_exponential_backoff = backoff == 1;
    t->no_xcom_push = xcom_push == 0;
    t->priority_weight = own_weight != INT_MIN ? own_weight : t->priority_weight_total;
    if (rule && dag_weight_rule_parse(rule, &t->weight_rule) != 0) {
        snprintf(sub, sizeof sub, "unknown weight_rule '%.64s'", rule);
        goto bad;
    }
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
        cJSON_ArrayForEach(it, env)
        {
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
    free(rule);
    return rc;
}

/*
 * Reads the group tree (pre-order: parents before children) into
 * dag->groups; cap is the array's size. 0, or -1 with err filled.
 */
static int groups_from_json(dag_t *dag, const cJSON *arr, const char *parent, int depth, size_t cap,
                            char *err, size_t errlen)
{
    const cJSON *it;

    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "task group children are not an array");
        return -1;
    }
    if (depth > DAG_GROUP_DEPTH_MAX) {
        snprintf(err, errlen, "task groups nested deeper than %d levels", DAG_GROUP_DEPTH_MAX);
        return -1;
    }
    cJSON_ArrayForEach(it, arr)
    {
        char *id = NULL;
        int prefix = 1;
        if (!cJSON_IsObject(it) || json_str(it, "group_id", true, &id, err, errlen) != 0) {
            if (!err[0] || !cJSON_IsObject(it))
                snprintf(err, errlen, "task group is not an object");
            return -1;
        }
        if (dag_find_group(dag, id) >= 0 || dag->n_groups >= cap) {
            snprintf(err, errlen, "task group '%s' appears twice", id);
            free(id);
            return -1;
        }
        dag_group_t *g = &dag->groups[dag->n_groups++];
        g->group_id = id;
        if (json_str(it, "label", false, &g->label, err, errlen) != 0 ||
            json_str(it, "tooltip", false, &g->tooltip, err, errlen) != 0 ||
            json_bool(it, "prefix_group_id", &prefix, err, errlen) != 0)
            return -1;
        g->prefix_group_id = prefix == 1;
        if ((!g->label && !(g->label = strdup(id))) ||
            (!g->tooltip && !(g->tooltip = strdup(""))) ||
            (parent && !(g->parent_id = strdup(parent)))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        const cJSON *kids = cJSON_GetObjectItemCaseSensitive(it, "children");
        if (kids && !cJSON_IsNull(kids) &&
            groups_from_json(dag, kids, g->group_id, depth + 1, cap, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Counts the group objects of a tree (bounded like groups_from_json). */
static size_t groups_count(const cJSON *arr, int depth)
{
    const cJSON *it;
    size_t n = 0;
    if (!cJSON_IsArray(arr) || depth > DAG_GROUP_DEPTH_MAX)
        return 0;
    cJSON_ArrayForEach(it, arr)
    {
        n++;
        if (cJSON_IsObject(it))
            n += groups_count(cJSON_GetObjectItemCaseSensitive(it, "children"), depth + 1);
    }
    return n;
}

/* The DAG's own fields, params and alerts. 0, or -1 with err. */
static int dag_fields_from_json(const cJSON *json, dag_t *dag, char *err, size_t errlen)
{
    if (json_str(json, "dag_id", true, &dag->dag_id, err, errlen) != 0 ||
        json_str(json, "fileloc", false, &dag->fileloc, err, errlen) != 0 ||
        json_str(json, "description", false, &dag->description, err, errlen) != 0 ||
        json_str(json, "doc_md", false, &dag->doc_md, err, errlen) != 0 ||
        json_str(json, "schedule", false, &dag->schedule, err, errlen) != 0 ||
        json_ts(json, "start_date", &dag->start_date, err, errlen) != 0 ||
        json_ts(json, "end_date", &dag->end_date, err, errlen) != 0 ||
        json_bool(json, "catchup", &dag->catchup, err, errlen) != 0 ||
        json_str(json, "timezone", false, &dag->timezone, err, errlen) != 0 ||
        json_str_array(json, "tags", &dag->tags, &dag->n_tags, err, errlen) != 0 ||
        json_str(json, "owner", false, &dag->owner, err, errlen) != 0 ||
        json_int(json, "max_active_runs", &dag->max_active_runs, err, errlen) != 0 ||
        json_int(json, "max_active_tasks", &dag->max_active_tasks, err, errlen) != 0 ||
        json_bool(json, "is_paused_upon_creation", &dag->is_paused_upon_creation, err, errlen) !=
            0 ||
        json_int(json, "dagrun_timeout_sec", &dag->dagrun_timeout_sec, err, errlen) != 0 ||
        json_int(json, "max_consecutive_failed_dag_runs", &dag->max_consecutive_failed_dag_runs,
                 err, errlen) != 0)
        return -1;
    if (dag->timezone && strcmp(dag->timezone, "UTC") == 0) {
        free(dag->timezone); /* written for UTC; NULL means UTC in memory */
        dag->timezone = NULL;
    }
    if (!dag->owner && !(dag->owner = strdup("airflow"))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    {
        const cJSON *pj = cJSON_GetObjectItemCaseSensitive(json, "params");
        if (pj && !cJSON_IsNull(pj)) {
            if (!cJSON_IsObject(pj)) {
                snprintf(err, errlen, "'params' is not an object");
                return -1;
            }
            if (!(dag->params = cJSON_Duplicate(pj, true))) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
    }
    {
        const cJSON *aj = cJSON_GetObjectItemCaseSensitive(json, "alerts");
        if (cJSON_IsObject(aj) && !(dag->alerts = cJSON_Duplicate(aj, true))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* The tasks, in task_order, each named once and present in tasks. 0, or -1 with err. */
static int dag_tasks_from_json(const cJSON *json, dag_t *dag, char *err, size_t errlen)
{
    const cJSON *order, *tasks, *it;

    order = cJSON_GetObjectItemCaseSensitive(json, "task_order");
    tasks = cJSON_GetObjectItemCaseSensitive(json, "tasks");
    if (!cJSON_IsArray(order) || !cJSON_IsObject(tasks)) {
        snprintf(err, errlen, "missing 'task_order' array or 'tasks' object");
        return -1;
    }
    int count = cJSON_GetArraySize(order);
    if (count != cJSON_GetArraySize(tasks)) {
        snprintf(err, errlen, "'task_order' and 'tasks' do not match");
        return -1;
    }
    if (!(dag->tasks = calloc(count ? (size_t)count : 1, sizeof *dag->tasks))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cJSON_ArrayForEach(it, order)
    {
        if (!cJSON_IsString(it)) {
            snprintf(err, errlen, "'task_order' holds a non-string");
            return -1;
        }
        if (dag_find_task(dag, it->valuestring) >= 0) {
            snprintf(err, errlen, "task '%s' appears twice in 'task_order'", it->valuestring);
            return -1;
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(tasks, it->valuestring);
        if (!t) {
            snprintf(err, errlen, "task '%s' is in 'task_order' but not in 'tasks'",
                     it->valuestring);
            return -1;
        }
        /* counted before filling, so a failed task is still freed */
        dag_task_t *task = &dag->tasks[dag->n_tasks++];
        if (task_from_json(t, it->valuestring, task, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* task_groups, when present. 0, or -1 with err. */
static int dag_groups_from_json(const cJSON *json, dag_t *dag, char *err, size_t errlen)
{
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(json, "task_groups");
    if (groups && !cJSON_IsNull(groups)) {
        size_t cap = groups_count(groups, 0);
        if (!(dag->groups = calloc(cap ? cap : 1, sizeof *dag->groups))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        err[0] = '\0';
        if (groups_from_json(dag, groups, NULL, 0, cap, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Every edge must name a task of this DAG, every group a group. 0, or -1 with err. */
static int check_references(const dag_t *dag, char *err, size_t errlen)
{
    for (size_t i = 0; i < dag->n_tasks; i++) {
        const dag_task_t *t = &dag->tasks[i];
        if (t->task_group && dag_find_group(dag, t->task_group) < 0) {
            snprintf(err, errlen, "task '%s' is in unknown task group '%s'", t->task_id,
                     t->task_group);
            return -1;
        }
        for (size_t j = 0; j < t->n_upstream; j++)
            if (dag_find_task(dag, t->upstream[j]) < 0) {
                snprintf(err, errlen, "task '%s' depends on unknown task '%s'", t->task_id,
                         t->upstream[j]);
                return -1;
            }
        for (size_t j = 0; j < t->n_downstream; j++)
            if (dag_find_task(dag, t->downstream[j]) < 0) {
                snprintf(err, errlen, "task '%s' has unknown downstream task '%s'", t->task_id,
                         t->downstream[j]);
                return -1;
            }
    }
    return 0;
}

dag_t *dag_from_json(const cJSON *json, char *err, size_t errlen)
{
    dag_t *dag = NULL;
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
    if (dag_fields_from_json(json, dag, err, errlen) != 0 ||
        dag_tasks_from_json(json, dag, err, errlen) != 0 ||
        dag_groups_from_json(json, dag, err, errlen) != 0 ||
        check_references(dag, err, errlen) != 0)
        goto fail;
    return dag;
fail:
    dag_free(dag);
    return NULL;
}

bool dag_alert_append(cJSON *arr, const char *conn_id, const char *kind, const char *text,
                      const char *channel)
{
    cJSON *a = cJSON_CreateObject();
    if (!a || !cJSON_AddStringToObject(a, "conn_id", conn_id) ||
        !cJSON_AddStringToObject(a, "kind", kind) ||
        (text && !cJSON_AddStringToObject(a, "text", text)) ||
        (channel && !cJSON_AddStringToObject(a, "channel", channel)) ||
        !cJSON_AddItemToArray(arr, a)) {
        cJSON_Delete(a);
        return false;
    }
    return true;
}
