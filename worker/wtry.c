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

/* now() for the consumer's claim (its own statement), clock_timestamp() for
 * a direct claim in the middle of an outcome transaction. */
#define CLAIM_SQL(ts)                                                                              \
    "UPDATE task_instance ti"                                                                      \
    "   SET state = 'running', hostname = $1, pid = $2::integer, worker_id = $3::bigint,"         \
    "       start_date = " ts ", heartbeat_at = " ts ", updated_at = " ts                          \
    "  FROM dag_run dr JOIN dag_version v ON v.id = dr.dag_version_id,"                            \
    "       unnest($4::bigint[], $5::integer[]) AS m(id, try)"                                     \
    " WHERE ti.id = m.id AND ti.try_number = m.try AND ti.state = 'queued'"                        \
    "   AND dr.id = ti.dag_run_id "                                                                \
    "RETURNING ti.id, ti.try_number, ti.max_tries, ti.map_index, ti.dag_run_id,"                   \
    "   (extract(epoch FROM dr.logical_date) * 1000000)::bigint,"                                  \
    "   ti.dag_id, ti.run_id, ti.task_id, ti.operator, v.data -> 'tasks' -> ti.task_id"

PGresult *wtry_claim(db_t *db, bool direct, const char *hostname, int pid, int64_t job_id,
                     const int64_t *ids, const int *tries, size_t n)
{
    PGresult *r = NULL;
    char pid_s[16], job_s[24];
    char *ids_s = db_array_i64(ids, n), *tries_s = db_array_int(tries, n);
    if (!ids_s || !tries_s)
        goto out;
    snprintf(pid_s, sizeof(pid_s), "%d", pid);
    snprintf(job_s, sizeof(job_s), "%" PRId64, job_id);
    const char *params[] = {hostname, pid_s, job_s, ids_s, tries_s};
    if (direct)
        r = db_query(db, "worker_claim_direct", CLAIM_SQL("clock_timestamp()"), 5, params);
    else
        r = db_query(db, "worker_claim", CLAIM_SQL("now()"), 5, params);
out:
    free(ids_s);
    free(tries_s);
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

/* Operator names as the serialized DAG, dag-factory or Airflow class paths write them. */
static bool op_is(const char *op, const char *cls, const char *shortname)
{
    if (strcmp(op, cls) == 0 || strcmp(op, shortname) == 0)
        return true;
    const char *dot = strrchr(op, '.');
    return dot && strcmp(dot + 1, cls) == 0;
}

static wtry_kind_t kind_of(const char *op)
{
    if (!op)
        return WTRY_INVALID;
    if (op_is(op, "BashOperator", "bash"))
        return WTRY_BASH;
    if (op_is(op, "EmptyOperator", "empty") || op_is(op, "DummyOperator", "dummy"))
        return WTRY_EMPTY;
    return WTRY_INVALID;
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
        char num[64];
        const char *val;
        if (cJSON_IsString(v)) {
            val = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            snprintf(num, sizeof(num), "%.17g", v->valuedouble);
            val = num;
        } else if (cJSON_IsBool(v)) {
            val = cJSON_IsTrue(v) ? "True" : "False"; /* as Python's str() */
        } else {
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

static int parse_spec(wtry_t *t, const char *text, const char *row_operator)
{
    int rc = 0;
    cJSON *spec = NULL;

    if (!text) {
        set_invalid(t, "task %s is not in the DAG version of this run", t->task_id);
        goto out;
    }
    size_t len = strlen(text);
    if (len > WTRY_SPEC_MAX) {
        set_invalid(t, "task spec of %s is too large", t->task_id);
        goto out;
    }
    spec = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    if (!cJSON_IsObject(spec)) {
        set_invalid(t, "task spec of %s is not a JSON object", t->task_id);
        goto out;
    }
    const char *op = json_str(spec, "operator");
    t->kind = kind_of(op ? op : row_operator);
    if (t->kind == WTRY_INVALID) {
        set_invalid(t, "operator \"%s\" is not supported by this worker",
                    op ? op : (row_operator ? row_operator : "(none)"));
        goto out;
    }
    const cJSON *down = cJSON_GetObjectItemCaseSensitive(spec, "downstream_task_ids");
    t->has_downstream = !cJSON_IsArray(down) || cJSON_GetArraySize(down) > 0;
    t->owner = dup_or_null(json_str(spec, "owner"));
    t->retry_delay_sec = json_int(spec, "retry_delay_sec", 300);
    t->execution_timeout_sec = json_int(spec, "execution_timeout_sec", 0);
    if (t->kind != WTRY_BASH)
        goto out;

    const char *cmd = json_str(spec, "bash_command");
    if (!cmd || !*cmd) {
        set_invalid(t, "task %s has no bash_command", t->task_id);
        goto out;
    }
    t->bash_command = strdup(cmd);
    const char *cwd = json_str(spec, "cwd");
    if (cwd && *cwd)
        t->cwd = strdup(cwd);
    const cJSON *ae = cJSON_GetObjectItemCaseSensitive(spec, "append_env");
    t->append_env = cJSON_IsTrue(ae);
    if (!t->bash_command || (cwd && *cwd && !t->cwd) ||
        parse_env(t, cJSON_GetObjectItemCaseSensitive(spec, "env")) < 0)
        rc = -1;
out:
    cJSON_Delete(spec);
    return rc;
}

wtry_t *wtry_from_row(const PGresult *r, int row, const queue_delivery_t *d)
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
    if (!t->dag_id || !t->run_id || !t->task_id)
        goto fail;
    if (parse_spec(t, db_get_str(r, row, 10), db_get_str(r, row, 9)) < 0)
        goto fail;
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
    free(t->owner);
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
