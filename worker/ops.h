/*
 * ops.h - the operator runner: what runs inside a task's child process for
 * the operators that are not a shell command (model/operator.h,
 * OPERATOR_RUNS_RUNNER).
 *
 * The worker starts its own binary as `updraft-worker --run-operator FILE`
 * in the task's process group, exactly where a bash task's bash would
 * be, so logs, secrets masking, execution_timeout and the fencing kill work
 * the same. FILE is a 0600 JSON document the runner reads and unlinks at
 * once (it may hold connection passwords):
 *
 *   {"operator": "http",              short name, operator_short_name()
 *    "args": {...},                   the task's arguments, templates rendered,
 *                                     a mapped instance's values applied
 *    "context": {"dag_id", "task_id", "run_id", "map_index", "try_number",
 *                "max_tries", "logical_date", "data_interval_start",
 *                "data_interval_end", "ds", "conf": {...},
 *                "first_poke_at": ISO or null, "poke_count": n,
 *                "start_date": ISO (this poke's start)},
 *    "connections": {"conn_id": {"conn_type", "host", "port", "login",
 *                    "password", "schema", "extra"}},  those args name
 *                   (port a number or null, extra the stored text or
 *                   null, plus "extra_dejson": the extra as an object
 *                   when it is one); a connection that does not exist is
 *                   absent
 *    "metadata_db": "postgresql://...", only for operators that read or
 *                   write updraft's own tables (external_task_sensor,
 *                   trigger_dag_run), else absent
 *    "metadata_db_pooled": true when metadata_db is a transaction pooler
 *                   (database.pooler), else absent
 *    "max_xcom_size": bytes,
 *    "do_xcom_push": false when the task turned return_value off,
 *    "downstream_task_ids": [...], the task's direct downstream tasks
 *                   (branch: what the callable may name),
 *    "result_file": path}  an empty 0600 file the worker reads after the
 *                   runner exits OPERATOR_EXIT_RESCHEDULE: the runner
 *                   writes {"reschedule_delay": seconds} there (the next
 *                   poke's delay); without it the worker waits the
 *                   sensor's poke_interval
 *
 * The runner writes its log to stdout (one line per event, for people),
 * pushes XComs into the JSON object file named by $UPDRAFT_XCOM_FILE
 * (ops_xcom_push), and ends with one of operator.h's exit codes.
 *
 * The op_* functions below are the operators' bodies. They never exit;
 * they return an exit code (run) or a poke verdict (poke) and write what
 * the user must read to log.
 */
#ifndef UPDRAFT_WORKER_OPS_H
#define UPDRAFT_WORKER_OPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ops_ctx {
    const cJSON *args;        /* object, never NULL */
    const cJSON *context;     /* object, never NULL */
    const cJSON *connections; /* object, never NULL */
    const char *metadata_db;  /* NULL when not given */
    bool metadata_db_pooled;  /* metadata_db is a transaction pooler */
    size_t max_xcom_size;
    FILE *log;            /* the task log (stdout) */
    bool no_return_value; /* do_xcom_push: false: ops_xcom_push drops return_value */
} ops_ctx_t;

/* A poke's verdict. */
typedef enum ops_poke {
    OPS_POKE_NOT_YET = 0, /* poke again later */
    OPS_POKE_DONE,        /* the condition holds: success */
    OPS_POKE_FAIL,        /* a definite failure (fails the try, retries apply) */
    OPS_POKE_SKIP         /* the watched thing reached a skipped_states state */
} ops_poke_t;

/*
 * Entry point of `updraft-worker --run-operator FILE` (worker/opexec.c).
 * Returns the process exit code.
 */
int ops_main(const char *spec_path);

/*
 * Adds key -> value (taken) to the XCom file named by $UPDRAFT_XCOM_FILE,
 * keeping what was pushed before. A value whose JSON is longer than
 * max_xcom_size is refused with a message in the log. return_value is
 * dropped (0 returned) when c->no_return_value. 0 or -1.
 */
int ops_xcom_push(const ops_ctx_t *c, const char *key, cJSON *value);

/* The connection conn_id from c->connections, NULL (and a log line) if missing. */
const cJSON *ops_connection(const ops_ctx_t *c, const char *conn_id);

/* worker/op_http.c: HttpOperator (exit code), HttpSensor (poke). */
int op_http_run(const ops_ctx_t *c);
ops_poke_t op_http_poke(const ops_ctx_t *c);

/* worker/op_sql.c: SQLExecuteQueryOperator (exit code), SqlSensor (poke). */
int op_sql_run(const ops_ctx_t *c);
ops_poke_t op_sql_poke(const ops_ctx_t *c);

/* worker/op_sensors.c: FileSensor, ExternalTaskSensor, TimeDeltaSensor, DateTimeSensor. */
ops_poke_t op_file_poke(const ops_ctx_t *c);
ops_poke_t op_external_task_poke(const ops_ctx_t *c);
ops_poke_t op_time_delta_poke(const ops_ctx_t *c);
ops_poke_t op_date_time_poke(const ops_ctx_t *c);

#endif
