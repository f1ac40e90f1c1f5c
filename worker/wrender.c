/*
 * wrender.c - a try's mapped values and rendered fields (see wrender.h).
 */
#include "worker/wrender.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "model/sensitive.h"
#include "model/taskenv.h"
#include "store/taskrender.h"
#include "store/xcom.h"
#include "worker/opsem.h"

#define MAP_XCOM_MAX (16 << 20) /* an expand XCom larger than this is refused */

/* Renders *field in place (when it has markup); its secrets go to lb's masks. */
static int render_field(const taskrender_t *tr, char **field, const char *what, logbuf_t *lb,
                        char *err, size_t errlen)
{
    template_result_t res;
    if (!*field || !template_has_markup(*field, strlen(*field)))
        return 0;
    if (taskrender_field(tr, *field, what, &res, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < res.nsecrets; i++) {
        if (logbuf_add_secret(lb, res.secrets[i]) < 0) {
            snprintf(err, errlen, "cannot render %s: too many or too long secret values", what);
            template_result_free(&res);
            return -1;
        }
    }
    free(*field);
    *field = res.text;
    res.text = NULL;
    template_result_free(&res);
    return 0;
}

/* Renders every string leaf of node (an argument's value) in place. */
static int render_json(const taskrender_t *tr, cJSON *node, const char *what, logbuf_t *lb,
                       char *err, size_t errlen)
{
    if (cJSON_IsString(node)) {
        if (!template_has_markup(node->valuestring, strlen(node->valuestring)))
            return 0;
        char *v = strdup(node->valuestring);
        if (!v) {
            snprintf(err, errlen, "cannot render %s: out of memory", what);
            return -1;
        }
        int rc = render_field(tr, &v, what, lb, err, errlen);
        if (rc == 0 && !cJSON_SetValuestring(node, v)) {
            snprintf(err, errlen, "cannot render %s: out of memory", what);
            rc = -1;
        }
        free(v);
        return rc;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, node)
    {
        if (render_json(tr, it, what, lb, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static bool json_mentions(const cJSON *node, const char *needle)
{
    if (cJSON_IsString(node))
        return strstr(node->valuestring, needle) != NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, node)
    {
        if (json_mentions(it, needle))
            return true;
    }
    return false;
}

static bool mentions_prev(const wtry_t *t)
{
    if (t->bash_command && strstr(t->bash_command, "prev_data_interval"))
        return true;
    for (size_t i = 0; i < t->n_env; i++)
        if (t->env[i].value && strstr(t->env[i].value, "prev_data_interval"))
            return true;
    return t->args && json_mentions(t->args, "prev_data_interval");
}

/*
 * The run's conf reaches the task through its environment too
 * (UPDRAFT_DAG_RUN_CONF, UPDRAFT_PARAM_<key>): its values under
 * secret-looking keys are masked whether a template prints them or not.
 */
static int mask_conf(const wtry_t *t, logbuf_t *lb, char *err, size_t errlen)
{
    cJSON *conf;
    int rc = 0;

    if (!t->conf_json)
        return 0;
    conf = cJSON_ParseWithLengthOpts(t->conf_json, strlen(t->conf_json) + 1, NULL, 1);
    if (conf && logbuf_add_json_secrets(lb, conf) < 0) {
        snprintf(err, errlen, "cannot mask the dag run conf: too many or too long secret values");
        rc = -1;
    }
    cJSON_Delete(conf);
    return rc;
}

/*
 * dag-factory's variables_as_arguments: each set Variable replaces its
 * field (bash_command or a templated argument) before the fields are
 * rendered, as dag-factory passes Variable.get(NAME) to the operator and
 * Airflow then renders it. An unset Variable leaves the field as written.
 * A Variable under a sensitive name is masked in the log. 0 or -1.
 */
static int apply_var_args(taskrender_t *tr, wtry_t *t, logbuf_t *lb, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, t->var_args)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "variable");
        const cJSON *attr = cJSON_GetObjectItemCaseSensitive(it, "attribute");
        char *value = NULL;
        bool secret = false;
        if (!cJSON_IsString(name) || !cJSON_IsString(attr))
            continue;
        int rc = tr->ctx.var_get(tr->ctx.ud, name->valuestring, &value, &secret, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (secret && logbuf_add_secret(lb, value) < 0) {
            snprintf(err, errlen, "cannot mask variable '%s'", name->valuestring);
            free(value);
            return -1;
        }
        if (strcmp(attr->valuestring, "bash_command") == 0) {
            free(t->bash_command);
            t->bash_command = value;
            continue;
        }
        cJSON *s = cJSON_CreateString(value);
        free(value);
        if (!s || (!t->args && !(t->args = cJSON_CreateObject()))) {
            cJSON_Delete(s);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(t->args, attr->valuestring);
        cJSON_AddItemToObject(t->args, attr->valuestring, s);
    }
    return 0;
}

int wrender_try(db_t *db, const secrets_keyring_t *ring, wtry_t *t, logbuf_t *lb, char *err,
                size_t errlen)
{
    taskrender_t tr;
    if (mask_conf(t, lb, err, errlen) < 0)
        return -1;
    taskrender_init(&tr, db, ring);
    tr.ctx.dag_id = t->dag_id;
    tr.ctx.task_id = t->task_id;
    tr.ctx.task_type = operator_class_name(t->op);
    tr.ctx.run_id = t->run_id;
    tr.ctx.try_number = t->try_number;
    tr.ctx.map_index = t->map_index;
    tr.ctx.logical_date = t->logical_date;
    tr.ctx.data_interval_start = t->data_interval_start;
    tr.ctx.data_interval_end = t->data_interval_end;
    tr.ctx.params_json = t->conf_json;
    tr.ctx.conf_json = t->conf_json;
    if (t->var_args && apply_var_args(&tr, t, lb, err, errlen) < 0)
        return -1;
    if (mentions_prev(t) && taskrender_prev_interval(&tr, t->dag_run_id, err, errlen) < 0)
        return -1;
    if (render_field(&tr, &t->bash_command, "bash_command", lb, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < t->n_env; i++) {
        char what[300];
        snprintf(what, sizeof(what), "env %.256s", t->env[i].name);
        char *v = (char *)t->env[i].value;
        int rc = render_field(&tr, &v, what, lb, err, errlen);
        t->env[i].value = v;
        if (rc < 0)
            return -1;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, t->args)
    {
        const operator_arg_t *a = it->string ? operator_find_arg(t->op, it->string) : NULL;
        if (!a || !a->templated)
            continue;
        char what[300];
        snprintf(what, sizeof(what), "%.256s", it->string);
        if (render_json(&tr, it, what, lb, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---- dynamic task mapping ------------------------------------------------ */

/* name=value in t's env (replacing), the value read as the spec's env is (wtry_env_text). */
static int env_put(wtry_t *t, const cJSON *v, char *err, size_t errlen)
{
    char num[WTRY_ENV_NUM_LEN];
    const char *val = wtry_env_text(v, num);
    if (!val) {
        snprintf(err, errlen, "mapped env value of %.200s is not a string", v->string);
        return -1;
    }
    if (!v->string || !taskenv_name_valid(v->string)) {
        snprintf(err, errlen, "mapped env: invalid variable name \"%.200s\"",
                 v->string ? v->string : "");
        return -1;
    }
    char *value = strdup(val);
    if (!value)
        goto oom;
    for (size_t i = 0; i < t->n_env; i++) {
        if (strcmp(t->env[i].name, v->string) == 0) {
            free((char *)t->env[i].value);
            t->env[i].value = value;
            return 0;
        }
    }
    if (t->n_env >= TASKENV_MAX_VARS) {
        free(value);
        snprintf(err, errlen, "mapped env: too many variables");
        return -1;
    }
    taskenv_var_t *ne = realloc(t->env, (t->n_env + 1) * sizeof(*ne));
    char *name = strdup(v->string);
    if (!ne || !name) {
        if (ne)
            t->env = ne;
        free(name);
        free(value);
        goto oom;
    }
    t->env = ne;
    t->env[t->n_env].name = name;
    t->env[t->n_env].value = value;
    t->n_env++;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* args[key] = value (taken). */
static int arg_put(wtry_t *t, const char *key, cJSON *value)
{
    if (!t->args && !(t->args = cJSON_CreateObject())) {
        cJSON_Delete(value);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(t->args, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(t->args, key, value) ? 0 : -1;
    return cJSON_AddItemToObject(t->args, key, value) ? 0 : -1;
}

/* Applies elem (borrowed) to the field key of t. */
static int apply_elem(wtry_t *t, const char *key, const cJSON *elem, char *err, size_t errlen)
{
    if (strcmp(key, "bash_command") == 0) {
        char *cmd = cJSON_IsString(elem) ? strdup(elem->valuestring) : cJSON_PrintUnformatted(elem);
        if (!cmd)
            goto oom;
        free(t->bash_command);
        t->bash_command = cmd;
        return 0;
    }
    if (strcmp(key, "env") == 0 && operator_takes_bash(t->op)) {
        if (!cJSON_IsObject(elem)) {
            snprintf(err, errlen, "mapped env must be a mapping of names to strings");
            return -1;
        }
        const cJSON *v;
        t->has_env = true;
        cJSON_ArrayForEach(v, elem)
        {
            if (env_put(t, v, err, errlen) < 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(key, "op_args") == 0 && !cJSON_IsArray(elem)) {
        cJSON *arr = cJSON_CreateArray(), *c = cJSON_Duplicate(elem, 1);
        if (!arr || !c || !cJSON_AddItemToArray(arr, c)) {
            cJSON_Delete(arr);
            cJSON_Delete(c);
            goto oom;
        }
        return arg_put(t, key, arr) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
    }
    if (strcmp(key, "op_kwargs") == 0) {
        if (!cJSON_IsObject(elem)) {
            snprintf(err, errlen, "mapped op_kwargs must be a mapping");
            return -1;
        }
        cJSON *kw = t->args ? cJSON_GetObjectItemCaseSensitive(t->args, "op_kwargs") : NULL;
        cJSON *merged = cJSON_IsObject(kw) ? cJSON_Duplicate(kw, 1) : cJSON_CreateObject();
        const cJSON *v;
        if (!merged)
            goto oom;
        cJSON_ArrayForEach(v, elem)
        {
            cJSON *c = cJSON_Duplicate(v, 1);
            bool ok = c != NULL;
            if (ok && cJSON_GetObjectItemCaseSensitive(merged, v->string))
                ok = cJSON_ReplaceItemInObjectCaseSensitive(merged, v->string, c);
            else if (ok)
                ok = cJSON_AddItemToObject(merged, v->string, c);
            if (!ok) {
                cJSON_Delete(c);
                cJSON_Delete(merged);
                goto oom;
            }
        }
        return arg_put(t, key, merged) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
    }
    cJSON *c = cJSON_Duplicate(elem, 1);
    if (!c || arg_put(t, key, c) < 0)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/*
 * The return_value XCom (map index -1) of task_id in t's run as a list:
 * *out a new array (an object's items become [key, value] pairs).
 */
static int map_xcom(db_t *db, const wtry_t *t, const char *key, const char *task_id, cJSON **out,
                    char *err, size_t errlen)
{
    int rc = -1;
    cJSON *v = NULL;
    char *text = NULL;
    int found = xcom_map_source(db, t->dag_run_id, task_id, &text);
    if (found == UPDRAFT_EDB) {
        snprintf(err, errlen, "cannot read the XCom of %.200s for expand '%.100s': %s", task_id,
                 key, db_error(db));
        return -1;
    }
    if (found == UPDRAFT_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!text) {
        snprintf(err, errlen,
                 "expand '%.100s': task %.200s pushed no return_value XCom in this run", key,
                 task_id);
        goto out;
    }
    size_t len = strlen(text);
    if (len > MAP_XCOM_MAX) {
        snprintf(err, errlen, "expand '%.100s': the XCom of %.200s is larger than %d bytes", key,
                 task_id, MAP_XCOM_MAX);
        goto out;
    }
    v = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    /* What the planner counted: a list, a mapping, or either as JSON text. */
    cJSON *m = xcom_mappable(v);
    if (cJSON_IsArray(m)) {
        *out = m == v ? v : m;
        if (m != v)
            cJSON_Delete(v);
        v = NULL;
        rc = 0;
    } else if (cJSON_IsObject(m)) {
        cJSON *arr = cJSON_CreateArray(), *it;
        bool ok = arr != NULL;
        cJSON_ArrayForEach(it, m)
        {
            cJSON *pair = ok ? cJSON_CreateArray() : NULL;
            cJSON *k = pair ? cJSON_CreateString(it->string) : NULL;
            cJSON *val = k ? cJSON_Duplicate(it, 1) : NULL;
            ok = val && cJSON_AddItemToArray(pair, k) && cJSON_AddItemToArray(pair, val) &&
                 cJSON_AddItemToArray(arr, pair);
            if (!ok) {
                if (!val)
                    cJSON_Delete(k);
                cJSON_Delete(pair);
                break;
            }
        }
        if (m != v)
            cJSON_Delete(m);
        if (!ok) {
            cJSON_Delete(arr);
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        *out = arr;
        rc = 0;
    } else {
        snprintf(err, errlen,
                 "expand '%.100s': the return_value XCom of %.200s is not a list or a mapping", key,
                 task_id);
    }
out:
    cJSON_Delete(v);
    free(text);
    return rc;
}

int wrender_apply_map(db_t *db, wtry_t *t, char *err, size_t errlen)
{
    if (!t->expand)
        return 0;
    if (t->map_index < 0) {
        snprintf(err, errlen,
                 "task %.200s is mapped (expand), but this task instance has no map index: it "
                 "was not expanded",
                 t->task_id);
        return -1;
    }
    int rc = -1;
    size_t n = (size_t)cJSON_GetArraySize(t->expand), k = 0;
    const cJSON **lists = calloc(n + 1, sizeof(*lists));
    cJSON **owned = calloc(n + 1, sizeof(*owned));
    size_t *lens = calloc(n + 1, sizeof(*lens)), *picks = calloc(n + 1, sizeof(*picks));
    if (!lists || !owned || !lens || !picks) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, t->expand)
    {
        const cJSON *src =
            cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "xcom_task") : NULL;
        if (cJSON_IsArray(it)) {
            lists[k] = it;
        } else if (cJSON_IsString(src)) {
            if (map_xcom(db, t, it->string, src->valuestring, &owned[k], err, errlen) < 0)
                goto out;
            lists[k] = owned[k];
        } else {
            snprintf(err, errlen, "expand '%.100s' is neither a list nor an XCom reference",
                     it->string ? it->string : "");
            goto out;
        }
        lens[k] = (size_t)cJSON_GetArraySize(lists[k]);
        k++;
    }
    if (opsem_map_pick(lens, n, t->map_index, picks) < 0) {
        size_t total = n ? 1 : 0;
        for (size_t i = 0; i < n; i++)
            total = lens[i] && total <= SIZE_MAX / lens[i] ? total * lens[i] : 0;
        snprintf(err, errlen,
                 "map index %d of task %.200s is out of range: expand gives %zu task instances",
                 t->map_index, t->task_id, total);
        goto out;
    }
    k = 0;
    cJSON_ArrayForEach(it, t->expand)
    {
        const cJSON *elem = cJSON_GetArrayItem(lists[k], (int)picks[k]);
        if (!elem || apply_elem(t, it->string, elem, err, errlen) < 0) {
            if (!elem)
                snprintf(err, errlen, "expand '%.100s': no element %zu", it->string, picks[k]);
            goto out;
        }
        k++;
    }
    rc = 0;
out:
    for (size_t i = 0; owned && i < n; i++)
        cJSON_Delete(owned[i]);
    free(lists);
    free(owned);
    free(lens);
    free(picks);
    return rc;
}

/* ---- the rendered fields as stored ------------------------------------- */

#define TRUNCATED_NOTE                                                                             \
    "Truncated. You can change this behaviour in [core]max_templated_field_length. "
#define TRUNCATED_LESS 79 /* Airflow keeps the first max_length - 79 characters */
#define TEMPLATE_FIELDS_MAX 64

/* Bytes of the first max characters of s (UTF-8), or strlen(s) when it has no more. */
static size_t prefix_bytes(const char *s, size_t max, bool *longer)
{
    size_t i = 0, chars = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;
        if (chars == max)
            break;
        chars++;
    }
    *longer = s[i] != '\0';
    return i;
}

/* true when s has more than max characters (UTF-8). */
static bool longer_than(const char *s, size_t max)
{
    bool longer;
    prefix_bytes(s, max, &longer);
    return longer;
}

/*
 * Airflow's truncated form of a value longer than max_len characters:
 * "Truncated. ... '<its first max_len - 79 characters>'... ". NULL when
 * out of memory.
 */
static cJSON *truncated(const char *text, size_t max_len)
{
    bool longer;
    size_t keep = max_len > TRUNCATED_LESS ? max_len - TRUNCATED_LESS : 0;
    size_t n = prefix_bytes(text, keep, &longer);
    strbuf_t b = {0};
    strbuf_puts(&b, TRUNCATED_NOTE "'");
    strbuf_putn(&b, text, n);
    strbuf_puts(&b, "'... ");
    char *s = strbuf_take(&b);
    cJSON *v = s ? cJSON_CreateString(s) : NULL;
    free(s);
    return v;
}

/* Masks every string leaf of node in place with lb's secrets. 0 or -1 (out of memory). */
static int mask_leaves(cJSON *node, const logbuf_t *lb)
{
    if (cJSON_IsString(node)) {
        char *m = logbuf_mask_copy(lb, node->valuestring);
        int rc = m && cJSON_SetValuestring(node, m) ? 0 : -1;
        free(m);
        return rc;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, node)
    {
        if (mask_leaves(it, lb) < 0)
            return -1;
    }
    return 0;
}

/* One field's value before masking: a copy (a JSON null when unset), NULL when out of memory. */
static cJSON *field_value(const wtry_t *t, const char *name)
{
    if (strcmp(name, "bash_command") == 0)
        return t->bash_command ? cJSON_CreateString(t->bash_command) : cJSON_CreateNull();
    if (strcmp(name, "cwd") == 0)
        return t->cwd ? cJSON_CreateString(t->cwd) : cJSON_CreateNull();
    if (strcmp(name, "env") == 0) {
        if (!t->has_env)
            return cJSON_CreateNull();
        cJSON *env = cJSON_CreateObject();
        for (size_t i = 0; env && i < t->n_env; i++)
            if (!cJSON_AddStringToObject(env, t->env[i].name,
                                         t->env[i].value ? t->env[i].value : "")) {
                cJSON_Delete(env);
                return NULL;
            }
        return env;
    }
    const cJSON *a = t->args ? cJSON_GetObjectItemCaseSensitive(t->args, name) : NULL;
    return a ? cJSON_Duplicate(a, true) : cJSON_CreateNull();
}

/* Masked and bounded: values under secret-looking keys, then lb's secrets, then the length. */
static cJSON *stored_value(const wtry_t *t, const char *name, const logbuf_t *lb, size_t max_len)
{
    cJSON *v = field_value(t, name), *out = NULL;
    char *text = NULL;

    if (!v || sensitive_json_redact(v) < 0 || mask_leaves(v, lb) < 0)
        goto out;
    if (cJSON_IsString(v) && longer_than(v->valuestring, max_len)) {
        out = truncated(v->valuestring, max_len);
        goto out;
    }
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        if (!(text = cJSON_PrintUnformatted(v)))
            goto out;
        if (longer_than(text, max_len)) {
            out = truncated(text, max_len);
            goto out;
        }
    }
    out = v; /* within the bound: the value itself */
    v = NULL;
out:
    cJSON_Delete(v);
    if (text)
        cJSON_free(text);
    return out;
}

char *wrender_fields_json(const wtry_t *t, const logbuf_t *lb, size_t max_len)
{
    const char *names[TEMPLATE_FIELDS_MAX];
    size_t n = operator_template_fields(t->op, names, TEMPLATE_FIELDS_MAX);
    cJSON *doc = cJSON_CreateObject();
    char *json = NULL;

    for (size_t i = 0; doc && i < n; i++) {
        cJSON *v = stored_value(t, names[i], lb, max_len);
        if (!v || !cJSON_AddItemToObject(doc, names[i], v)) {
            cJSON_Delete(v);
            goto out;
        }
    }
    char *printed = doc ? cJSON_PrintUnformatted(doc) : NULL;
    if (printed) {
        json = strdup(printed);
        cJSON_free(printed);
    }
out:
    cJSON_Delete(doc);
    return json;
}
