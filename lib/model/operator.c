/*
 * operator.c - the operator table (see operator.h).
 *
 * Names: Airflow has moved its classes between modules from release to
 * release (airflow.operators.bash, airflow.providers.standard.operators.
 * bash, ...), so a dotted path is matched on its last component, and only
 * under airflow.*: a user's own class (customized.operators.X) has Python
 * code updraft cannot run and is refused by name.
 */
#include "model/operator.h"

#include <stdio.h>
#include <string.h>

typedef struct op_def {
    const char *short_name;
    const char *class_name;
    const char *module_path;    /* Airflow 2's module of the class */
    const char *const *aliases; /* other class names, NULL-terminated */
    operator_runs_t runs;
    bool sensor;
    bool bash;                  /* takes bash_command, env, append_env, cwd */
    const operator_arg_t *args; /* {NULL} terminated */
} op_def_t;

#define END                                                                                        \
    {                                                                                              \
        NULL, ARG_ANY, false, false                                                                \
    }

static const operator_arg_t no_args[] = {END};

static const operator_arg_t python_args[] = {
    {"python_callable", ARG_STRING, false, false},      /* "module.function" on PYTHONPATH */
    {"python_callable_file", ARG_STRING, false, false}, /* dag-factory: a .py file ... */
    {"python_callable_name", ARG_STRING, false, false}, /* ... and the function in it */
    {"op_args", ARG_ANY, true, true},
    {"op_kwargs", ARG_OBJECT, true, true},
    {"templates_dict", ARG_OBJECT, true, false},
    {"show_return_value_in_logs", ARG_BOOL, false, false},
    {"ignore_downstream_trigger_rules", ARG_BOOL, false, false}, /* short_circuit only */
    END};

static const operator_arg_t http_args[] = {
    {"http_conn_id", ARG_STRING, false, false},
    {"endpoint", ARG_STRING, true, true},
    {"method", ARG_STRING, false, false},
    {"data", ARG_ANY, true, true},
    {"headers", ARG_OBJECT, true, false},
    {"response_check", ARG_ANY, false, false}, /* status code(s) or a substring */
    {"extra_options", ARG_OBJECT, false, false},
    {"log_response", ARG_BOOL, false, false},
    {"request_timeout", ARG_SECONDS, false, false},
    {"tcp_keep_alive", ARG_BOOL, false, false},
    {"request_params", ARG_OBJECT, true, false}, /* HttpSensor: query string */
    END};

static const operator_arg_t sql_args[] = {
    {"conn_id", ARG_STRING, false, false},
    {"postgres_conn_id", ARG_STRING, false, false}, /* PostgresOperator */
    {"sql", ARG_ANY, true, true},                   /* a statement or a list of them */
    {"parameters", ARG_ANY, true, true}, /* a list ($1, $2, ...) or a mapping (%(name)s) */
    {"autocommit", ARG_BOOL, false, false},
    {"split_statements", ARG_BOOL, false, false},
    {"return_last", ARG_BOOL, false, false},
    {"handler", ARG_STRING, false, false}, /* ...fetch_one_handler: first row; else all rows */
    {"database", ARG_STRING, false, false},
    {"fail_on_empty", ARG_BOOL, false, false}, /* SqlSensor */
    END};

static const operator_arg_t trigger_args[] = {{"trigger_dag_id", ARG_STRING, true, true},
                                              {"trigger_run_id", ARG_STRING, true, false},
                                              {"conf", ARG_OBJECT, true, true},
                                              {"logical_date", ARG_STRING, true, false},
                                              {"execution_date", ARG_STRING, true, false},
                                              {"reset_dag_run", ARG_BOOL, false, false},
                                              {"wait_for_completion", ARG_BOOL, false, false},
                                              {"poke_interval", ARG_SECONDS, false, false},
                                              {"allowed_states", ARG_STRING_LIST, false, false},
                                              {"failed_states", ARG_STRING_LIST, false, false},
                                              {"skip_when_already_exists", ARG_BOOL, false, false},
                                              {"deferrable", ARG_BOOL, false, false},
                                              END};

/* Every sensor takes these (BaseSensorOperator). */
static const operator_arg_t sensor_args[] = {{"mode", ARG_STRING, false, false},
                                             {"poke_interval", ARG_SECONDS, false, false},
                                             {"timeout", ARG_SECONDS, false, false},
                                             {"exponential_backoff", ARG_BOOL, false, false},
                                             {"soft_fail", ARG_BOOL, false, false},
                                             {"max_wait", ARG_SECONDS, false, false},
                                             {"silent_fail", ARG_BOOL, false, false},
                                             {"deferrable", ARG_BOOL, false, false},
                                             END};

static const operator_arg_t file_sensor_args[] = {{"filepath", ARG_STRING, true, true},
                                                  {"fs_conn_id", ARG_STRING, false, false},
                                                  {"recursive", ARG_BOOL, false, false},
                                                  END};

static const operator_arg_t external_args[] = {{"external_dag_id", ARG_STRING, true, true},
                                               {"external_task_id", ARG_STRING, true, true},
                                               {"external_task_ids", ARG_STRING_LIST, true, false},
                                               {"external_task_group_id", ARG_STRING, true, false},
                                               {"allowed_states", ARG_STRING_LIST, false, false},
                                               {"skipped_states", ARG_STRING_LIST, false, false},
                                               {"failed_states", ARG_STRING_LIST, false, false},
                                               {"execution_delta", ARG_SECONDS, false, false},
                                               {"check_existence", ARG_BOOL, false, false},
                                               END};

static const operator_arg_t time_delta_args[] = {{"delta", ARG_SECONDS, false, false}, END};

static const operator_arg_t date_time_args[] = {{"target_time", ARG_STRING, true, true}, END};

static const char *const empty_names[] = {"DummyOperator", NULL};
static const char *const branch_names[] = {"BranchBashOperator", NULL};
static const char *const http_names[] = {"SimpleHttpOperator", NULL};
static const char *const sql_names[] = {"PostgresOperator", "SqlOperator", NULL};
static const char *const none[] = {NULL};

static const op_def_t defs[DAG_OP_COUNT] = {
    [DAG_OP_BASH] = {"bash", "BashOperator", "airflow.operators.bash", none, OPERATOR_RUNS_SHELL,
                     false, true, no_args},
    [DAG_OP_EMPTY] = {"empty", "EmptyOperator", "airflow.operators.empty", empty_names,
                      OPERATOR_RUNS_PLANNER, false, false, no_args},
    [DAG_OP_BRANCH] = {"branch", "BranchPythonOperator", "airflow.operators.python", branch_names,
                       OPERATOR_RUNS_SHELL, false, true, python_args},
    [DAG_OP_SHORT_CIRCUIT] = {"short_circuit", "ShortCircuitOperator", "airflow.operators.python",
                              none, OPERATOR_RUNS_SHELL, false, true, python_args},
    [DAG_OP_LATEST_ONLY] = {"latest_only", "LatestOnlyOperator", "airflow.operators.latest_only",
                            none, OPERATOR_RUNS_PLANNER, false, false, no_args},
    [DAG_OP_PYTHON] = {"python", "PythonOperator", "airflow.operators.python", none,
                       OPERATOR_RUNS_RUNNER, false, false, python_args},
    [DAG_OP_HTTP] = {"http", "HttpOperator", "airflow.providers.http.operators.http", http_names,
                     OPERATOR_RUNS_RUNNER, false, false, http_args},
    [DAG_OP_SQL] = {"sql", "SQLExecuteQueryOperator", "airflow.providers.common.sql.operators.sql",
                    sql_names, OPERATOR_RUNS_RUNNER, false, false, sql_args},
    [DAG_OP_TRIGGER_DAG_RUN] = {"trigger_dag_run", "TriggerDagRunOperator",
                                "airflow.operators.trigger_dagrun", none, OPERATOR_RUNS_RUNNER,
                                false, false, trigger_args},
    [DAG_OP_FILE_SENSOR] = {"file_sensor", "FileSensor", "airflow.sensors.filesystem", none,
                            OPERATOR_RUNS_RUNNER, true, false, file_sensor_args},
    [DAG_OP_HTTP_SENSOR] = {"http_sensor", "HttpSensor", "airflow.providers.http.sensors.http",
                            none, OPERATOR_RUNS_RUNNER, true, false, http_args},
    [DAG_OP_SQL_SENSOR] = {"sql_sensor", "SqlSensor", "airflow.providers.common.sql.sensors.sql",
                           none, OPERATOR_RUNS_RUNNER, true, false, sql_args},
    [DAG_OP_EXTERNAL_TASK_SENSOR] = {"external_task_sensor", "ExternalTaskSensor",
                                     "airflow.sensors.external_task", none, OPERATOR_RUNS_RUNNER,
                                     true, false, external_args},
    [DAG_OP_TIME_DELTA_SENSOR] = {"time_delta_sensor", "TimeDeltaSensor",
                                  "airflow.sensors.time_delta", none, OPERATOR_RUNS_RUNNER, true,
                                  false, time_delta_args},
    [DAG_OP_DATE_TIME_SENSOR] = {"date_time_sensor", "DateTimeSensor", "airflow.sensors.date_time",
                                 none, OPERATOR_RUNS_RUNNER, true, false, date_time_args},
};

static bool class_matches(const op_def_t *d, const char *cls)
{
    if (strcmp(d->class_name, cls) == 0)
        return true;
    for (size_t i = 0; d->aliases[i]; i++)
        if (strcmp(d->aliases[i], cls) == 0)
            return true;
    return false;
}

bool operator_parse(const char *name, dag_operator_t *out)
{
    const char *dot = strrchr(name, '.');
    const char *cls = dot ? dot + 1 : name;
    if (dot && strncmp(name, "airflow.", 8) != 0)
        return false; /* a user's class: Python updraft cannot run */
    for (int op = 0; op < DAG_OP_COUNT; op++) {
        if ((!dot && strcmp(defs[op].short_name, name) == 0) || class_matches(&defs[op], cls)) {
            *out = (dag_operator_t)op;
            return true;
        }
    }
    return false;
}

const char *operator_class_name(dag_operator_t op)
{
    return op >= 0 && op < DAG_OP_COUNT ? defs[op].class_name : "UnknownOperator";
}

const char *operator_module_path(dag_operator_t op)
{
    return op >= 0 && op < DAG_OP_COUNT ? defs[op].module_path : "";
}

size_t operator_template_fields(dag_operator_t op, const char **out, size_t max)
{
    static const char *const bash_fields[] = {"bash_command", "env", "cwd"};
    size_t n = 0;

    if (op < 0 || op >= DAG_OP_COUNT)
        return 0;
    for (size_t i = 0; defs[op].bash && i < 3 && n < max; i++)
        out[n++] = bash_fields[i];
    for (size_t i = 0; defs[op].args[i].name && n < max; i++) {
        const operator_arg_t *a = operator_find_arg(op, defs[op].args[i].name);
        if (a && a->templated)
            out[n++] = a->name;
    }
    return n;
}

const char *operator_short_name(dag_operator_t op)
{
    return op >= 0 && op < DAG_OP_COUNT ? defs[op].short_name : "unknown";
}

operator_runs_t operator_runs(dag_operator_t op)
{
    return op >= 0 && op < DAG_OP_COUNT ? defs[op].runs : OPERATOR_RUNS_SHELL;
}

bool operator_is_sensor(dag_operator_t op)
{
    return op >= 0 && op < DAG_OP_COUNT && defs[op].sensor;
}

bool operator_takes_bash(dag_operator_t op)
{
    return op >= 0 && op < DAG_OP_COUNT && defs[op].bash;
}

static const operator_arg_t *find_in(const operator_arg_t *args, const char *name)
{
    for (size_t i = 0; args[i].name; i++)
        if (strcmp(args[i].name, name) == 0)
            return &args[i];
    return NULL;
}

const operator_arg_t *operator_find_arg(dag_operator_t op, const char *name)
{
    if (op < 0 || op >= DAG_OP_COUNT)
        return NULL;
    const operator_arg_t *a = find_in(defs[op].args, name);
    if (!a && defs[op].sensor)
        a = find_in(sensor_args, name);
    if (a && !strcmp(a->name, "ignore_downstream_trigger_rules") && op != DAG_OP_SHORT_CIRCUIT)
        return NULL;
    if (a && !strcmp(a->name, "request_params") && op != DAG_OP_HTTP_SENSOR)
        return NULL;
    if (a && !strcmp(a->name, "fail_on_empty") && op != DAG_OP_SQL_SENSOR)
        return NULL;
    return a;
}

static const cJSON *arg(const cJSON *args, const char *name)
{
    const cJSON *v = args ? cJSON_GetObjectItemCaseSensitive(args, name) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static bool is_task_state(const char *s)
{
    static const char *const states[] = {
        "success", "failed",    "skipped",      "upstream_failed",   "removed", "running",
        "queued",  "scheduled", "up_for_retry", "up_for_reschedule", "none",    NULL};
    for (size_t i = 0; states[i]; i++)
        if (strcmp(states[i], s) == 0)
            return true;
    return false;
}

static int check_states(const cJSON *args, const char *name, const char **key, char *err,
                        size_t errlen)
{
    const cJSON *v = arg(args, name), *it;
    if (!v)
        return 0;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || !is_task_state(it->valuestring)) {
            *key = name;
            snprintf(err, errlen, "%s: '%.64s' is not a task instance state", name,
                     cJSON_IsString(it) ? it->valuestring : "?");
            return -1;
        }
    }
    return 0;
}

/* response_check: a status code, a list of them, or a substring of the body. */
static int check_response_check(const cJSON *args, const char **key, char *err, size_t errlen)
{
    const cJSON *v = arg(args, "response_check"), *it;
    if (!v || cJSON_IsString(v))
        return 0;
    if (cJSON_IsNumber(v) && v->valuedouble >= 100 && v->valuedouble <= 599)
        return 0;
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
        bool ok = true;
        cJSON_ArrayForEach(it, v) ok =
            ok && cJSON_IsNumber(it) && it->valuedouble >= 100 && it->valuedouble <= 599;
        if (ok)
            return 0;
    }
    *key = "response_check";
    snprintf(err, errlen,
             "response_check must be an HTTP status code, a list of them, or a "
             "string the response body must contain");
    return -1;
}

/* A python callable: a file and a name, or module.function; op_args a list. */
static int check_python_args(dag_operator_t op, const cJSON *args, bool callable, const char **key,
                             char *err, size_t errlen)
{
    if (arg(args, "python_callable_file") && !arg(args, "python_callable_name")) {
        *key = "python_callable_file";
        snprintf(err, errlen, "python_callable_file needs python_callable_name");
        return -1;
    }
    if (arg(args, "python_callable_name") && !arg(args, "python_callable_file")) {
        *key = "python_callable_name";
        snprintf(err, errlen, "python_callable_name needs python_callable_file");
        return -1;
    }
    if (!callable) {
        snprintf(err, errlen,
                 "%s needs python_callable_file and python_callable_name "
                 "(or python_callable: module.function)%s",
                 operator_class_name(op), op == DAG_OP_PYTHON ? "" : ", or a bash_command");
        return -1;
    }
    if (arg(args, "python_callable_file") && arg(args, "python_callable")) {
        *key = "python_callable";
        snprintf(err, errlen, "give python_callable or python_callable_file, not both");
        return -1;
    }
    const cJSON *oa = arg(args, "op_args");
    if (oa && !cJSON_IsArray(oa) && !cJSON_IsString(oa)) {
        *key = "op_args";
        snprintf(err, errlen, "op_args must be a list");
        return -1;
    }
    return 0;
}

/* HTTP: a known method, and response_check. */
static int check_http_args(const cJSON *args, const char **key, char *err, size_t errlen)
{
    const cJSON *m = arg(args, "method");
    static const char *const methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                          "DELETE", "HEAD", "OPTIONS", NULL};
    bool ok = !m;
    for (size_t i = 0; m && methods[i]; i++)
        ok = ok || strcmp(m->valuestring, methods[i]) == 0;
    if (!ok) {
        *key = "method";
        snprintf(err, errlen,
                 "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, "
                 "OPTIONS");
        return -1;
    }
    if (check_response_check(args, key, err, errlen) < 0)
        return -1;
    return 0;
}

/* SQL: a statement or a list of them; parameters a list or a mapping. */
static int check_sql_args(dag_operator_t op, const cJSON *args, const char **key, char *err,
                          size_t errlen)
{
    const cJSON *s = arg(args, "sql"), *it;
    bool ok = s && (cJSON_IsString(s) || (cJSON_IsArray(s) && cJSON_GetArraySize(s) > 0));
    if (cJSON_IsArray(s))
        cJSON_ArrayForEach(it, s) ok = ok && cJSON_IsString(it);
    if (!ok) {
        *key = s ? "sql" : NULL;
        snprintf(err, errlen, "%s needs sql: a statement or a list of statements",
                 operator_class_name(op));
        return -1;
    }
    const cJSON *p = arg(args, "parameters");
    if (p && !cJSON_IsArray(p) && !cJSON_IsObject(p)) {
        *key = "parameters";
        snprintf(err, errlen, "parameters must be a list or a mapping");
        return -1;
    }
    return 0;
}

/* ExternalTaskSensor: the DAG, at most one way to name tasks, and valid states. */
static int check_external_args(const cJSON *args, const char **key, char *err, size_t errlen)
{
    if (!arg(args, "external_dag_id")) {
        snprintf(err, errlen, "ExternalTaskSensor needs external_dag_id");
        return -1;
    }
    if ((arg(args, "external_task_id") != NULL) + (arg(args, "external_task_ids") != NULL) +
            (arg(args, "external_task_group_id") != NULL) >
        1) {
        *key = "external_task_ids";
        snprintf(err, errlen,
                 "give only one of external_task_id, external_task_ids and "
                 "external_task_group_id");
        return -1;
    }
    if (check_states(args, "allowed_states", key, err, errlen) < 0 ||
        check_states(args, "skipped_states", key, err, errlen) < 0 ||
        check_states(args, "failed_states", key, err, errlen) < 0)
        return -1;
    return 0;
}

/* Every sensor: mode poke or reschedule, poke_interval at least 1 second. */
static int check_sensor_args(const cJSON *args, const char **key, char *err, size_t errlen)
{
    const cJSON *m = arg(args, "mode");
    if (m && strcmp(m->valuestring, "poke") != 0 && strcmp(m->valuestring, "reschedule") != 0) {
        *key = "mode";
        snprintf(err, errlen, "mode must be poke or reschedule");
        return -1;
    }
    const cJSON *pi = arg(args, "poke_interval");
    if (pi && pi->valuedouble < 1) {
        *key = "poke_interval";
        snprintf(err, errlen, "poke_interval must be at least 1 second");
        return -1;
    }
    return 0;
}

int operator_check_args(dag_operator_t op, const cJSON *args, bool bash_command_set,
                        const char **key, char *err, size_t errlen)
{
    *key = NULL;
    bool callable = arg(args, "python_callable") || arg(args, "python_callable_file");
    switch (op) {
    case DAG_OP_BRANCH:
    case DAG_OP_SHORT_CIRCUIT:
        if (bash_command_set && callable) {
            snprintf(err, errlen, "give either bash_command or a python callable, not both");
            return -1;
        }
        if (bash_command_set)
            break;
        __attribute__((fallthrough)); /* a python callable is then required */
    case DAG_OP_PYTHON:
        if (check_python_args(op, args, callable, key, err, errlen) < 0)
            return -1;
        break;
    case DAG_OP_HTTP:
    case DAG_OP_HTTP_SENSOR:
        if (check_http_args(args, key, err, errlen) < 0)
            return -1;
        break;
    case DAG_OP_SQL:
    case DAG_OP_SQL_SENSOR:
        if (check_sql_args(op, args, key, err, errlen) < 0)
            return -1;
        break;
    case DAG_OP_TRIGGER_DAG_RUN:
        if (!arg(args, "trigger_dag_id")) {
            snprintf(err, errlen, "TriggerDagRunOperator needs trigger_dag_id");
            return -1;
        }
        if (check_states(args, "allowed_states", key, err, errlen) < 0 ||
            check_states(args, "failed_states", key, err, errlen) < 0)
            return -1;
        break;
    case DAG_OP_FILE_SENSOR:
        if (!arg(args, "filepath")) {
            snprintf(err, errlen, "FileSensor needs filepath");
            return -1;
        }
        break;
    case DAG_OP_EXTERNAL_TASK_SENSOR:
        if (check_external_args(args, key, err, errlen) < 0)
            return -1;
        break;
    case DAG_OP_TIME_DELTA_SENSOR:
        if (!arg(args, "delta")) {
            snprintf(err, errlen, "TimeDeltaSensor needs delta");
            return -1;
        }
        break;
    case DAG_OP_DATE_TIME_SENSOR:
        if (!arg(args, "target_time")) {
            snprintf(err, errlen, "DateTimeSensor needs target_time");
            return -1;
        }
        break;
    default:
        break;
    }
    if (operator_is_sensor(op) && check_sensor_args(args, key, err, errlen) < 0)
        return -1;
    return 0;
}
