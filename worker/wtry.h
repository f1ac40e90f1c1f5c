/*
 * wtry.h - one claimed task try, as the claim returned it: identity, the
 * queue delivery to acknowledge when it is over, and the task's spec read
 * from the serialized DAG (proto/PROTOCOL.md "Serialized DAG").
 *
 * A try whose spec cannot be used (missing, malformed, unknown operator) is
 * still a claimed try: the worker fails it with spec_error in its log.
 */
#ifndef UPDRAFT_WORKER_WTRY_H
#define UPDRAFT_WORKER_WTRY_H

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/db.h"
#include "model/operator.h"
#include "core/queue.h"
#include "model/taskenv.h"
#include "core/timeutil.h"
#include "store/dagver.h"
#include "store/ti.h"

#define WTRY_SPEC_MAX (4 << 20) /* a task spec larger than this is refused */

typedef enum wtry_kind {
    WTRY_BASH = 0, /* bash -c bash_command (bash, and branch/short_circuit written in bash) */
    WTRY_EMPTY,    /* nothing to run (empty; latest_only, which the planner settles) */
    WTRY_RUNNER,   /* the operator runner (worker/ops.h): every other operator */
    WTRY_INVALID   /* spec_error says why */
} wtry_kind_t;

typedef struct wtry {
    struct wtry *next;         /* hand-off list link */
    queue_delivery_t delivery; /* acknowledged after the outcome commits */

    int64_t ti_id;
    int32_t try_number;
    int max_tries;
    int map_index;
    int64_t dag_run_id;
    ts_us_t logical_date;                           /* TS_NONE if unknown */
    ts_us_t data_interval_start, data_interval_end; /* TS_NONE if unknown */
    char *dag_id, *run_id, *task_id;

    wtry_kind_t kind;
    dag_operator_t op; /* the task's operator (model/operator.h) */
    char *spec_error;  /* WTRY_INVALID: what is wrong */
    char *bash_command;
    char *cwd; /* NULL: a fresh temp dir */
    bool has_env, append_env;
    bool do_xcom_push;  /* the last non-empty output line becomes return_value */
    taskenv_var_t *env; /* names/values owned by the try */
    size_t n_env;
    char *owner;
    char *run_as_user; /* the user the task runs as (worker/runas.h), NULL = the default */
    int retry_delay_sec;
    bool retry_exponential_backoff;
    int max_retry_delay_sec;   /* 0 = none */
    int skip_on_exit_code[16]; /* exit codes that end the try as skipped */
    size_t n_skip_on_exit_code;
    char *conf_json;           /* the run's conf (dag_run.conf), NULL if none */
    int execution_timeout_sec; /* 0 = none */
    bool has_downstream;       /* the spec lists downstream tasks: plan the run when it ends */
    cJSON *args;               /* operator arguments (an object, owned), NULL = none */
    cJSON *expand;             /* dynamic task mapping (owned), NULL = not mapped */
    cJSON *var_args;           /* variables_as_arguments (an array, owned), NULL = none */
    cJSON *downstream;         /* downstream_task_ids (an array, owned), NULL = none */
    ts_us_t first_poke_at;     /* sensors in reschedule mode: the try's first poke, TS_NONE */
    int poke_count;            /* pokes this try made before (reschedule mode) */
    ts_us_t start_date;        /* the claim's start_date (this poke's start), TS_NONE if unknown */
    ts_us_t queued_at;         /* the try's queued_dttm, TS_NONE if unknown */
} wtry_t;

/* The ids of a try on every log line about it, named as the task_instance
 * columns are, so that a log pipeline can join the lines of one try:
 * log_warn("... " WTRY_LOG_FMT " more=%d", WTRY_LOG_ARGS(t), more). */
#define WTRY_LOG_FMT "ti=%" PRId64 " try_number=%d dag_id=%s run_id=%s task_id=%s map_index=%d"
#define WTRY_LOG_ARGS(t)                                                                           \
    (t)->ti_id, (int)(t)->try_number, wtry_log_str((t)->dag_id), wtry_log_str((t)->run_id),        \
        wtry_log_str((t)->task_id), (t)->map_index

/* s, or "-" when there is none (an id that is not known yet). */
static inline const char *wtry_log_str(const char *s)
{
    return s && s[0] ? s : "-";
}

/* The claim's columns, as wtry_from_row reads them (store/ti.h). */
#define WTRY_COLUMNS TI_CLAIM_COLUMNS
#define WTRY_COL_SPEC TI_CLAIM_COL_SPEC
#define WTRY_COL_VERSION TI_CLAIM_COL_VERSION
#define WTRY_COL_CONF TI_CLAIM_COL_CONF
#define WTRY_COL_INTERVAL_START TI_CLAIM_COL_INTERVAL_START
#define WTRY_COL_INTERVAL_END TI_CLAIM_COL_INTERVAL_END
#define WTRY_COL_FIRST_POKE TI_CLAIM_COL_FIRST_POKE
#define WTRY_COL_POKE_COUNT TI_CLAIM_COL_POKE_COUNT
#define WTRY_COL_START_DATE TI_CLAIM_COL_START_DATE
#define WTRY_COL_QUEUED_AT TI_CLAIM_COL_QUEUED_AT
#define WTRY_CONF_MAX (64 * 1024) /* a larger conf is not handed to the task */

/*
 * The text of an env value in a task spec: a string as it is, a number as
 * %.17g (in num), a boolean as Python's str() ("True"/"False"); NULL for
 * anything else.
 */
#define WTRY_ENV_NUM_LEN 64
const char *wtry_env_text(const cJSON *v, char num[WTRY_ENV_NUM_LEN]);

/* Whether exit code code ends t's try as skipped (skip_on_exit_code). */
bool wtry_skip_code(const wtry_t *t, int code);

/*
 * Seconds until t's next try after this one failed: retry_delay, or with
 * retry_exponential_backoff Airflow 2's formula (planner_retry_delay_sec).
 */
long long wtry_retry_delay(const wtry_t *t);
#define WTRY_SPECS_MAX 64 /* cached versions a claim names at most */

/*
 * Task specs come from the thread's DAG version cache (store/dagver.h):
 * the claim returns no spec for a version the cache holds, since reading
 * one task's spec out of dag_version.data costs the whole document per
 * row, which for a DAG of 1,000 tasks is most of the claim's time.
 *
 * Best effort, outside any transaction that must not fail: loads the
 * versions of the claim result r whose rows came back with a spec (not
 * cached yet) and marks the others used. A failure only means later
 * claims keep returning specs.
 */
void wtry_specs_fill(dagver_cache_t *versions, db_t *db, const PGresult *r);

/*
 * Builds a try from one claim row, its spec from the row or, when the
 * row has none, from versions. Spec problems do not fail the call (the try
 * becomes WTRY_INVALID); returns NULL only on out of memory.
 */
wtry_t *wtry_from_row(const PGresult *r, int row, const queue_delivery_t *d,
                      const dagver_cache_t *versions);
void wtry_free(wtry_t *t);

/*
 * The claim of proto/PROTOCOL.md for n (id, try) pairs in one statement
 * (ti_claim of store/ti.h, with the versions cached in versions as the
 * cached ones), returning WTRY_COLUMNS columns per claimed row (versions: may be NULL).
 * direct: the worker's mini-scheduler claims inside its outcome
 * transaction, so start_date is the claim's own time (clock_timestamp())
 * rather than the transaction's start. NULL on a database error.
 */
PGresult *wtry_claim(db_t *db, const dagver_cache_t *versions, bool direct, const char *hostname,
                     int pid, int64_t job_id, const int64_t *ids, const int *tries, size_t n);

/* Context for the task environment; strings borrowed from t. */
void wtry_env_ctx(const wtry_t *t, taskenv_ctx_t *ctx);

#endif
