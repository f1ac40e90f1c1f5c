/*
 * taskenv.h - the environment a task process runs with.
 *
 * Airflow's BashOperator semantics: a task without `env` inherits the
 * worker's environment; a task with `env` and append_env false gets only its
 * `env` (updraft keeps PATH so that bash finds commands); with append_env
 * true, `env` is layered over the inherited environment. On top of that come
 * the context variables every task sees: UPDRAFT_* and Airflow's
 * AIRFLOW_CTX_* (they win over a task's own `env`, as in Airflow). What
 * carries the worker's settings or secrets is never inherited
 * (envname_reserved: UPDRAFT_* and AIRFLOW__* settings,
 * connections and variables given in the environment, the settings file,
 * libpq's PG* variables, REDISCLI_AUTH): a task gets such a name only
 * when its own `env` gives it.
 */
#ifndef UPDRAFT_TASKENV_H
#define UPDRAFT_TASKENV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/timeutil.h"

#define TASKENV_MAX_VARS 4096 /* refuse environments larger than this */
#define TASKENV_DATE_LEN TS_ISO_LEN

typedef struct taskenv_var {
    const char *name;
    const char *value;
} taskenv_var_t;

/* What identifies the try; strings are borrowed, NULL is taken as "". */
typedef struct taskenv_ctx {
    const char *dag_id;
    const char *task_id;
    const char *run_id;
    const char *owner;
    int try_number;
    int map_index;
    ts_us_t logical_date; /* TS_NONE: the date variables are set to "" */
} taskenv_ctx_t;

/* True for a usable variable name: non-empty, no '=' and no control characters. */
bool taskenv_name_valid(const char *name);

/*
 * Formats t as Python's datetime.isoformat() does for an aware UTC value,
 * which is what Airflow puts in AIRFLOW_CTX_LOGICAL_DATE:
 * "2024-01-01T00:00:00+00:00", with ".ffffff" only when the microseconds
 * are not zero. buf needs TASKENV_DATE_LEN bytes. Returns buf.
 */
char *taskenv_format_date(ts_us_t t, char *buf);

/*
 * Builds the environment of a task process. base: the inherited
 * environment, a NULL-terminated array of "NAME=value" (environ; entries
 * without '=' are skipped). vars/nvars: the task's `env`; has_env says the
 * task declared `env` at all (an empty mapping still replaces the inherited
 * environment unless append_env). Later sources override earlier ones by
 * name. Returns a malloc'd NULL-terminated array of malloc'd strings (free
 * with taskenv_free), or NULL with err filled (invalid name, too many
 * variables, out of memory).
 */
char **taskenv_build(char *const *base, const taskenv_var_t *vars, size_t nvars, bool has_env,
                     bool append_env, const taskenv_ctx_t *ctx, char *err, size_t errlen);

/*
 * Adds a DAG run's conf to an environment that taskenv_build made (the
 * conf's variables win over everything in it, like the context variables):
 *   UPDRAFT_DAG_RUN_CONF   the conf as JSON text, as stored on the run
 *                          (dag_run.conf: the params' defaults overridden
 *                          by the trigger's conf);
 *   UPDRAFT_PARAM_<key>    for each top-level key that is a valid shell
 *                          name ([A-Za-z_][A-Za-z0-9_]*, case kept) and
 *                          whose value is a string (its text), a number
 *                          or a boolean (as JSON writes them: 5, 1.5,
 *                          true); other keys and values (null, lists,
 *                          objects) are only in UPDRAFT_DAG_RUN_CONF.
 * conf_json NULL adds nothing. *envp may move (realloc). Returns 0, or -1
 * with err filled (conf not a JSON object, too many variables, out of
 * memory); *envp then is still a valid environment for taskenv_free.
 */
int taskenv_add_conf(char ***envp, const char *conf_json, char *err, size_t errlen);

/*
 * Sets name=value in an environment that taskenv_build made (replacing an
 * earlier value). *envp may move. 0, or -1 with err filled (invalid name,
 * too many variables, out of memory); *envp stays valid for taskenv_free.
 */
int taskenv_set(char ***envp, const char *name, const char *value, char *err, size_t errlen);

/* Value of name in a NULL-terminated envp, or NULL. */
const char *taskenv_get(char *const *envp, const char *name);

void taskenv_free(char **envp);

#endif
