/*
 * dag_load_task.c - the loader's tasks: the task key table, each task key
 * (trigger rules, env, skip codes, retries, ...), default_args, and one
 * task mapping into a dag_task_t.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dag_load_int.h"
#include "model/planner.h"

/* ------------------------------------------------------------------ */
/* tasks                                                               */

/* clang-format off */
const key_def_t dl_task_keys[] = {
    {"task_id", K_TASK_ID}, {"operator", K_OPERATOR}, {"decorator", K_DECORATOR},
    {"bash_command", K_BASH_COMMAND}, {"env", K_ENV}, {"append_env", K_APPEND_ENV},
    {"cwd", K_CWD}, {"dependencies", K_DEPENDENCIES}, {"owner", K_OWNER},
    {"run_as_user", K_RUN_AS_USER},
    {"retries", K_RETRIES}, {"retry_delay_sec", K_RETRY_DELAY_SEC},
    {"retry_delay", K_RETRY_DELAY}, {"queue", K_QUEUE}, {"pool", K_POOL},
    {"pool_slots", K_POOL_SLOTS}, {"priority_weight", K_PRIORITY_WEIGHT},
    {"trigger_rule", K_TRIGGER_RULE}, {"execution_timeout_sec", K_EXEC_TIMEOUT_SEC},
    {"execution_timeout_secs", K_EXEC_TIMEOUT_SEC}, {"execution_timeout", K_EXEC_TIMEOUT},
    {"task_group_name", K_TASK_GROUP_NAME}, {"depends_on_past", K_DEPENDS_ON_PAST},
    {"wait_for_downstream", K_WAIT_FOR_DOWNSTREAM},
    {"retry_exponential_backoff", K_RETRY_EXP_BACKOFF}, {"max_retry_delay", K_MAX_RETRY_DELAY},
    {"max_retry_delay_sec", K_MAX_RETRY_DELAY_SEC}, {"skip_on_exit_code", K_SKIP_ON_EXIT_CODE},
    {"weight_rule", K_WEIGHT_RULE}, {"max_active_tis_per_dag", K_MAX_TIS_PER_DAG},
    {"max_active_tis_per_dagrun", K_MAX_TIS_PER_DAGRUN}, {"do_xcom_push", K_DO_XCOM_PUSH},
    {"expand", K_EXPAND}, {"partial", K_PARTIAL},
    {"variables_as_arguments", K_VAR_ARGS},
    /* accepted by Airflow on every task; safe to ignore for now */
    {"doc_md", K_DOC_MD},
    {"doc", K_TASK_IGNORED}, {"doc_json", K_TASK_IGNORED},
    {"doc_yaml", K_TASK_IGNORED}, {"doc_rst", K_TASK_IGNORED}, {"email", K_TASK_IGNORED},
    {"email_on_failure", K_TASK_IGNORED}, {"email_on_retry", K_TASK_IGNORED},
    {"task_display_name", K_TASK_IGNORED},
    {"ui_color", K_TASK_IGNORED}, {"ui_fgcolor", K_TASK_IGNORED}, {"sla", K_SLA},
    {"sla_secs", K_SLA}, {"output_encoding", K_TASK_IGNORED},
    {"inlets", K_TASK_IGNORED}, {"outlets", K_TASK_IGNORED},
    {"executor_config", K_TASK_IGNORED}, {"on_execute_callback", K_TASK_IGNORED},
    {"on_success_callback", K_ON_SUCCESS}, {"on_failure_callback", K_ON_FAILURE},
    {"on_retry_callback", K_ON_RETRY}, {"on_skipped_callback", K_TASK_IGNORED},
    {"on_success_alert", K_ON_SUCCESS}, {"on_failure_alert", K_ON_FAILURE},
    {"on_retry_alert", K_ON_RETRY},
    {"on_failure_callback_name", K_TASK_IGNORED}, {"on_failure_callback_file", K_TASK_IGNORED},
    {"on_success_callback_name", K_TASK_IGNORED}, {"on_success_callback_file", K_TASK_IGNORED},
    {"on_retry_callback_name", K_TASK_IGNORED}, {"on_retry_callback_file", K_TASK_IGNORED},
    {"params", K_TASK_IGNORED},
    {NULL, K_UNKNOWN}};
/* clang-format on */
/* Airflow 2's trigger rules, plus all_done_min_one_success (Airflow 3.1). */
static const char *const trigger_rules[] = {"all_success",
                                            "all_failed",
                                            "all_done",
                                            "all_done_min_one_success",
                                            "all_skipped",
                                            "one_success",
                                            "one_failed",
                                            "one_done",
                                            "none_failed",
                                            "none_failed_min_one_success",
                                            "none_skipped",
                                            "always",
                                            NULL};

/*
 * A trigger_rule value. Airflow's deprecated names are renamed with a
 * warning, as BaseOperator does (dummy -> always, none_failed_or_skipped
 * -> none_failed_min_one_success). A rule is accepted only once the
 * planner (model/planner.c) evaluates it: a rule it does not know would
 * silently behave as all_success.
 */
static bool parse_trigger_rule(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t,
                               const char *tid)
{
    const char *s, *rule = NULL;

    if (!dl_get_str(c, v, what, &s))
        return false;
    if (strcmp(s, "dummy") == 0) {
        WARN(c, v, "trigger_rule 'dummy' is deprecated, 'always' is used");
        rule = "always";
    } else if (strcmp(s, "none_failed_or_skipped") == 0) {
        WARN(c, v,
             "trigger_rule 'none_failed_or_skipped' is deprecated, "
             "'none_failed_min_one_success' is used");
        rule = "none_failed_min_one_success";
    }
    for (size_t i = 0; !rule && trigger_rules[i]; i++)
        if (strcmp(trigger_rules[i], s) == 0)
            rule = trigger_rules[i];
    if (!rule) {
        if (strcmp(s, "all_done_setup_success") == 0)
            ERR(c, v,
                "trigger_rule 'all_done_setup_success' in task '%s' is not supported "
                "(setup and teardown tasks are not supported yet)",
                tid);
        else
            ERR(c, v,
                "invalid trigger_rule '%.100s' in task '%s' (expected all_success, "
                "all_failed, all_done, all_done_min_one_success, all_skipped, one_success, "
                "one_failed, one_done, none_failed, none_failed_min_one_success, "
                "none_skipped or always)",
                s, tid);
        return false;
    }
    if (!planner_trigger_rule_known(rule)) {
        ERR(c, v, "trigger_rule '%s' in task '%s' is not supported yet", rule, tid);
        return false;
    }
    return dl_set_str(c, &t->trigger_rule, rule);
}

static bool parse_env(ctx_t *c, const ynode_t *v, dag_task_t *t, const char *tid)
{
    dag_env_t *env = NULL;
    size_t n = 0;

    if (dl_is_null(v))
        goto done;
    if (v->kind != Y_MAP) {
        ERR(c, v, "env of task '%s' must be a mapping of names to strings", tid);
        return false;
    }
    dl_warn_dups(c, v);
    if (!(env = calloc(MAP_PAIRS(v) ? MAP_PAIRS(v) : 1, sizeof *env))) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < MAP_PAIRS(v); i++) {
        const ynode_t *k = MAP_KEY(v, i), *val = MAP_VAL(v, i);
        const char *name, *value;
        if (!dl_get_str(c, k, "env name", &name) || !dl_get_str(c, val, "env value", &value))
            goto fail;
        if (!*name || strchr(name, '=')) {
            ERR(c, k, "invalid env name '%.100s' in task '%s'", name, tid);
            goto fail;
        }
        if (!(env[n].name = strdup(name)) || !(env[n].value = strdup(value))) {
            n++;
            c->oom = true;
            goto fail;
        }
        n++;
    }
done:
    for (size_t i = 0; i < t->n_env; i++) {
        free(t->env[i].name);
        free(t->env[i].value);
    }
    free(t->env);
    t->env = env;
    t->n_env = n;
    return true;
fail:
    for (size_t i = 0; i < n; i++) {
        free(env[i].name);
        free(env[i].value);
    }
    free(env);
    return false;
}

/*
 * skip_on_exit_code (BashOperator): an exit code, a list of them, or null
 * (no exit code skips). Codes are 0-255 as a shell sees them.
 */
static bool parse_skip_codes(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t)
{
    int codes[DAG_SKIP_CODES_MAX];
    size_t n = 0;
    if (dl_is_null(v)) {
        t->n_skip_on_exit_code = 0;
        return true;
    }
    if (v->kind == Y_SEQ) {
        if (v->n > DAG_SKIP_CODES_MAX) {
            ERR(c, v, "%s lists more than %d exit codes", what, DAG_SKIP_CODES_MAX);
            return false;
        }
        for (size_t i = 0; i < v->n; i++) {
            int x;
            if (!dl_get_int(c, v->kids[i], what, 0, &x))
                return false;
            if (x > 255) {
                ERR(c, v->kids[i], "%s: exit code %d is not between 0 and 255", what, x);
                return false;
            }
            codes[n++] = x;
        }
    } else {
        int x;
        if (!dl_get_int(c, v, what, 0, &x))
            return false;
        if (x > 255) {
            ERR(c, v, "%s: exit code %d is not between 0 and 255", what, x);
            return false;
        }
        codes[n++] = x;
    }
    memcpy(t->skip_on_exit_code, codes, n * sizeof codes[0]);
    t->n_skip_on_exit_code = n;
    return true;
}

/* operator: one of operator_parse's names; *has_op records that the task set one. */
static bool task_operator(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t,
                          const char *tid, bool *has_op)
{
    const char *s;

    if (!dl_get_str(c, v, what, &s))
        return false;
    if (!operator_parse(s, &t->op)) {
        ERR(c, v,
            "unknown operator '%.200s' in task '%s' (supported: bash, empty, branch, "
            "short_circuit, latest_only, python, http, sql, trigger_dag_run, file_sensor, "
            "http_sensor, sql_sensor, external_task_sensor, time_delta_sensor, "
            "date_time_sensor, or their Airflow class names)",
            s, tid);
        return false;
    }
    *has_op = true;
    return true;
}

/* queue: 1-127 of [A-Za-z0-9_.:-]. */
static bool task_queue(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t, const char *tid)
{
    const char *s;

    if (!dl_get_str(c, v, what, &s))
        return false;
    if (!*s || strlen(s) > 127 ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") !=
            strlen(s)) {
        ERR(c, v, "invalid queue '%.200s' in task '%s': use 1-127 of [A-Za-z0-9_.:-]", s, tid);
        return false;
    }
    return dl_set_str(c, &t->queue, s);
}

/* pool: a name of 1-256 bytes. */
static bool task_pool(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t, const char *tid)
{
    const char *s;

    if (!dl_get_str(c, v, what, &s))
        return false;
    if (!*s || strlen(s) > 256) {
        ERR(c, v, "invalid pool name in task '%s'", tid);
        return false;
    }
    return dl_set_str(c, &t->pool, s);
}

/* priority_weight: any int, negative included. */
static bool task_priority_weight(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t)
{
    long long x;

    if (!dl_parse_int(v, &x) || x < INT_MIN || x > INT_MAX) {
        ERR(c, v, "%s must be an integer, not '%s'", what,
            dl_is_scalar(v) ? v->str : dl_kind_name(v));
        return false;
    }
    t->priority_weight = (int)x;
    return true;
}

/* weight_rule: downstream, upstream or absolute. */
static bool task_weight_rule(ctx_t *c, const ynode_t *v, const char *what, dag_task_t *t,
                             const char *tid)
{
    const char *s;

    if (!dl_get_str(c, v, what, &s))
        return false;
    if (dag_weight_rule_parse(s, &t->weight_rule) != 0) {
        ERR(c, v,
            "unknown weight_rule '%.64s' in task '%s': use downstream, upstream or"
            " absolute",
            s, tid);
        return false;
    }
    return true;
}

/*
 * Applies one task key (from default_args when from_defaults) to t.
 * Returns false after reporting an error.
 */
bool dl_task_apply_key(ctx_t *c, key_id_t id, const ynode_t *k, const ynode_t *v, dag_task_t *t,
                       const char *tid, bool from_defaults, bool *has_op)
{
    const char *s;
    bool b;
    char what[300];

    snprintf(what, sizeof what, "%s of %s '%s'", dl_key_text(k),
             !from_defaults      ? "task"
             : c->defaults_scope ? c->defaults_scope
                                 : "default_args in dag",
             tid);
    switch (id) {
    case K_OPERATOR:
        return task_operator(c, v, what, t, tid, has_op);
    case K_DECORATOR:
        ERR(c, k, "task '%s': decorator (python) tasks are not supported", tid);
        return false;
    case K_BASH_COMMAND:
        return dl_get_str(c, v, what, &s) && dl_set_str(c, &t->bash_command, s);
    case K_ENV:
        return parse_env(c, v, t, tid);
    case K_APPEND_ENV:
        if (!dl_get_bool(c, v, what, &b))
            return false;
        t->append_env = b;
        return true;
    case K_CWD:
        if (dl_is_null(v))
            return dl_set_str(c, &t->cwd, NULL);
        return dl_get_str(c, v, what, &s) && dl_set_str(c, &t->cwd, s);
    case K_OWNER:
        return dl_get_str(c, v, what, &s) && dl_set_str(c, &t->owner, s);
    case K_RUN_AS_USER:
        if (dl_is_null(v))
            return dl_set_str(c, &t->run_as_user, NULL);
        if (!dl_get_str(c, v, what, &s))
            return false;
        if (!dag_user_name_valid(s)) {
            ERR(c, v,
                "run_as_user of task '%s' must be a user name (1-%d of [A-Za-z0-9._-], not "
                "starting with '-'), not '%.100s'",
                tid, DAG_USER_NAME_MAX, s);
            return false;
        }
        return dl_set_str(c, &t->run_as_user, s);
    case K_RETRIES:
        return dl_get_int(c, v, what, 0, &t->retries);
    case K_RETRY_DELAY_SEC:
        return dl_get_int(c, v, what, 0, &t->retry_delay_sec);
    case K_RETRY_DELAY:
        return dl_get_seconds(c, v, what, &t->retry_delay_sec);
    case K_QUEUE:
        return task_queue(c, v, what, t, tid);
    case K_POOL:
        return task_pool(c, v, what, t, tid);
    case K_POOL_SLOTS:
        return dl_get_int(c, v, what, 1, &t->pool_slots);
    case K_PRIORITY_WEIGHT:
        return task_priority_weight(c, v, what, t);
    case K_WEIGHT_RULE:
        return task_weight_rule(c, v, what, t, tid);
    case K_MAX_TIS_PER_DAG:
        if (dl_is_null(v)) {
            t->max_active_tis_per_dag = 0;
            return true;
        }
        return dl_get_int(c, v, what, 1, &t->max_active_tis_per_dag);
    case K_MAX_TIS_PER_DAGRUN:
        if (dl_is_null(v)) {
            t->max_active_tis_per_dagrun = 0;
            return true;
        }
        return dl_get_int(c, v, what, 1, &t->max_active_tis_per_dagrun);
    case K_TRIGGER_RULE:
        return parse_trigger_rule(c, v, what, t, tid);
    case K_EXEC_TIMEOUT_SEC:
        return dl_get_int(c, v, what, 0, &t->execution_timeout_sec);
    case K_EXEC_TIMEOUT:
        if (dl_is_null(v)) {
            t->execution_timeout_sec = 0;
            return true;
        }
        return dl_get_seconds(c, v, what, &t->execution_timeout_sec);
    case K_RETRY_EXP_BACKOFF:
        if (!dl_get_bool(c, v, what, &b))
            return false;
        t->retry_exponential_backoff = b;
        return true;
    case K_DO_XCOM_PUSH:
        if (!dl_get_bool(c, v, what, &b))
            return false;
        t->no_xcom_push = !b;
        return true;
    case K_MAX_RETRY_DELAY:
        if (dl_is_null(v)) {
            t->max_retry_delay_sec = 0;
            return true;
        }
        return dl_get_seconds(c, v, what, &t->max_retry_delay_sec);
    case K_MAX_RETRY_DELAY_SEC:
        return dl_get_int(c, v, what, 0, &t->max_retry_delay_sec);
    case K_SKIP_ON_EXIT_CODE:
        return parse_skip_codes(c, v, what, t);
    case K_TASK_GROUP_NAME:
        return true; /* read with the task groups (task_group_of) */
    case K_ON_FAILURE:
        return dl_parse_alerts(c, k, v, "failure", &t->alerts, what);
    case K_ON_RETRY:
        return dl_parse_alerts(c, k, v, "retry", &t->alerts, what);
    case K_ON_SUCCESS:
        return dl_parse_alerts(c, k, v, "success", &t->alerts, what);
    case K_SLA:
        if (dl_is_null(v)) {
            t->sla_sec = 0;
            return true;
        }
        return dl_get_seconds(c, v, what, &t->sla_sec);
    case K_DEPENDS_ON_PAST:
        if (!dl_get_bool(c, v, what, &b))
            return false;
        t->depends_on_past = b;
        return true;
    case K_WAIT_FOR_DOWNSTREAM:
        if (!dl_get_bool(c, v, what, &b))
            return false;
        t->wait_for_downstream = b;
        return true;
    case K_DOC_MD:
        return dl_get_doc(c, v, what, &t->doc_md);
    case K_TASK_IGNORED:
        WARN(c, k, "ignored key '%s' in task '%s' (not supported yet)", dl_key_text(k), tid);
        return true;
    default:
        return true;
    }
}

/* default_args may carry any operator's arguments; a task keeps those its operator takes. */
bool dl_default_arg(ctx_t *c, const ynode_t *k, const ynode_t *v, dag_task_t *tpl,
                    const char *scope)
{
    dag_operator_t op;
    const operator_arg_t *a = dl_is_scalar(k) ? dl_any_operator_arg(k->str, &op) : NULL;
    char what[300];
    cJSON *val;
    if (!a) {
        WARN(c, k, "unknown key '%.100s' in %s (ignored)", dl_key_text(k), scope);
        return true;
    }
    snprintf(what, sizeof what, "%s in %s", a->name, scope);
    return dl_read_arg(c, a, v, what, &val) && dl_args_set(c, &tpl->args, a->name, val);
}

/* default_args: task defaults plus the DAG's start/end date and owner. */
bool dl_parse_default_args(ctx_t *c, const ynode_t *da, const char *dag_id, dag_task_t *tpl,
                           ts_us_t *start, ts_us_t *end, date_zone_t *dz)
{
    bool ok = true, dummy = false;

    if (dl_is_null(da))
        return true;
    if (da->kind != Y_MAP) {
        ERR(c, da, "default_args of dag '%s' must be a mapping, not %s", dag_id, dl_kind_name(da));
        return false;
    }
    dl_warn_dups(c, da);
    for (size_t i = 0; i < MAP_PAIRS(da); i++) {
        const ynode_t *k = MAP_KEY(da, i), *v = MAP_VAL(da, i);
        key_id_t id = dl_key_lookup(dl_task_keys, k);
        if (dl_key_is(k, "start_date")) {
            ok = dl_get_date(c, v, "start_date", start) && ok;
            dz->start = v;
        } else if (dl_key_is(k, "end_date")) {
            ok = dl_get_date(c, v, "end_date", end) && ok;
            dz->end = v;
        } else if (dl_key_is(k, "timezone")) {
            if (dl_get_str(c, v, "timezone", &dz->tz_name))
                dz->tz_node = v;
            else
                ok = false;
        } else if (id == K_TASK_ID || id == K_OPERATOR || id == K_DECORATOR ||
                   id == K_DEPENDENCIES || id == K_TASK_GROUP_NAME) {
            WARN(c, k, "ignored key '%s' in default_args (it only applies to a task)",
                 dl_key_text(k));
        } else if (id == K_UNKNOWN) {
            ok = dl_default_arg(c, k, v, tpl, "default_args") && ok;
        } else if (id == K_TASK_IGNORED) {
            WARN(c, k, "ignored key '%s' in default_args (not supported yet)", dl_key_text(k));
        } else {
            ok = dl_task_apply_key(c, id, k, v, tpl, dag_id, true, &dummy) && ok;
        }
    }
    return ok;
}

/* Roughly what a JSON value takes: its strings and a little per item. */
static size_t json_bytes(const cJSON *j)
{
    size_t n = 8;
    for (; j; j = j->next) {
        n +=
            8 + (j->string ? strlen(j->string) : 0) + (j->valuestring ? strlen(j->valuestring) : 0);
        if (j->child)
            n += json_bytes(j->child);
    }
    return n;
}

static size_t str_bytes(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* The bytes a copy of task t holds, for LOAD_BYTES_MAX. */
static size_t task_bytes(const dag_task_t *t)
{
    size_t n = sizeof *t + str_bytes(t->bash_command) + str_bytes(t->cwd) + str_bytes(t->owner) +
               str_bytes(t->queue) + str_bytes(t->pool) + str_bytes(t->trigger_rule) +
               str_bytes(t->doc_md) + (t->args ? json_bytes(t->args) : 0) +
               (t->alerts ? json_bytes(t->alerts) : 0) +
               (t->var_args ? json_bytes(t->var_args) : 0);
    for (size_t i = 0; i < t->n_env; i++)
        n += str_bytes(t->env[i].name) + str_bytes(t->env[i].value);
    return n;
}

bool dl_task_copy(ctx_t *c, const dag_task_t *src, dag_task_t *dst, const ynode_t *at)
{
    *dst = (dag_task_t){0};
    if (!dl_spend_bytes(c, at, task_bytes(src)))
        return false;
    *dst = (dag_task_t){.op = src->op,
                        .append_env = src->append_env,
                        .retries = src->retries,
                        .retry_delay_sec = src->retry_delay_sec,
                        .pool_slots = src->pool_slots,
                        .priority_weight = src->priority_weight,
                        .weight_rule = src->weight_rule,
                        .max_active_tis_per_dag = src->max_active_tis_per_dag,
                        .max_active_tis_per_dagrun = src->max_active_tis_per_dagrun,
                        .execution_timeout_sec = src->execution_timeout_sec,
                        .retry_exponential_backoff = src->retry_exponential_backoff,
                        .no_xcom_push = src->no_xcom_push,
                        .max_retry_delay_sec = src->max_retry_delay_sec,
                        .depends_on_past = src->depends_on_past,
                        .wait_for_downstream = src->wait_for_downstream,
                        .n_skip_on_exit_code = src->n_skip_on_exit_code};
    dst->sla_sec = src->sla_sec;
    if (src->var_args && !(dst->var_args = cJSON_Duplicate(src->var_args, 1))) {
        c->oom = true;
        return false;
    }
    if (src->alerts && !(dst->alerts = cJSON_Duplicate(src->alerts, 1))) {
        c->oom = true;
        return false;
    }
    if (src->args && !(dst->args = cJSON_Duplicate(src->args, 1))) {
        c->oom = true;
        return false;
    }
    memcpy(dst->skip_on_exit_code, src->skip_on_exit_code, sizeof dst->skip_on_exit_code);
    if (!dl_set_str(c, &dst->bash_command, src->bash_command) ||
        !dl_set_str(c, &dst->cwd, src->cwd) || !dl_set_str(c, &dst->owner, src->owner) ||
        !dl_set_str(c, &dst->run_as_user, src->run_as_user) ||
        !dl_set_str(c, &dst->queue, src->queue) || !dl_set_str(c, &dst->pool, src->pool) ||
        !dl_set_str(c, &dst->trigger_rule, src->trigger_rule) ||
        !dl_set_str(c, &dst->doc_md, src->doc_md))
        return false;
    if (src->env) { /* declared, even empty: it replaces the inherited environment */
        if (!(dst->env = calloc(src->n_env ? src->n_env : 1, sizeof *dst->env))) {
            c->oom = true;
            return false;
        }
        for (size_t i = 0; i < src->n_env; i++) {
            dst->n_env++;
            if (!dl_set_str(c, &dst->env[i].name, src->env[i].name) ||
                !dl_set_str(c, &dst->env[i].value, src->env[i].value))
                return false;
        }
    }
    return true;
}

/* Reads one key of a task (or of its partial) into t. */
/*
 * dag-factory's variables_as_arguments: [{variable: NAME, attribute: FIELD}].
 * FIELD must be one the worker renders: bash_command (bash operators) or a
 * templated argument of the operator. Replaces what default_args set.
 */
static bool parse_var_args(ctx_t *c, const ynode_t *v, dag_task_t *t, const char *tid,
                           dag_operator_t op)
{
    cJSON *arr = NULL;
    if (dl_is_null(v)) {
        cJSON_Delete(t->var_args);
        t->var_args = NULL;
        return true;
    }
    if (v->kind != Y_SEQ) {
        ERR(c, v, "variables_as_arguments of task '%s' must be a list of {variable, attribute}",
            tid);
        return false;
    }
    if (!(arr = cJSON_CreateArray())) {
        c->oom = true;
        return false;
    }
    for (size_t i = 0; i < v->n; i++) {
        const ynode_t *e = v->kids[i];
        const char *name = NULL, *attr = NULL;
        const ynode_t *nv = e->kind == Y_MAP ? dl_map_get(e, "variable") : NULL;
        const ynode_t *av = e->kind == Y_MAP ? dl_map_get(e, "attribute") : NULL;
        if (!nv || !av || MAP_PAIRS(e) != 2) {
            ERR(c, e,
                "each item of variables_as_arguments of task '%s' must be a mapping with "
                "exactly the keys variable and attribute",
                tid);
            goto fail;
        }
        if (!dl_get_str(c, nv, "variable", &name) || !dl_get_str(c, av, "attribute", &attr))
            goto fail;
        const operator_arg_t *a = operator_find_arg(op, attr);
        bool bash = operator_takes_bash(op) && strcmp(attr, "bash_command") == 0;
        if (!*name) {
            ERR(c, nv, "variable name in variables_as_arguments of task '%s' is empty", tid);
            goto fail;
        }
        if (!bash && (!a || !a->templated || a->type != ARG_STRING)) {
            ERR(c, av,
                "attribute '%.100s' of task '%s' cannot come from a variable (use bash_command "
                "or a templated string argument of its operator)",
                attr, tid);
            goto fail;
        }
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "variable", name) ||
            !cJSON_AddStringToObject(o, "attribute", attr)) {
            c->oom = true;
            goto fail;
        }
    }
    cJSON_Delete(t->var_args);
    t->var_args = arr;
    return true;
fail:
    cJSON_Delete(arr);
    return false;
}

static bool task_key(ctx_t *c, const ynode_t *k, const ynode_t *v, dag_task_t *t, const char *tid,
                     dag_operator_t op, task_src_t *src, bool in_partial, bool *has_op, bool *op_ok)
{
    key_id_t id = dl_key_lookup(dl_task_keys, k);
    char what[300];
    if (id == K_UNKNOWN) {
        const operator_arg_t *a = dl_is_scalar(k) ? operator_find_arg(op, k->str) : NULL;
        if (!a) {
            ERR(c, k, "unknown key '%.100s' in task '%s'%s", dl_key_text(k), tid,
                dl_is_scalar(k) && dl_any_operator_arg(k->str, &(dag_operator_t){DAG_OP_BASH})
                    ? " (it is not an argument of this operator)"
                    : "");
            return false;
        }
        cJSON *val;
        snprintf(what, sizeof what, "%s of task '%s'", a->name, tid);
        return dl_read_arg(c, a, v, what, &val) && dl_args_set(c, &t->args, a->name, val);
    }
    if (id == K_TASK_ID)
        return true; /* checked by the caller */
    if (id == K_DEPENDENCIES && !in_partial) {
        src->deps = v;
        return true;
    }
    if (in_partial && (id == K_DEPENDENCIES || id == K_OPERATOR || id == K_DECORATOR ||
                       id == K_EXPAND || id == K_PARTIAL || id == K_TASK_GROUP_NAME)) {
        ERR(c, k, "key '%s' cannot be in partial of task '%s'", dl_key_text(k), tid);
        return false;
    }
    if (!operator_takes_bash(op) &&
        (id == K_BASH_COMMAND || id == K_ENV || id == K_APPEND_ENV || id == K_CWD)) {
        ERR(c, k, "key '%s' is not valid for %s task '%s'", dl_key_text(k), operator_class_name(op),
            tid);
        return false;
    }
    if (id == K_EXPAND)
        return dl_parse_expand(c, v, t, tid, op);
    if (id == K_VAR_ARGS)
        return parse_var_args(c, v, t, tid, op);
    if (id == K_PARTIAL) {
        if (v->kind != Y_MAP) {
            ERR(c, v, "partial of task '%s' must be a mapping", tid);
            return false;
        }
        bool ok = true;
        for (size_t i = 0; i < MAP_PAIRS(v); i++)
            ok = task_key(c, MAP_KEY(v, i), MAP_VAL(v, i), t, tid, op, src, true, has_op, op_ok) &&
                 ok;
        return ok;
    }
    if (!dl_task_apply_key(c, id, k, v, t, tid, false, has_op)) {
        *op_ok = *op_ok && id != K_OPERATOR && id != K_DECORATOR;
        return false;
    }
    return true;
}

/* Drops the arguments that came from default_args but that op does not take. */
static void args_keep_own(dag_task_t *t, dag_operator_t op)
{
    cJSON *it = t->args ? t->args->child : NULL;
    while (it) {
        cJSON *next = it->next;
        if (!operator_find_arg(op, it->string))
            cJSON_Delete(cJSON_DetachItemViaPointer(t->args, it));
        it = next;
    }
    if (t->args && !t->args->child) {
        cJSON_Delete(t->args);
        t->args = NULL;
    }
}

/* Parses one task mapping into t (already holding the defaults). */
bool dl_parse_task(ctx_t *c, const ynode_t *m, const char *tid, const ynode_t *at, dag_task_t *t,
                   task_src_t *src)
{
    bool ok = true, has_op = false, op_ok = true;

    src->at = at;
    src->deps = NULL;
    dl_warn_dups(c, m);
    t->line = at->line;
    t->col = at->col;
    /* Bash-only keys that came from default_args do not apply to other operators. */
    const ynode_t *opnode = dl_map_get(m, "operator");
    dag_operator_t op = DAG_OP_BASH;
    if (dl_is_scalar(opnode) && !dl_is_null(opnode) && strlen(opnode->str) == opnode->len &&
        operator_parse(opnode->str, &op) && !operator_takes_bash(op)) {
        free(t->bash_command);
        t->bash_command = NULL;
        free(t->cwd);
        t->cwd = NULL;
        for (size_t i = 0; i < t->n_env; i++) {
            free(t->env[i].name);
            free(t->env[i].value);
        }
        free(t->env);
        t->env = NULL;
        t->n_env = 0;
    }
    args_keep_own(t, op);
    /* A key both in partial and at the task's top level is an error (dag-factory). */
    const ynode_t *partial = dl_map_get(m, "partial");
    for (size_t i = 0; partial && partial->kind == Y_MAP && i < MAP_PAIRS(partial); i++) {
        const ynode_t *pk = MAP_KEY(partial, i);
        if (dl_is_scalar(pk) && dl_map_get(m, pk->str)) {
            ERR(c, pk, "key '%.100s' of task '%s' is both in partial and in the task", pk->str,
                tid);
            ok = false;
        }
    }
    for (size_t i = 0; i < MAP_PAIRS(m); i++)
        ok = task_key(c, MAP_KEY(m, i), MAP_VAL(m, i), t, tid, op, src, false, &has_op, &op_ok) &&
             ok;
    if (!has_op && !dl_map_get(m, "operator") && !dl_map_get(m, "decorator")) {
        ERR(c, at, "task '%s' has no operator", tid);
        ok = false;
    }
    if (has_op && op_ok && t->op == DAG_OP_BASH && (!t->bash_command || !*t->bash_command) &&
        !(t->expand && cJSON_GetObjectItemCaseSensitive(t->expand, "bash_command"))) {
        ERR(c, at, "bash task '%s' has no bash_command", tid);
        ok = false;
    }
    if (t->wait_for_downstream)
        t->depends_on_past = true; /* as Airflow's BaseOperator */
    if (has_op && op_ok) {
        const char *key = NULL;
        char err[300];
        /* A mapped argument is given by expand: check as if it were set. */
        cJSON *check = t->args ? cJSON_Duplicate(t->args, 1) : cJSON_CreateObject();
        const cJSON *it;
        if (!check) {
            c->oom = true;
            return false;
        }
        cJSON_ArrayForEach(it, t->expand)
        {
            if (!cJSON_GetObjectItemCaseSensitive(check, it->string))
                cJSON_AddItemToObject(check, it->string, cJSON_CreateString("x"));
        }
        bool bash_set = (t->bash_command && *t->bash_command) ||
                        (t->expand && cJSON_GetObjectItemCaseSensitive(t->expand, "bash_command"));
        if (operator_check_args(t->op, check, bash_set, &key, err, sizeof err) != 0) {
            const ynode_t *kn = NULL;
            for (size_t i = 0; key && !kn && i < MAP_PAIRS(m); i++)
                if (dl_key_is(MAP_KEY(m, i), key))
                    kn = MAP_VAL(m, i);
            ERR(c, kn ? kn : at, "task '%s': %s", tid, err);
            ok = false;
        }
        cJSON_Delete(check);
    }
    return ok;
}
