/*
 * op_util.h - small helpers shared by the operator bodies (op_http.c,
 * op_sql.c, op_sensors.c): reading arguments, context and connection
 * fields out of the runner's JSON, writing log lines, and turning values
 * into text.
 */
#ifndef UPDRAFT_WORKER_OP_UTIL_H
#define UPDRAFT_WORKER_OP_UTIL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/strbuf.h"
#include "worker/ops.h"

/* Bytes of a value's text shown in a log line before it is cut. */
#define OPU_LOG_SNIPPET 4096
/* Response bodies and query results are read up to max(max_xcom_size, this). */
#define OPU_MIN_READ_LIMIT ((size_t)1024 * 1024)

/*
 * One log line in the task log, formatted as the worker's own lines:
 * "[<time>] {<who>} <LEVEL> - <message>".
 */
void opu_log(const ops_ctx_t *c, const char *who, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An argument, NULL when absent or JSON null. */
const cJSON *opu_arg(const ops_ctx_t *c, const char *name);

/* A string argument, or def when absent or not a string. */
const char *opu_arg_str(const ops_ctx_t *c, const char *name, const char *def);

/* A connection id argument: def when absent or empty (as the spec writer reads it). */
const char *opu_arg_conn_id(const ops_ctx_t *c, const char *name, const char *def);

/* A boolean argument (true/false, or a number, or "true"/"false" text), or def. */
bool opu_json_bool(const cJSON *v, bool def);

bool opu_arg_bool(const ops_ctx_t *c, const char *name, bool def);

/* A number of seconds (a JSON number or a digit string), or def. */
double opu_json_seconds(const cJSON *v, double def);

/* A context field as a string, NULL when absent or not a string. */
const char *opu_ctx_str(const ops_ctx_t *c, const char *name);

/*
 * A JSON number as Python's str() writes it: integers without a fraction,
 * others in the shortest form that reads back the same. buf >= 32 bytes.
 */
const char *opu_num_text(double d, char *buf, size_t len);

/*
 * A copy of s[0..n) that is valid UTF-8 without NUL (invalid sequences and
 * NUL become U+FFFD), as text decoded with errors="replace". NULL on OOM.
 */
char *opu_utf8_clean(const char *s, size_t n);

/* A list of strings as Python prints it: ['a', 'b']. */
void opu_buf_pylist(strbuf_t *b, const cJSON *list);

/*
 * A JSON value as a Postgres array literal ({"a","b",NULL,1,true}), lists
 * nesting; other values as their text. Appended to b.
 */
void opu_buf_pgarray(strbuf_t *b, const cJSON *v);

#endif
