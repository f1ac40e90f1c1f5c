/*
 * wtry.c - a claimed try and its task spec (see wtry.h).
 *
 * The spec comes from our own database, but it is still parsed as input:
 * sizes are checked first and every field is type-checked, and a bad spec
 * fails the try instead of the worker.
 */
#include "worker/wtry.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "core/log.h"
#include "model/planner.h"
#include "store/ti.h"

void wtry_specs_fill(dagver_cache_t *versions, db_t *db, const PGresult *r)
{
    if (!versions || !r)
        return;
    for (int k = 0; k < PQntuples(r); k++) {
        if (PQgetisnull(r, k, WTRY_COL_VERSION))
            continue;
        int64_t vid = db_get_i64(r, k, WTRY_COL_VERSION);
        dagver_t *v;
        if (dagver_get(versions, db, vid, &v) < 0) {
            log_debug("task specs of version_id=%" PRId64 " not cached", vid);
            return; /* best effort: claims keep returning the specs */
        }
    }
}

PGresult *wtry_claim(db_t *db, const dagver_cache_t *versions, bool direct, const char *hostname,
                     int pid, int64_t job_id, const int64_t *ids, const int *tries, size_t n)
{
    PGresult *r = NULL;
    int64_t cached[WTRY_SPECS_MAX];
    size_t nc = dagver_cache_ids(versions, cached, WTRY_SPECS_MAX);
    if (ti_claim(db, direct, hostname, pid, job_id, ids, tries, n, cached, nc, &r) != 0)
        return NULL;
    return r;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void set_invalid(wtry_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_invalid(wtry_t *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(t->spec_error);
    t->spec_error = strdup(buf);
    t->kind = WTRY_INVALID;
}

/*
 * The operator of a spec: its "operator" (a class name, as the serialized
 * DAG writes it, or a short name), else the task instance row's.
 */
static bool parse_operator(const char *op, dag_operator_t *out)
{
    if (!op)
        return false;
    if (strcmp(op, "dummy") == 0) {
        *out = DAG_OP_EMPTY;
        return true;
    }
    return operator_parse(op, out);
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_int(const cJSON *o, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9)
        return dflt;
    return (int)v->valuedouble;
}

const char *wtry_env_text(const cJSON *v, char num[WTRY_ENV_NUM_LEN])
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(num, WTRY_ENV_NUM_LEN, "%.17g", v->valuedouble);
        return num;
    }
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "True" : "False"; /* as Python's str() */
    return NULL;
}

/* Returns -1 on out of memory; spec problems mark the try invalid. */
static int parse_env(wtry_t *t, const cJSON *env)
{
    if (!env || cJSON_IsNull(env))
        return 0;
    if (!cJSON_IsObject(env)) {
        set_invalid(t, "task spec: env must be a mapping");
        return 0;
    }
    t->has_env = true;
    size_t n = (size_t)cJSON_GetArraySize(env);
    if (n > TASKENV_MAX_VARS) {
        set_invalid(t, "task spec: env has too many variables");
        return 0;
    }
    if (n == 0)
        return 0;
    t->env = calloc(n, sizeof(*t->env));
    if (!t->env)
        return -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, env)
    {
        char num[WTRY_ENV_NUM_LEN];
        const char *val = wtry_env_text(v, num);
        if (!val) {
            set_invalid(t, "task spec: env value of %s is not a string", v->string);
            return 0;
        }
        if (!taskenv_name_valid(v->string)) {
            set_invalid(t, "task spec: invalid env variable name \"%s\"", v->string);
            return 0;
        }
        char *name = strdup(v->string), *value = strdup(val);
        if (!name || !value) {
            free(name);
            free(value);
            return -1;
        }
        t->env[t->n_env].name = name;
        t->env[t->n_env].value = value;
        t->n_env++;
    }
    return 0;
}

static int parse_spec_obj(wtry_t *t, const cJSON *spec, const char *row_operator)
{
    int rc = 0;

    if (!spec) {
        set_invalid(t, "task %s is not in the DAG version of this run", t->task_id);
        goto out;
    }
    if (!cJSON_IsObject(spec)) {
        set_invalid(t, "task spec of %s is not a JSON object", t->task_id);
        goto out;
    }
    const char *op = json_str(spec, "operator");
    if (!parse_operator(op ? op : row_operator, &t->op)) {
        set_invalid(t, "operator \"%s\" is not supported by this worker",
                    op ? op : (row_operator ? row_operator : "(none)"));
        goto out;
    }
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(spec, "args");
    const cJSON *expand = cJSON_GetObjectItemCaseSensitive(spec, "expand");
    const cJSON *downs = cJSON_GetObjectItemCaseSensitive(spec, "downstream_task_ids");
    const cJSON *vargs = cJSON_GetObjectItemCaseSensitive(spec, "variables_as_arguments");
    if ((args && !cJSON_IsNull(args) && !cJSON_IsObject(args)) ||
        (expand && !cJSON_IsNull(expand) && !cJSON_IsObject(expand))) {
        set_invalid(t, "task spec of %s: args and expand must be mappings", t->task_id);
        goto out;
    }
    if ((cJSON_IsObject(args) && !(t->args = cJSON_Duplicate(args, 1))) ||
        (cJSON_IsObject(expand) && !(t->expand = cJSON_Duplicate(expand, 1))) ||
        (cJSON_IsArray(downs) && !(t->downstream = cJSON_Duplicate(downs, 1))) ||
        (cJSON_IsArray(vargs) && !(t->var_args = cJSON_Duplicate(vargs, 1)))) {
        rc = -1;
        goto out;
    }
    const char *cmd = json_str(spec, "bash_command");
    bool mapped_cmd = t->expand && cJSON_GetObjectItemCaseSensitive(t->expand, "bash_command");
    switch (operator_runs(t->op)) {
    case OPERATOR_RUNS_SHELL:
        /* branch and short_circuit take a bash_command or a python callable */
        t->kind = (cmd && *cmd) || mapped_cmd || t->op == DAG_OP_BASH ? WTRY_BASH : WTRY_RUNNER;
        break;
    case OPERATOR_RUNS_RUNNER:
        t->kind = WTRY_RUNNER;
        break;
    case OPERATOR_RUNS_PLANNER:
        t->kind = WTRY_EMPTY;
        break;
    }
    const cJSON *down = cJSON_GetObjectItemCaseSensitive(spec, "downstream_task_ids");
    t->has_downstream = !cJSON_IsArray(down) || cJSON_GetArraySize(down) > 0;
    t->owner = dup_or_null(json_str(spec, "owner"));
    const char *as = json_str(spec, "run_as_user");
    if (as && *as && !(t->run_as_user = strdup(as)))
        rc = -1;
    t->retry_delay_sec = json_int(spec, "retry_delay_sec", 300);
    t->execution_timeout_sec = json_int(spec, "execution_timeout_sec", 0);
    t->retry_exponential_backoff =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "retry_exponential_backoff"));
    t->max_retry_delay_sec = json_int(spec, "max_retry_delay_sec", 0);
    const cJSON *skip = cJSON_GetObjectItemCaseSensitive(spec, "skip_on_exit_code");
    if (cJSON_IsArray(skip) || cJSON_IsNull(skip)) {
        const cJSON *it;
        t->n_skip_on_exit_code = 0;
        cJSON_ArrayForEach(it, skip)
        {
            if (t->n_skip_on_exit_code < sizeof(t->skip_on_exit_code) / sizeof(int) &&
                cJSON_IsNumber(it))
                t->skip_on_exit_code[t->n_skip_on_exit_code++] = it->valueint;
        }
    }
    const cJSON *xp = cJSON_GetObjectItemCaseSensitive(spec, "do_xcom_push");
    t->do_xcom_push = !cJSON_IsFalse(xp); /* BaseOperator's default: true */
    if (t->kind != WTRY_BASH)
        goto out;

    /* A mapped bash_command comes from expand (wrender_apply_map). */
    if ((!cmd || !*cmd) && !mapped_cmd) {
        set_invalid(t, "task %s has no bash_command", t->task_id);
        goto out;
    }
    if (cmd && *cmd && !(t->bash_command = strdup(cmd))) {
        rc = -1;
        goto out;
    }
    const char *cwd = json_str(spec, "cwd");
    if (cwd && *cwd)
        t->cwd = strdup(cwd);
    const cJSON *ae = cJSON_GetObjectItemCaseSensitive(spec, "append_env");
    t->append_env = cJSON_IsTrue(ae);
    if ((cwd && *cwd && !t->cwd) || parse_env(t, cJSON_GetObjectItemCaseSensitive(spec, "env")) < 0)
        rc = -1;
out:
    return rc;
}

static int parse_spec(wtry_t *t, const char *text, const char *row_operator)
{
    if (!text)
        return parse_spec_obj(t, NULL, row_operator);
    size_t len = strlen(text);
    if (len > WTRY_SPEC_MAX) {
        set_invalid(t, "task spec of %s is too large", t->task_id);
        return 0;
    }
    cJSON *spec = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    if (!cJSON_IsObject(spec)) {
        cJSON_Delete(spec);
        set_invalid(t, "task spec of %s is not a JSON object", t->task_id);
        return 0;
    }
    int rc = parse_spec_obj(t, spec, row_operator);
    cJSON_Delete(spec);
    return rc;
}

wtry_t *wtry_from_row(const PGresult *r, int row, const queue_delivery_t *d,
                      const dagver_cache_t *versions)
{
    wtry_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (d)
        t->delivery = *d;
    t->ti_id = db_get_i64(r, row, 0);
    t->try_number = db_get_int(r, row, 1);
    t->max_tries = db_get_int(r, row, 2);
    t->map_index = db_get_int(r, row, 3);
    t->dag_run_id = db_get_i64(r, row, 4);
    t->logical_date = db_get_str(r, row, 5) ? db_get_i64(r, row, 5) : TS_NONE;
    t->dag_id = dup_or_null(db_get_str(r, row, 6));
    t->run_id = dup_or_null(db_get_str(r, row, 7));
    t->task_id = dup_or_null(db_get_str(r, row, 8));
    t->retry_delay_sec = 300;
    t->skip_on_exit_code[0] = 99; /* BashOperator's default; the spec may override it */
    t->n_skip_on_exit_code = 1;
    t->data_interval_start = TS_NONE;
    t->data_interval_end = TS_NONE;
    t->first_poke_at = TS_NONE;
    t->start_date = TS_NONE;
    t->queued_at = TS_NONE;
    if (PQnfields(r) > WTRY_COL_QUEUED_AT && db_get_str(r, row, WTRY_COL_QUEUED_AT))
        t->queued_at = db_get_i64(r, row, WTRY_COL_QUEUED_AT);
    if (PQnfields(r) > WTRY_COL_START_DATE) {
        if (db_get_str(r, row, WTRY_COL_FIRST_POKE))
            t->first_poke_at = db_get_i64(r, row, WTRY_COL_FIRST_POKE);
        t->poke_count = db_get_int(r, row, WTRY_COL_POKE_COUNT);
        if (db_get_str(r, row, WTRY_COL_START_DATE))
            t->start_date = db_get_i64(r, row, WTRY_COL_START_DATE);
    }
    if (PQnfields(r) > WTRY_COL_INTERVAL_END) {
        if (db_get_str(r, row, WTRY_COL_INTERVAL_START))
            t->data_interval_start = db_get_i64(r, row, WTRY_COL_INTERVAL_START);
        if (db_get_str(r, row, WTRY_COL_INTERVAL_END))
            t->data_interval_end = db_get_i64(r, row, WTRY_COL_INTERVAL_END);
    }
    if (!t->dag_id || !t->run_id || !t->task_id)
        goto fail;
    const char *conf = PQnfields(r) > WTRY_COL_CONF ? db_get_str(r, row, WTRY_COL_CONF) : NULL;
    if (conf && strlen(conf) <= WTRY_CONF_MAX && !(t->conf_json = strdup(conf)))
        goto fail;
    const char *op = db_get_str(r, row, 9);
    const dagver_t *v = NULL;
    if (PQgetisnull(r, row, WTRY_COL_SPEC) && !PQgetisnull(r, row, WTRY_COL_VERSION))
        v = dagver_find(versions, db_get_i64(r, row, WTRY_COL_VERSION));
    if (v) {
        if (parse_spec_obj(t, dagver_task_spec(v, t->task_id), op) < 0)
            goto fail;
    } else if (parse_spec(t, db_get_str(r, row, WTRY_COL_SPEC), op) < 0) {
        goto fail;
    }
    return t;
fail:
    wtry_free(t);
    return NULL;
}

void wtry_free(wtry_t *t)
{
    if (!t)
        return;
    free(t->dag_id);
    free(t->run_id);
    free(t->task_id);
    free(t->spec_error);
    free(t->bash_command);
    free(t->cwd);
    free(t->run_as_user);
    free(t->owner);
    free(t->conf_json);
    cJSON_Delete(t->args);
    cJSON_Delete(t->expand);
    cJSON_Delete(t->downstream);
    cJSON_Delete(t->var_args);
    for (size_t i = 0; i < t->n_env; i++) {
        free((char *)t->env[i].name);
        free((char *)t->env[i].value);
    }
    free(t->env);
    free(t);
}

void wtry_env_ctx(const wtry_t *t, taskenv_ctx_t *ctx)
{
    ctx->dag_id = t->dag_id;
    ctx->task_id = t->task_id;
    ctx->run_id = t->run_id;
    ctx->owner = t->owner ? t->owner : "airflow";
    ctx->try_number = t->try_number;
    ctx->map_index = t->map_index;
    ctx->logical_date = t->logical_date;
}

bool wtry_skip_code(const wtry_t *t, int code)
{
    for (size_t i = 0; i < t->n_skip_on_exit_code; i++)
        if (t->skip_on_exit_code[i] == code)
            return true;
    return false;
}

long long wtry_retry_delay(const wtry_t *t)
{
    char ld[TS_ISO_LEN];
    const char *lds = "None";
    if (t->logical_date != TS_NONE) {
        /* As Python prints the logical date: microseconds only when not zero. */
        lds = t->logical_date % TS_US_PER_SEC ? ts_format_iso(t->logical_date, ld)
                                              : ts_format_iso_sec(t->logical_date, ld);
    }
    return planner_retry_delay_sec(t->retry_delay_sec, t->retry_exponential_backoff,
                                   t->max_retry_delay_sec, t->dag_id, t->task_id, lds,
                                   t->try_number);
}
