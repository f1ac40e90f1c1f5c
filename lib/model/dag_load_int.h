/*
 * dag_load_int.h - private to the dag-factory YAML loader (lib/model/dag_load*.c).
 *
 * The loader is one job cut into files: the YAML tree (dag_load_tree.c),
 * scalar reading and merging (dag_load_scalar.c), task keys
 * (dag_load_task.c), operator arguments (dag_load_args.c), alerts and
 * callbacks (dag_load_alert.c), task groups (dag_load_group.c), params
 * (dag_load_params.c), dependency linking (dag_load_link.c), and the
 * file and DAG parse (dag_load.c). This header holds what they share: the
 * node tree, the load context, the diagnostics macros and the helpers one
 * file calls in another. Nothing outside lib/model/dag_load*.c includes
 * it; model/dag.h is the public API.
 */
#ifndef UPDRAFT_DAG_LOAD_INT_H
#define UPDRAFT_DAG_LOAD_INT_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/timeutil.h"
#include "model/dag.h"
#include "model/operator.h"

#define MAX_DIAGS 500       /* per file; then one "too many problems" */
#define WORK_BUDGET 1000000 /* keys copied by merges, per file */
#define NEST_MAX 64         /* collections inside collections; real DAG files need ~6 */
#define EXPANDED_MAX (2 * DAG_FILE_MAX)
/* Bytes a load may expand to: the text with every alias written out, plus
 * the strings read out of it into DAGs (defaults copied into each task
 * count once per task). Bounds what an aliased or defaulted string costs. */
#define LOAD_BYTES_MAX (16 * DAG_FILE_MAX)

/* ------------------------------------------------------------------ */
/* string -> pointer hash map (anchors, duplicate keys, task ids)     */

typedef struct smap_slot {
    const char *key;
    size_t len;
    void *val;
} smap_slot_t;

typedef struct smap {
    smap_slot_t *slots;
    size_t cap, n;
} smap_t;
/* ------------------------------------------------------------------ */
/* the document tree                                                  */

typedef enum ykind { Y_SCALAR, Y_SEQ, Y_MAP } ykind_t;

typedef struct ynode ynode_t;
struct ynode {
    ykind_t kind;
    const char *file; /* for diagnostics */
    int line, col;    /* 1-based */
    char *str;        /* scalar text, NUL-terminated */
    size_t len;
    bool plain;     /* untagged plain scalar: YAML 1.1 implicit types apply */
    bool open;      /* collection still being built */
    ynode_t **kids; /* seq: items; map: key0, val0, key1, val1, ... */
    size_t n, cap;  /* entries in kids */
    ynode_t **dups; /* map: keys that a later duplicate replaced */
    size_t n_dups;
    size_t esize; /* bytes of scalar text under it, aliases written out */
};

#define MAP_PAIRS(m) ((m)->n / 2)
#define MAP_KEY(m, i) ((m)->kids[2 * (i)])
#define MAP_VAL(m, i) ((m)->kids[2 * (i) + 1])

typedef struct ctx {
    const char *name; /* the DAG file, for fileloc and diagnostics */
    dag_diags_t *diags;
    size_t errors;      /* distinct errors added by this load */
    size_t errors_seen; /* every error reported, repeats included */
    size_t n_diags;
    smap_t seen_diags; /* dedupe: the same node reported by several DAGs */
    char **diag_keys;  /* owned keys of seen_diags */
    size_t n_diag_keys, cap_diag_keys;
    ynode_t **nodes; /* every node, for freeing */
    size_t n_nodes, cap_nodes;
    size_t work;
    size_t bytes; /* spent of LOAD_BYTES_MAX (dl_spend_bytes) */
    bool oom, too_complex, too_big;
    const char *env_allowlist;  /* what $NAME may read (core.dag_env_allowlist), NULL = nothing */
    const char *defaults_scope; /* messages about default_args other than the DAG's */
    const char *root; /* the DAGs folder (dag_load_file's root), NULL = the file's folder */
    bool on_disk;     /* name is a file (doc_md_file_path may be read relative to it) */
} ctx_t;
#define ERR(c, at, ...) dl_diag_at((c), (at), false, __VA_ARGS__)
#define WARN(c, at, ...) dl_diag_at((c), (at), true, __VA_ARGS__)
/* ------------------------------------------------------------------ */
/* keys                                                                */

/* clang-format off */
typedef enum key_id {
    K_UNKNOWN = 0,
    /* DAG level */
    K_DESCRIPTION, K_SCHEDULE, K_SCHEDULE_INTERVAL, K_START_DATE, K_END_DATE, K_CATCHUP,
    K_TAGS, K_MAX_ACTIVE_RUNS, K_MAX_ACTIVE_TASKS, K_CONCURRENCY, K_PAUSED, K_DEFAULT_ARGS,
    K_TASKS, K_TASK_GROUPS, K_TIMEZONE, K_PARAMS, K_DAGRUN_TIMEOUT, K_DAGRUN_TIMEOUT_SEC,
    K_MAX_CONSEC_FAILED, K_DAG_IGNORED, K_DAG_ON_FAILURE, K_DAG_ON_SUCCESS, K_DAG_SLA_MISS,
    K_DOC_MD, K_DOC_MD_FILE,
    /* task level */
    K_TASK_ID, K_OPERATOR, K_DECORATOR, K_BASH_COMMAND, K_ENV, K_APPEND_ENV, K_CWD,
    K_DEPENDENCIES, K_OWNER, K_RUN_AS_USER, K_RETRIES, K_RETRY_DELAY_SEC, K_RETRY_DELAY, K_QUEUE, K_POOL,
    K_POOL_SLOTS, K_PRIORITY_WEIGHT, K_TRIGGER_RULE, K_EXEC_TIMEOUT_SEC, K_EXEC_TIMEOUT,
    K_TASK_GROUP_NAME, K_DEPENDS_ON_PAST, K_WAIT_FOR_DOWNSTREAM, K_RETRY_EXP_BACKOFF,
    K_MAX_RETRY_DELAY, K_MAX_RETRY_DELAY_SEC, K_SKIP_ON_EXIT_CODE, K_WEIGHT_RULE,
    K_MAX_TIS_PER_DAG, K_MAX_TIS_PER_DAGRUN, K_DO_XCOM_PUSH, K_VAR_ARGS, K_EXPAND, K_PARTIAL, K_ON_FAILURE, K_ON_RETRY, K_ON_SUCCESS, K_SLA, K_TASK_IGNORED
} key_id_t;
/* clang-format on */

typedef struct key_def {
    const char *name;
    key_id_t id;
} key_def_t;
typedef struct task_src {
    const ynode_t *at;   /* position for task-level messages */
    const ynode_t *deps; /* dependencies node (may be NULL) */
    const char *name;    /* task id as written (dependencies use it) */
    int group;           /* loader's task group index, -1 = none */
    bool ok;
} task_src_t;

/* The dates of one level (the DAG's keys or its default_args) and the
 * zone their wall-clock values are read in (dag-factory's `timezone`). */
typedef struct date_zone {
    const ynode_t *start, *end; /* the date nodes, NULL when absent */
    const char *tz_name;        /* NULL = UTC */
    const ynode_t *tz_node;
} date_zone_t;

#define GROUPS_MAX 1000 /* task groups per DAG */

/* One task group while a DAG loads. */
typedef struct lgroup {
    const char *name;    /* as written; dependencies use it */
    const ynode_t *at;   /* its name node */
    const ynode_t *cfg;  /* its mapping */
    const ynode_t *deps; /* dependencies node (may be NULL) */
    const ynode_t *da;   /* default_args node (may be NULL) */
    int parent;          /* index, -1 = top level */
    int depth;           /* 0 = top level */
    char *id;            /* full group id */
    bool prefix;         /* prefix_group_id */
    char *tooltip;
    dag_task_t tpl; /* defaults of its tasks */
} lgroup_t;

typedef struct groups {
    lgroup_t *g;
    size_t n;
    size_t *order; /* pre-order: parents first, siblings as declared */
    smap_t by_name, by_id;
} groups_t;

/* ------------------------------------------------------------------ */
/* helpers one loader file calls in another, by the file that defines them */

/* dag_load_alert.c */

/*
 * A callback or alert key (on_failure_callback, on_failure_alert, ...),
 * one or a list, into (*alerts)[event], replacing what default_args set.
 */
bool dl_parse_alerts(ctx_t *c, const ynode_t *k, const ynode_t *v, const char *event,
                     cJSON **alerts, const char *owner);

/* dag_load_args.c */

/* The first operator that takes argument name (default_args carry arguments for any). */
const operator_arg_t *dl_any_operator_arg(const char *name, dag_operator_t *op);

/* Reads one operator argument by its type into *out (a new JSON value). */
bool dl_read_arg(ctx_t *c, const operator_arg_t *a, const ynode_t *v, const char *what,
                 cJSON **out);

/* Sets args[name] = val (taking val); false on OOM. */
bool dl_args_set(ctx_t *c, cJSON **args, const char *name, cJSON *val);

/*
 * expand: {field: [values...] | "<task>.output"}. Literal lists are kept
 * as arrays; an XCom reference becomes {"xcom_task": name as written}
 * (resolve_expand makes it the full task id once every task is known).
 */
bool dl_parse_expand(ctx_t *c, const ynode_t *v, dag_task_t *t, const char *tid, dag_operator_t op);

/*
 * Makes expand's XCom references full task ids (before link_tasks
 * reorders the tasks, while tasks[i] is srcs[i]).
 */
bool dl_resolve_expand(ctx_t *c, dag_t *dag, const task_src_t *srcs);

/* After link_tasks: a task expanding over another's output must depend on it. */
bool dl_check_expand_upstream(ctx_t *c, const dag_t *dag);

/* dag_load_group.c */

void dl_groups_free(groups_t *gs);

/* Whether group inner is outer or nested in it (inner -1: never). */
bool dl_group_contains(const groups_t *gs, int outer, int inner);

int dl_group_index(const groups_t *gs, const char *name);

/*
 * Reads a DAG's task_groups (dag-factory's list or mapping form) into gs:
 * names, parents (no cycles, at most DAG_GROUP_DEPTH_MAX deep), full ids
 * as Airflow builds them, and each group's task defaults (dag's
 * default_args, then each enclosing group's, innermost last). false after
 * reporting.
 */
bool dl_parse_groups(ctx_t *c, const ynode_t *v, const char *dag_id, const dag_task_t *dtpl,
                     groups_t *gs);

/*
 * The group a task mapping names with task_group_name: its index, -1 for
 * none, -2 after reporting a problem.
 */
int dl_task_group_of(ctx_t *c, const ynode_t *m, const char *tid, const groups_t *gs);

/* Copies the loader's groups into the DAG, in pre-order. */
bool dl_groups_to_dag(ctx_t *c, const groups_t *gs, dag_t *dag);

/*
 * Sets a task's id: its name, prefixed with its group's id when the group
 * prefixes its children (Airflow's TaskGroup.child_id). Returns 0, 1 after
 * reporting a clash (the id is set all the same), or -1 on OOM.
 */
int dl_set_task_id(ctx_t *c, dag_task_t *t, const char *tid, const ynode_t *idn, const lgroup_t *g,
                   const groups_t *gs, smap_t *fids, const char *dag_id);

/* dag_load_link.c */

/*
 * Resolves dependencies (task names as written and task group names) into
 * edges between tasks, sorts the tasks and fills upstream and downstream.
 * tasks[] is reordered in place. false after reporting.
 */
bool dl_link_tasks(ctx_t *c, dag_t *dag, task_src_t *srcs, const groups_t *gs);

/* dag_load_params.c */

/*
 * A YAML node as JSON with YAML 1.1's implicit scalar types, as PyYAML
 * gives them to Airflow: null, booleans, integers, floats (a '.' is
 * needed, and a signed exponent), everything else a string. NULL with an
 * error reported.
 */
cJSON *dl_node_to_json(ctx_t *c, const ynode_t *n, int depth);

/* DAG-level params: a mapping of name to value or Param. */
bool dl_parse_params(ctx_t *c, const ynode_t *v, dag_t *dag);

/* dag_load_scalar.c */

bool dl_is_null(const ynode_t *n);

const char *dl_kind_name(const ynode_t *n);

/* A string value (any scalar but null, no NUL bytes). */
bool dl_get_str(ctx_t *c, const ynode_t *n, const char *what, const char **out);

/* A doc_md value (a string of DAG_DOC_MAX bytes at most, or null) into *dst. false after reporting.
 */
bool dl_get_doc(ctx_t *c, const ynode_t *n, const char *what, char **dst);

bool dl_parse_bool(const ynode_t *n, bool *out);

bool dl_get_bool(ctx_t *c, const ynode_t *n, const char *what, bool *out);

/* YAML 1.1 integers: [-+]digits (with _), 0x.., 0b.., 0 octal. */
bool dl_parse_int(const ynode_t *n, long long *out);

bool dl_get_int(ctx_t *c, const ynode_t *n, const char *what, int min, int *out);

/*
 * A duration in seconds: an integer (0.x *_sec keys, or Airflow's number
 * of seconds) or a {__type__: datetime.timedelta, days:, hours:, ...}.
 */
bool dl_get_seconds(ctx_t *c, const ynode_t *n, const char *what, int *out);

bool dl_get_date(ctx_t *c, const ynode_t *n, const char *what, ts_us_t *out);

bool dl_get_id(ctx_t *c, const ynode_t *n, const char *what, const char **out);

bool dl_set_str(ctx_t *c, char **dst, const char *src);

/*
 * {**base, **over}: base's keys in order (over's value where both have
 * one), then over's other keys. Either may be NULL. NULL on failure.
 */
ynode_t *dl_merge_shallow(ctx_t *c, const ynode_t *base, const ynode_t *over, const ynode_t *pos);

/*
 * dag-factory's merge_configs: keys missing in config come from dflt;
 * where both values are mappings they merge recursively; otherwise the
 * config's value wins whole. Recursion depth is bounded by the nesting of
 * dflt, which is bounded by the budget.
 */
ynode_t *dl_merge_configs(ctx_t *c, const ynode_t *config, const ynode_t *dflt, int depth);

key_id_t dl_key_lookup(const key_def_t *defs, const ynode_t *k);

/* A key's text for messages (clipped). */
const char *dl_key_text(const ynode_t *k);

/* Reports duplicate keys of a mapping as warnings (PyYAML keeps the last). */
void dl_warn_dups(ctx_t *c, const ynode_t *m);

/* dag_load_task.c */

extern const key_def_t dl_task_keys[];

bool dl_task_apply_key(ctx_t *c, key_id_t id, const ynode_t *k, const ynode_t *v, dag_task_t *t,
                       const char *tid, bool from_defaults, bool *has_op);

/* default_args may carry any operator's arguments; a task keeps those its operator takes. */
bool dl_default_arg(ctx_t *c, const ynode_t *k, const ynode_t *v, dag_task_t *tpl,
                    const char *scope);

/* default_args: task defaults plus the DAG's start/end date and owner. */
bool dl_parse_default_args(ctx_t *c, const ynode_t *da, const char *dag_id, dag_task_t *tpl,
                           ts_us_t *start, ts_us_t *end, date_zone_t *dz);

/*
 * Copies a task template (defaults) into dst, counting its bytes against
 * LOAD_BYTES_MAX at node at (what the copy is for). false after reporting
 * or on OOM; dst holds what was copied.
 */
bool dl_task_copy(ctx_t *c, const dag_task_t *src, dag_task_t *dst, const ynode_t *at);

/* Parses one task mapping into t (already holding the defaults). */
bool dl_parse_task(ctx_t *c, const ynode_t *m, const char *tid, const ynode_t *at, dag_task_t *t,
                   task_src_t *src);

/* dag_load_tree.c */

void *dl_smap_get(const smap_t *m, const char *key, size_t len);

/* Inserts or replaces; the key is borrowed. 0, or -1 on OOM. */
int dl_smap_put(smap_t *m, const char *key, size_t len, void *val);

void dl_smap_free(smap_t *m);

/* Reports a problem (or a warning) at a node's position; repeats are kept once. */
void dl_diag_at(ctx_t *c, const ynode_t *at, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void dl_diag_pos(ctx_t *c, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

ynode_t *dl_node_new(ctx_t *c, ykind_t kind, const char *file, int line, int col);

void dl_ctx_free(ctx_t *c);

bool dl_spend(ctx_t *c, size_t steps);

/*
 * Counts n bytes against LOAD_BYTES_MAX; past it, reports once at the
 * given place (or node) that the document is too large once expanded,
 * and stops the load as dl_spend does. false when over.
 */
bool dl_spend_bytes_pos(ctx_t *c, const char *file, int line, int col, size_t n);
bool dl_spend_bytes(ctx_t *c, const ynode_t *at, size_t n);

bool dl_is_scalar(const ynode_t *n);

bool dl_key_is(const ynode_t *k, const char *s);

/* Index of key in map m, or -1. Linear: used on small mappings only. */
ynode_t *dl_map_get(const ynode_t *m, const char *key);

/* A key for duplicate detection; non-scalar keys never compare equal. */
bool dl_pair_key(const ynode_t *k, const char **s, size_t *len);

/* Expands and parses one file's text. 0, or -1 (reported). */
int dl_parse_text(ctx_t *c, const char *file, const char *text, size_t len, ynode_t **root);

#endif /* UPDRAFT_DAG_LOAD_INT_H */
