/*
 * dag.h - the DAG model, its YAML loader, and its serialized form.
 *
 * DAG files are dag-factory YAML (docs/dag-format.md). dag_load_file()
 * turns one file into zero or more dag_t plus diagnostics; the scheduler
 * stores each DAG as JSON (dag_to_json) in dag_version.data, and workers and
 * the webserver read it back with dag_from_json. The JSON layout is the
 * "Serialized DAG" contract in proto/PROTOCOL.md.
 *
 * Structs are plain data: everything a dag_t points to is owned by it and
 * released by dag_free().
 */
#ifndef UPDRAFT_DAG_H
#define UPDRAFT_DAG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/operator.h"
#include "core/timeutil.h"

#define DAG_ID_MAX 250             /* Airflow's limit for dag_id and task_id */
#define DAG_FILE_MAX (4 << 20)     /* a DAG file larger than this is refused before reading */
#define DAG_PARAMS_MAX (64 * 1024) /* serialized params (and a run's conf) at most this long */
#define DAG_GROUP_DEPTH_MAX 32     /* task groups inside task groups, at most */
#define DAG_SKIP_CODES_MAX 16      /* skip_on_exit_code values per task, at most */
#define DAG_DOC_MAX (64 * 1024)    /* a doc_md (written or read from doc_md_file_path), at most */

/* Airflow's weight_rule: how a task's effective priority is computed. */
typedef enum dag_weight_rule {
    DAG_WEIGHT_DOWNSTREAM = 0, /* own weight + all downstream tasks' weights */
    DAG_WEIGHT_UPSTREAM,       /* own weight + all upstream tasks' weights */
    DAG_WEIGHT_ABSOLUTE        /* own weight */
} dag_weight_rule_t;

typedef struct dag_env {
    char *name;
    char *value;
} dag_env_t;

typedef struct dag_task {
    char *task_id;
    dag_operator_t op;
    char *bash_command; /* bash: required */
    dag_env_t *env;     /* bash: extra environment */
    size_t n_env;
    bool append_env;   /* bash: keep the worker's environment (Airflow default false -> we keep PATH
                          etc.) */
    char *cwd;         /* bash: working directory, NULL = a fresh temp dir */
    char *owner;       /* default "airflow" */
    char *run_as_user; /* the user the task runs as (worker.default_run_as_user when NULL) */
    int retries;       /* default 0 */
    int retry_delay_sec;            /* default 300 */
    char *queue;                    /* default "default" */
    char *pool;                     /* default "default_pool" */
    int pool_slots;                 /* default 1 */
    int priority_weight;            /* default 1, as written */
    dag_weight_rule_t weight_rule;  /* default downstream */
    int priority_weight_total;      /* effective priority (dag_compute_priorities), what
                                       task_instance.priority_weight holds */
    int max_active_tis_per_dag;     /* 0 = no limit */
    int max_active_tis_per_dagrun;  /* 0 = no limit */
    char *trigger_rule;             /* default "all_success" */
    int execution_timeout_sec;      /* 0 = none */
    bool retry_exponential_backoff; /* default false */
    bool no_xcom_push; /* do_xcom_push: false (default true: the last output line is pushed) */
    int max_retry_delay_sec;                   /* 0 = no cap but Airflow's one day */
    int skip_on_exit_code[DAG_SKIP_CODES_MAX]; /* bash: exit codes that mean skipped */
    size_t n_skip_on_exit_code; /* default 1 ({99}); 0 = none (skip_on_exit_code: null) */
    bool depends_on_past; /* runs only once its previous run's instance succeeded or skipped */
    bool
        wait_for_downstream; /* ... and that instance's direct downstream too (implies the above) */
    cJSON *args;             /* operator arguments (model/operator.h), an object; NULL = none */
    cJSON *expand;           /* dynamic task mapping, NULL = not mapped: {argument: [values...] |
                                {"xcom_task": task_id}}; the other fields hold partial's values */
    cJSON *alerts;           /* NULL = none; {"failure"|"retry"|"success": [{"conn_id", "kind":
                                "slack"|"webhook"|"auto", "text"?, "channel"?}]} */
    cJSON *var_args;         /* variables_as_arguments, NULL = none: [{"variable": NAME,
                                "attribute": FIELD}]: at run time a set Variable NAME replaces
                                FIELD (bash_command or a templated argument) */
    int sla_sec;             /* 0 = none: an SLA miss when not done by interval end + sla */
    char *doc_md;     /* Markdown shown with the task, NULL = none (DAG_DOC_MAX bytes at most) */
    char *task_group; /* group_id of the innermost task group, NULL = none */
    char **upstream;  /* task ids this task depends on */
    size_t n_upstream;
    char **downstream; /* computed from upstream */
    size_t n_downstream;
    int line, col; /* where the task is declared (1-based), 0 if unknown */
} dag_task_t;

/*
 * A task group (Airflow's TaskGroup, dag-factory's task_groups). The
 * group_id is the full id ("outer.inner" when the parent prefixes its
 * children); a task's id carries its group_id prefix when the group's
 * prefix_group_id is true, as Airflow does.
 */
typedef struct dag_group {
    char *group_id;       /* full id, unique in the DAG */
    char *label;          /* the group's name as written */
    char *parent_id;      /* group_id of the enclosing group, NULL = top level */
    char *tooltip;        /* "" when not set */
    bool prefix_group_id; /* default true */
} dag_group_t;

typedef struct dag {
    char *dag_id;
    char *fileloc; /* path of the file it came from */
    char *description;
    char *doc_md;       /* Markdown shown with the DAG, NULL = none (DAG_DOC_MAX bytes at most) */
    char *schedule;     /* NULL = manual only; else as written (cron, preset, "1h"),
                           a timedelta mapping normalised to "1h30m" (model/cron.h) */
    char *timezone;     /* zone of the schedule: IANA name or "+02:00"; NULL = UTC */
    ts_us_t start_date; /* TS_NONE if absent */
    ts_us_t end_date;   /* TS_NONE if absent */
    int catchup;        /* -1 = not set (config default applies), 0, 1 */
    char **tags;
    size_t n_tags;
    char *owner;                         /* owners shown in the API: from default_args.owner */
    int max_active_runs;                 /* default 16 */
    int max_active_tasks;                /* default 16 */
    int dagrun_timeout_sec;              /* 0 = none */
    int max_consecutive_failed_dag_runs; /* 0 = never pause */
    int is_paused_upon_creation;         /* -1 = not set, 0, 1 */
    cJSON *params;     /* NULL = none; else {name: {"default"?: v, "description": s|null,
                          "schema": {...}}}, see dag_params_resolve */
    cJSON *alerts;     /* DAG run alerts, NULL = none: {"failure"|"success"|"sla_miss": [...]},
                          items as a task's alerts */
    dag_task_t *tasks; /* topologically sorted: upstream before downstream */
    size_t n_tasks;
    dag_group_t *groups; /* parents before their children, else as declared */
    size_t n_groups;
} dag_t;

/* Diagnostics: one problem each, printed as "path:line:col: message". */
typedef struct dag_diag {
    char *path;
    int line, col; /* 1-based; 0 when the problem has no position */
    bool warning;  /* warnings do not stop a DAG from loading */
    char *message;
} dag_diag_t;

typedef struct dag_diags {
    dag_diag_t *items;
    size_t n, cap;
} dag_diags_t;

void dag_diags_init(dag_diags_t *d);
void dag_diags_free(dag_diags_t *d);
size_t dag_diags_errors(const dag_diags_t *d);
/* Adds one diagnostic (message printf-style). */
void dag_diags_add(dag_diags_t *d, const char *path, int line, int col, bool warning,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/*
 * Formats diagnostics one per line: "path:line:col: message" for errors,
 * "path:line:col: warning: message" for warnings (when with_warnings).
 * Returns a malloc'd string ("" when nothing), caller frees.
 */
char *dag_diags_format(const dag_diags_t *d, bool with_warnings);

typedef struct dag_list {
    dag_t **items;
    size_t n, cap;
} dag_list_t;

void dag_list_init(dag_list_t *l);
/* Frees the DAGs too. */
void dag_list_free(dag_list_t *l);

/*
 * Loads every DAG in one YAML file. root: the DAGs folder; defaults.yml /
 * defaults.yaml files in the file's folder and each parent up to root are
 * merged in (nearest wins); root NULL means only the file's own folder.
 * Only regular files are read: anything else (a FIFO, a device, a symlink
 * to one) is an error, and never opened in a way that could block.
 * env_allowlist: the environment variables $NAME / ${NAME} may read
 * (core.dag_env_allowlist: names and PREFIX*, comma-separated; NULL =
 * none); naming one of updraft's own (core/envname.h) is an error at its
 * line:col whatever the list says. DAGs that load are appended to out,
 * every problem to diags. A DAG with an error is not appended; the other
 * DAGs of the file still are. Returns the number of errors added (0 = the
 * file is clean), or -1 if the file cannot be read at all (also reported
 * in diags).
 */
int dag_load_file(const char *path, const char *root, const char *env_allowlist, dag_list_t *out,
                  dag_diags_t *diags);

/*
 * Same, and hands over the file's text as it was parsed: *text (malloc'd,
 * NUL-terminated, caller frees) of *len bytes, or NULL when the file could
 * not be read. What the DAG processor stores as the version's code.
 */
int dag_load_file_text(const char *path, const char *root, const char *env_allowlist,
                       dag_list_t *out, dag_diags_t *diags, char **text, size_t *len);

/*
 * Same from memory (name is used for fileloc and diagnostics; defaults files
 * are not consulted). text need not be NUL-terminated.
 */
int dag_load_buffer(const char *name, const char *text, size_t len, const char *env_allowlist,
                    dag_list_t *out, dag_diags_t *diags);

/* True for file names the DAG processor reads: *.yaml / *.yml, not defaults.y*ml. */
bool dag_is_dag_file(const char *filename);

void dag_free(dag_t *dag);
/* Frees everything one task owns and zeroes it (dag_free does this for each task). */
void dag_task_clear(dag_task_t *t);
/* Index of task_id in dag->tasks, or -1. */
int dag_find_task(const dag_t *dag, const char *task_id);
/* Index of group_id (the full id) in dag->groups, or -1. */
int dag_find_group(const dag_t *dag, const char *group_id);
/* Airflow's operator class name for the API: "BashOperator", "EmptyOperator". */
const char *dag_operator_name(dag_operator_t op);

/* Dynamic task mapping: the fields a task's expand may name besides operator arguments. */
bool dag_expandable_field(dag_operator_t op, const char *name);

/*
 * A run's effective conf, as Airflow 2 resolves params with
 * core.dag_run_conf_overrides_params: every param's default, overridden key
 * by key (shallow) by conf; keys of conf that are not params are kept.
 * params: a DAG's params (dag_t.params or the serialized "params"), NULL
 * for none; conf: a JSON object or NULL. Each param must then have a value
 * (a param without default is required) that satisfies its schema's "type"
 * (a JSON Schema type name or a list of them) and "enum", the checks
 * Airflow's Param makes most often; other schema keywords are not checked.
 * Returns 0 with *out a new object (caller cJSON_Delete()s), or -1 with err
 * filled (a message for the user) and *out NULL.
 */
int dag_params_resolve(const cJSON *params, const cJSON *conf, cJSON **out, char *err,
                       size_t errlen);

/* Serialized form (cJSON tree, caller cJSON_Delete()s); NULL on OOM. */
/*
 * True for a user name run_as_user accepts: 1 to DAG_USER_NAME_MAX of
 * [A-Za-z0-9._-], not starting with '-' (what useradd allows; never an
 * option or a uid in its place).
 */
#define DAG_USER_NAME_MAX 64
bool dag_user_name_valid(const char *name);

/* The weight_rule name ("downstream", ...) of r. */
const char *dag_weight_rule_name(dag_weight_rule_t r);
/* Parses a weight_rule name; -1 when unknown. */
int dag_weight_rule_parse(const char *name, dag_weight_rule_t *out);

/*
 * Sets every task's priority_weight_total from priority_weight and
 * weight_rule as Airflow does: downstream sums the task's own weight and
 * the weights of every task reachable downstream (each once), upstream the
 * same upstream, absolute is the own weight; clamped to the int range.
 * Needs upstream and downstream lists. Returns 0, or -1 on OOM.
 */
int dag_compute_priorities(dag_t *dag);

cJSON *dag_to_json(const dag_t *dag);
/* Reads the serialized form back. NULL with err filled if it is malformed. */
dag_t *dag_from_json(const cJSON *json, char *err, size_t errlen);

/*
 * Appends one alert in its serialized form, {"conn_id", "kind", "text"?,
 * "channel"?} (text and channel may be NULL), to the JSON array arr: what
 * a task's or DAG's "alerts" lists hold. false when out of memory.
 */
bool dag_alert_append(cJSON *arr, const char *conn_id, const char *kind, const char *text,
                      const char *channel);

#endif
