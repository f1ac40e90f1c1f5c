/*
 * operator.h - the operators and sensors a task can name, and the
 * arguments each one takes (docs/dag-format.md "Operators").
 *
 * One table describes every operator: the names it is known by (a short
 * name and Airflow's class names, matched on the last component of a
 * dotted path under airflow.*), where it runs, and its arguments with
 * their types, defaults and whether they are templated or expandable.
 * The loader reads arguments with it, the worker renders the templated
 * ones and hands them to the operator runner, the planner asks where a
 * task runs. Arguments that are common to every task (retries, pool, ...)
 * and the bash fields (bash_command, env, append_env, cwd) are not
 * arguments here: they live in dag_task_t itself.
 */
#ifndef UPDRAFT_OPERATOR_H
#define UPDRAFT_OPERATOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum dag_operator {
    DAG_OP_BASH = 0,
    DAG_OP_EMPTY,
    DAG_OP_BRANCH,        /* bash_command or a python callable names the tasks to follow */
    DAG_OP_SHORT_CIRCUIT, /* bash_command or a python callable: falsy skips downstream */
    DAG_OP_LATEST_ONLY,   /* decided by the planner: skips downstream of a non-latest run */
    DAG_OP_PYTHON,
    DAG_OP_HTTP,
    DAG_OP_SQL,
    DAG_OP_TRIGGER_DAG_RUN,
    DAG_OP_FILE_SENSOR,
    DAG_OP_HTTP_SENSOR,
    DAG_OP_SQL_SENSOR,
    DAG_OP_EXTERNAL_TASK_SENSOR,
    DAG_OP_TIME_DELTA_SENSOR,
    DAG_OP_DATE_TIME_SENSOR,
    DAG_OP_COUNT
} dag_operator_t;

/* Where a task of an operator runs. */
typedef enum operator_runs {
    OPERATOR_RUNS_SHELL =
        0, /* the worker runs bash_command with bash -c (bash, and bash branch/short_circuit) */
    OPERATOR_RUNS_RUNNER, /* the worker runs the operator runner (updraft-worker --run-operator) */
    OPERATOR_RUNS_PLANNER /* never queued: the planner settles it (empty, latest_only) */
} operator_runs_t;

typedef enum operator_arg_type {
    ARG_STRING = 0, /* a string (numbers and booleans written plainly are taken as text) */
    ARG_INT,        /* an integer */
    ARG_SECONDS,    /* seconds: an integer, "1h30m", or a datetime.timedelta mapping */
    ARG_BOOL,
    ARG_STRING_LIST, /* a list of strings (a single string is one element) */
    ARG_OBJECT,      /* a mapping */
    ARG_ANY          /* any YAML value, kept as JSON */
} operator_arg_type_t;

typedef struct operator_arg {
    const char *name;
    operator_arg_type_t type;
    bool templated;  /* the worker renders string leaves just before the run */
    bool expandable; /* may be a key of `expand` (dynamic task mapping) */
} operator_arg_t;

/*
 * The operator a name means: a short name ("http"), a class name
 * ("HttpOperator") or a dotted path whose last component is a class name
 * and whose module is Airflow's ("airflow.providers.http.operators.http.
 * HttpOperator"). false when unknown.
 */
bool operator_parse(const char *name, dag_operator_t *out);

/* Airflow's class name, as the API shows it ("BashOperator"). */
const char *operator_class_name(dag_operator_t op);
/* Airflow 2's module of the class, as the API's class_ref shows it ("airflow.operators.bash"). */
const char *operator_module_path(dag_operator_t op);
/*
 * The names of op's templated fields (Airflow's template_fields: the bash
 * fields, then the templated arguments), at most max of them into out.
 * Returns how many.
 */
size_t operator_template_fields(dag_operator_t op, const char **out, size_t max);
/* The short name ("bash", "http_sensor"). */
const char *operator_short_name(dag_operator_t op);

operator_runs_t operator_runs(dag_operator_t op);
bool operator_is_sensor(dag_operator_t op);
/* Whether the task's own fields include bash_command/env/append_env/cwd. */
bool operator_takes_bash(dag_operator_t op);

/*
 * The argument definition of name for op (including the sensor arguments
 * of every sensor and the python callable arguments of branch and
 * short_circuit), NULL when op takes no such argument.
 */
const operator_arg_t *operator_find_arg(dag_operator_t op, const char *name);

/*
 * Checks a task's arguments once every key is read: required arguments
 * present, values in range, combinations allowed. bash_command_set: the
 * task has a bash_command (branch and short_circuit take it or a python
 * callable). Returns 0, or -1 with err filled and *key set to the
 * argument the problem is about (NULL: the task as a whole).
 */
int operator_check_args(dag_operator_t op, const cJSON *args, bool bash_command_set,
                        const char **key, char *err, size_t errlen);

/* Sensor defaults (Airflow's BaseSensorOperator). */
#define OPERATOR_POKE_INTERVAL_DEFAULT 60
#define OPERATOR_SENSOR_TIMEOUT_DEFAULT (7 * 24 * 3600)

/*
 * The exit codes of the operator runner (and how the worker reads them):
 * 0 success, OPERATOR_EXIT_SKIP skipped (soft_fail, AirflowSkipException),
 * OPERATOR_EXIT_RESCHEDULE a sensor in reschedule mode poked and is not
 * done (the worker sets up_for_reschedule and the next poke time),
 * OPERATOR_EXIT_FAIL_NO_RETRY failed without retry, anything else failed.
 */
#define OPERATOR_EXIT_SKIP 99
#define OPERATOR_EXIT_RESCHEDULE 100
/* Failed, and no retry (a sensor's timeout: AirflowSensorTimeout). */
#define OPERATOR_EXIT_FAIL_NO_RETRY 101

/* Dynamic task mapping: at most this many instances (Airflow's max_map_length,
 * config core.max_map_length); a literal list is refused above the hard cap. */
#define OPERATOR_MAX_MAP_LENGTH_DEFAULT 1024
#define OPERATOR_MAP_LITERAL_MAX 100000

/*
 * The XCom key a branch, short_circuit or latest_only task writes for the
 * planner, as Airflow's SkipMixin: {"followed": [task or group ids]}. A
 * direct downstream task not named (nor any of its groups) is skipped;
 * absent = follow all.
 */
#define OPERATOR_SKIPMIXIN_KEY "skipmixin_key"

#endif
