/*
 * ops_int.h - pure helpers of the operator bodies (worker/op_http.c,
 * worker/op_sql.c) that the bodies use inside themselves, declared here
 * so that tests/unit/test_ops.c can check them directly. Not an API for
 * the rest of the worker.
 */
#ifndef UPDRAFT_WORKER_OPS_INT_H
#define UPDRAFT_WORKER_OPS_INT_H

#include <libpq-fe.h>

#include <cjson/cJSON.h>

#include "core/strbuf.h"

/* ---- op_http.c ------------------------------------------------------------ */

/* An object as key=value&... into b (a list value repeats its key). Returns the pair count. */
int op_http_form_encode(strbuf_t *b, const cJSON *obj);

/* The URL without "user:password@" and without its query string, for the log (malloc'd; NULL on
 * OOM). */
char *op_http_shown_url(const char *url);

/* ---- op_sql.c ------------------------------------------------------------- */

/* Type OIDs of pg_type (server headers are not a client dependency). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_JSON 114
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700
#define OID_JSONB 3802

/* Parameters converted for one statement. */
typedef struct op_sql_params {
    int n;
    char **values; /* n, NULL = SQL NULL */
    Oid *types;    /* n */
} op_sql_params_t;

void op_sql_params_free(op_sql_params_t *p);

/* The statements of sql split on ';' outside quotes and comments, into list. -1 on OOM. */
int op_sql_split(const char *sql, cJSON *list);

/*
 * Rewrites psycopg2 placeholders in sql to $n and converts the values.
 * params: a non-empty list (%s) or mapping (%(name)s). 0, or -1 with err.
 */
int op_sql_bind(const char *sql, const cJSON *params, char **out, op_sql_params_t *p, char *err,
                size_t errlen);

#endif
