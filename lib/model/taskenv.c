/*
 * taskenv.c - builds a task's environment (see taskenv.h).
 *
 * The result is assembled in a small table of "NAME=value" strings where a
 * later definition of a name replaces the earlier one in place, so the
 * order of the inherited environment is kept. Environments hold at most a
 * few hundred variables, so lookups are linear.
 */
#include "model/taskenv.h"

#include "core/envname.h"
#include "core/secrets.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct envtab {
    char **items; /* NULL-terminated once built */
    size_t n, cap;
} envtab_t;

bool taskenv_name_valid(const char *name)
{
    if (!name || !*name)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '=' || *p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

char *taskenv_format_date(ts_us_t t, char *buf)
{
    if (t == TS_NONE) {
        buf[0] = '\0';
        return buf;
    }
    int64_t us = t % TS_US_PER_SEC;
    if (us < 0)
        us += TS_US_PER_SEC;
    return us == 0 ? ts_format_iso_sec(t, buf) : ts_format_iso(t, buf);
}

static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static long envtab_find(const envtab_t *t, const char *name, size_t nlen)
{
    for (size_t i = 0; i < t->n; i++) {
        if (name_len(t->items[i]) == nlen && memcmp(t->items[i], name, nlen) == 0)
            return (long)i;
    }
    return -1;
}

/* Sets name (nlen bytes) to value; 0, or -1 when full or out of memory. */
static int envtab_set(envtab_t *t, const char *name, size_t nlen, const char *value)
{
    if (!value)
        value = "";
    size_t vlen = strlen(value);
    char *entry = malloc(nlen + 1 + vlen + 1);
    if (!entry)
        return -1;
    memcpy(entry, name, nlen);
    entry[nlen] = '=';
    memcpy(entry + nlen + 1, value, vlen + 1);

    long at = envtab_find(t, name, nlen);
    if (at >= 0) {
        free(t->items[at]);
        t->items[at] = entry;
        return 0;
    }
    if (t->n >= TASKENV_MAX_VARS) {
        free(entry);
        return -1;
    }
    if (t->n + 1 >= t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        char **ni = realloc(t->items, ncap * sizeof(*ni));
        if (!ni) {
            free(entry);
            return -1;
        }
        t->items = ni;
        t->cap = ncap;
    }
    t->items[t->n++] = entry;
    t->items[t->n] = NULL;
    return 0;
}

static int envtab_set_entry(envtab_t *t, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry)
        return 0; /* not a variable; skipped */
    return envtab_set(t, entry, (size_t)(eq - entry), eq + 1);
}

static int envtab_setz(envtab_t *t, const char *name, const char *value)
{
    return envtab_set(t, name, strlen(name), value);
}

const char *taskenv_get(char *const *envp, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++) {
        if (name_len(envp[i]) == nlen && memcmp(envp[i], name, nlen) == 0 && envp[i][nlen] == '=')
            return envp[i] + nlen + 1;
    }
    return NULL;
}

void taskenv_free(char **envp)
{
    if (!envp)
        return;
    for (size_t i = 0; envp[i]; i++)
        free(envp[i]);
    free(envp);
}

static int set_context(envtab_t *t, const taskenv_ctx_t *ctx)
{
    char try_s[16], map_s[16], date[TASKENV_DATE_LEN], udate[TS_ISO_LEN];
    snprintf(try_s, sizeof(try_s), "%d", ctx->try_number);
    snprintf(map_s, sizeof(map_s), "%d", ctx->map_index);
    taskenv_format_date(ctx->logical_date, date);
    if (ctx->logical_date == TS_NONE)
        udate[0] = '\0';
    else
        ts_format_iso(ctx->logical_date, udate);

    const struct {
        const char *name, *value;
    } vars[] = {
        {"UPDRAFT_DAG_ID", ctx->dag_id},         {"UPDRAFT_TASK_ID", ctx->task_id},
        {"UPDRAFT_RUN_ID", ctx->run_id},         {"UPDRAFT_TRY_NUMBER", try_s},
        {"UPDRAFT_LOGICAL_DATE", udate},         {"UPDRAFT_MAP_INDEX", map_s},
        {"AIRFLOW_CTX_DAG_ID", ctx->dag_id},     {"AIRFLOW_CTX_TASK_ID", ctx->task_id},
        {"AIRFLOW_CTX_DAG_RUN_ID", ctx->run_id}, {"AIRFLOW_CTX_TRY_NUMBER", try_s},
        {"AIRFLOW_CTX_LOGICAL_DATE", date},      {"AIRFLOW_CTX_EXECUTION_DATE", date},
        {"AIRFLOW_CTX_DAG_OWNER", ctx->owner},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (envtab_setz(t, vars[i].name, vars[i].value ? vars[i].value : "") < 0)
            return -1;
    }
    return 0;
}

char **taskenv_build(char *const *base, const taskenv_var_t *vars, size_t nvars, bool has_env,
                     bool append_env, const taskenv_ctx_t *ctx, char *err, size_t errlen)
{
    envtab_t t = {0};
    bool inherit = !has_env || append_env;

    if (nvars > TASKENV_MAX_VARS) {
        snprintf(err, errlen, "task env has %zu variables, more than %d", nvars, TASKENV_MAX_VARS);
        goto fail;
    }
    for (size_t i = 0; i < nvars; i++) {
        if (!taskenv_name_valid(vars[i].name)) {
            snprintf(err, errlen, "invalid environment variable name \"%s\"",
                     vars[i].name ? vars[i].name : "");
            goto fail;
        }
    }

    /* Always allocate the table so that an empty environment is {NULL}. */
    t.items = calloc(64, sizeof(*t.items));
    if (!t.items)
        goto oom;
    t.cap = 64;

    if (inherit) {
        for (size_t i = 0; base && base[i]; i++) {
            /* the worker's settings and secrets (the database URL, the
             * fernet key, connections and variables in the environment,
             * libpq's PGPASSWORD, ...) stay with the worker: a task that
             * prints its environment must not print them */
            if (envname_reserved(base[i], name_len(base[i])))
                continue;
            if (envtab_set_entry(&t, base[i]) < 0)
                goto oom;
        }
    } else {
        const char *path = base ? taskenv_get(base, "PATH") : NULL;
        if (path && envtab_setz(&t, "PATH", path) < 0)
            goto oom;
    }
    for (size_t i = 0; i < nvars; i++) {
        if (envtab_setz(&t, vars[i].name, vars[i].value) < 0)
            goto oom;
    }
    if (ctx && set_context(&t, ctx) < 0)
        goto oom;
    return t.items;

oom:
    snprintf(err, errlen, "cannot build task environment: out of memory or more than %d variables",
             TASKENV_MAX_VARS);
fail:
    taskenv_free(t.items);
    return NULL;
}

#define TASKENV_CONF_MAX (1 << 20) /* a conf larger than this is refused */

static bool shell_name(const char *s)
{
    if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

int taskenv_add_conf(char ***envp, const char *conf_json, char *err, size_t errlen)
{
    envtab_t t = {0};
    cJSON *conf = NULL;
    const cJSON *it;
    size_t len;
    int rc = -1;

    if (!conf_json)
        return 0;
    len = strnlen(conf_json, TASKENV_CONF_MAX + 1);
    if (len > TASKENV_CONF_MAX) {
        snprintf(err, errlen, "dag run conf is larger than %d bytes", TASKENV_CONF_MAX);
        return -1;
    }
    conf = cJSON_ParseWithLengthOpts(conf_json, len + 1, NULL, 1);
    if (!cJSON_IsObject(conf)) {
        snprintf(err, errlen, "dag run conf is not a JSON object");
        goto out;
    }
    /* Adopt the array: taskenv_build allocated it with room for its NULL. */
    t.items = *envp;
    while (t.items && t.items[t.n])
        t.n++;
    t.cap = t.n + 1;
    if (!t.items) {
        if (!(t.items = calloc(16, sizeof(*t.items))))
            goto oom;
        t.cap = 16;
    }
    if (envtab_setz(&t, "UPDRAFT_DAG_RUN_CONF", conf_json) < 0)
        goto oom;
    cJSON_ArrayForEach(it, conf)
    {
        char name[300];
        char *num = NULL;
        const char *value;
        int sr;
        if (!shell_name(it->string) || strlen(it->string) > 250)
            continue;
        if (cJSON_IsString(it))
            value = it->valuestring;
        else if (cJSON_IsBool(it))
            value = cJSON_IsTrue(it) ? "true" : "false";
        else if (cJSON_IsNumber(it) && (num = cJSON_PrintUnformatted(it)) != NULL)
            value = num;
        else if (cJSON_IsNumber(it))
            goto oom;
        else
            continue;
        snprintf(name, sizeof(name), "UPDRAFT_PARAM_%s", it->string);
        sr = envtab_setz(&t, name, value);
        cJSON_free(num);
        if (sr < 0)
            goto oom;
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen,
             "cannot add the dag run conf to the task environment: out of memory "
             "or more than %d variables",
             TASKENV_MAX_VARS);
out:
    if (t.items)
        *envp = t.items;
    cJSON_Delete(conf);
    return rc;
}

int taskenv_set(char ***envp, const char *name, const char *value, char *err, size_t errlen)
{
    envtab_t t = {0};
    if (!taskenv_name_valid(name)) {
        snprintf(err, errlen, "invalid environment variable name");
        return -1;
    }
    t.items = *envp;
    while (t.items && t.items[t.n])
        t.n++;
    t.cap = t.n + 1;
    if (!t.items) {
        if (!(t.items = calloc(16, sizeof(*t.items)))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        t.cap = 16;
    }
    int rc = envtab_setz(&t, name, value);
    *envp = t.items;
    if (rc < 0)
        snprintf(err, errlen, "cannot set %s: out of memory or more than %d variables", name,
                 TASKENV_MAX_VARS);
    return rc < 0 ? -1 : 0;
}
