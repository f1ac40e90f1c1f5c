/*
 * template.h - Jinja-compatible rendering of task fields, executing nothing.
 *
 * The worker renders `bash_command`, `env` values and operator fields just
 * before a try runs. A template is text with
 *   {{ expr }}            an expression, written out as Jinja/Python would
 *   {# ... #}             a comment
 *   {% raw %}..{% endraw %}  text taken literally
 * and Jinja's whitespace control ({{- strips whitespace before the tag,
 * -}} after it; the same for {#- -#} and {%- -%}). Any other {% %}
 * statement (if, for, set, macro, ...) is an error: templates run nothing.
 *
 * Expressions (the grammar is in docs/dag-format.md, "Templating"):
 *   names   ds ds_nodash ts ts_nodash ts_nodash_with_tz logical_date
 *           execution_date data_interval_start data_interval_end
 *           prev_data_interval_start_success prev_data_interval_end_success
 *           run_id params.NAME dag.dag_id task.task_id dag_run.{run_id,
 *           dag_id,conf,logical_date} ti.{try_number,task_id,dag_id,run_id,
 *           map_index} (task_instance is ti) var.value.NAME var.json.NAME.key
 *           var.value.get(NAME[, default]) var.json.get(NAME[, default])
 *           conn.ID.{host,port,login,password,schema,conn_type,conn_id,extra,
 *           extra_dejson.key}
 *   calls   macros.ds_add(ds, days) macros.ds_format(ds, in_fmt, out_fmt)
 *           ti.xcom_pull(task_ids, dag_id=None, key='return_value',
 *           include_prior_dates=False, default=None)  (positional or
 *           keyword arguments as in Airflow), and on dates .strftime(fmt),
 *           .isoformat(), .year .month .day .hour .minute .second .microsecond
 *   data    .key and ['key'] / [index] into params, dag_run.conf, var.json
 *           values, extra_dejson and pulled XComs
 *   literals 'single' "double" (Python escapes), integers, -N, None, True,
 *           False (Jinja's lower-case forms too)
 *   filters x | default(v='', boolean=False) (alias d), upper, lower,
 *           trim(chars=None), replace(old, new, count=None), tojson,
 *           int(default=0, base=10); chained left to right
 *   concat  a ~ b
 * Values are written as Jinja prints Python objects: None, True/False,
 * dates as isoformat() (2024-01-01T00:00:00+00:00), JSON lists and objects
 * as Python's repr; tojson writes JSON as Jinja does (sorted keys, <>&'
 * escaped).
 *
 * Undefined: as Airflow's StrictUndefined, a name, attribute or key that
 * does not exist is an error when it is printed, called, filtered (except
 * by default) or passed on: "line 1, column 12: 'ds_nodsh' is undefined".
 * Every error message starts with the 1-based line and byte column of the
 * place it is about.
 *
 * Limits: the input is refused above ctx->max_input bytes before anything
 * is allocated; the output and every intermediate string are limited to
 * ctx->max_output bytes; the total work (bytes produced by filters and
 * calls) to TEMPLATE_WORK_FACTOR times max_output; nesting of brackets and
 * calls to TEMPLATE_MAX_DEPTH; distinct variable / connection / XCom
 * lookups to TEMPLATE_MAX_LOOKUPS per render (each is looked up once per
 * render and cached).
 *
 * Secrets: values that come from connection passwords and extras, from
 * variables the lookup marks secret, and from variables or JSON keys whose
 * name looks sensitive (Airflow's rule: contains password, secret, token,
 * api_key, ...) are collected in template_result_t.secrets, as fetched and
 * as printed, so the caller can mask them in logs (at most
 * TEMPLATE_MAX_SECRETS distinct values; more fail the render). JSON keys
 * count at any depth of var.json values, extra_dejson, params and
 * dag_run.conf: when such a document (or a part of it) is printed whole,
 * by repr or tojson, every string under a sensitive key
 * (model/sensitive.h) is collected as it is and as both forms escape it.
 *
 * Thread safety: template_render keeps no state between calls; callbacks
 * are called from the calling thread.
 */
#ifndef UPDRAFT_TEMPLATE_H
#define UPDRAFT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/timeutil.h"

#define TEMPLATE_MAX_INPUT_DEFAULT ((size_t)1 << 20)  /* 1 MiB */
#define TEMPLATE_MAX_OUTPUT_DEFAULT ((size_t)1 << 20) /* 1 MiB */
#define TEMPLATE_WORK_FACTOR 16
#define TEMPLATE_MAX_DEPTH 32
#define TEMPLATE_MAX_LOOKUPS 256
#define TEMPLATE_MAX_SECRETS 1024

/*
 * A connection as conn_get returns it. Every string is malloc'd (the
 * engine frees it with free()) or NULL, which templates see as None;
 * port < 0 is None. extra is the connection's extra JSON text.
 */
typedef struct template_conn {
    char *conn_type;
    char *host;
    char *login;
    char *password;
    char *schema;
    char *extra;
    int port;
} template_conn_t;

/*
 * Lookups supplied by the caller. Each returns 1 when found (results
 * malloc'd, owned by the engine from then on), 0 when there is no such
 * thing (outputs untouched), or -1 with err filled (the render then fails
 * with that message, prefixed by the position).
 *
 * var_get: the variable's text; *secret true when it must be masked.
 * conn_get: the connection; the engine zeroes *conn first (port = -1).
 * xcom_get: the XCom's value as JSON text (text that is not JSON is taken
 *   as a string); dag_id NULL means the current DAG run's DAG; the lookup
 *   is for the current DAG run.
 */
typedef int (*template_var_fn)(void *ud, const char *name, char **value, bool *secret, char *err,
                               size_t errlen);
typedef int (*template_conn_fn)(void *ud, const char *conn_id, template_conn_t *conn, char *err,
                                size_t errlen);
typedef int (*template_xcom_fn)(void *ud, const char *dag_id, const char *task_id, const char *key,
                                char **json, char *err, size_t errlen);

/*
 * What a template can see. Strings are borrowed for the call; NULL strings
 * and NULL callbacks make the names that use them undefined. Times are UTC
 * microseconds; TS_NONE makes ds/ts/logical_date... undefined for
 * logical_date, and None for the others.
 */
typedef struct template_ctx {
    const char *dag_id;
    const char *task_id;
    const char *task_type; /* Airflow's class name ("BashOperator"): str(task); NULL = unknown */
    const char *run_id;
    int try_number;
    int map_index; /* -1 when not mapped, as Airflow */
    ts_us_t logical_date;
    ts_us_t data_interval_start;
    ts_us_t data_interval_end;
    ts_us_t prev_data_interval_start_success;
    ts_us_t prev_data_interval_end_success;
    const char *params_json; /* JSON object: params (defaults overridden by conf); NULL = {} */
    const char *conf_json;   /* JSON object: dag_run.conf; NULL = {} */
    template_var_fn var_get;
    template_conn_fn conn_get;
    template_xcom_fn xcom_get;
    void *ud;          /* passed to the callbacks */
    size_t max_input;  /* 0: TEMPLATE_MAX_INPUT_DEFAULT */
    size_t max_output; /* 0: TEMPLATE_MAX_OUTPUT_DEFAULT */
} template_ctx_t;

/* Sets every field of ctx to "nothing": NULLs, TS_NONE, map_index -1, try_number 1. */
void template_ctx_init(template_ctx_t *ctx);

typedef struct template_result {
    char *text; /* NUL-terminated (the text may hold NULs from \0 escapes) */
    size_t len;
    char **secrets; /* distinct non-empty secret values seen, in order */
    size_t nsecrets;
} template_result_t;

/*
 * Renders src[0..len) with ctx. Returns 0 with *out filled (free with
 * template_result_free), or -1 with err filled ("line L, column C: ...")
 * and *out zeroed. src need not be NUL-terminated.
 */
int template_render(const char *src, size_t len, const template_ctx_t *ctx, template_result_t *out,
                    char *err, size_t errlen);

/* The same for a NUL-terminated string, returning only the malloc'd text. */
int template_render_string(const char *src, const template_ctx_t *ctx, char **out, char *err,
                           size_t errlen);

/* Frees what a result holds and zeroes it; NULL is a no-op. */
void template_result_free(template_result_t *r);

/* True when src holds "{{", "{%" or "{#", i.e. rendering may change it. */
bool template_has_markup(const char *src, size_t len);

/*
 * The standard date strings, formatted exactly as Airflow does:
 *   ds 2024-01-01, ds_nodash 20240101, ts 2024-01-01T00:00:00+00:00
 *   (".ffffff" before the offset when there are microseconds, as
 *   isoformat()), ts_nodash 20240101T000000, ts_nodash_with_tz
 *   20240101T000000+0000, and logical_date / data_interval_start / _end
 *   in the ts form. A TS_NONE interval bound gives "None".
 * Returns 0, or -1 when logical is TS_NONE or a time is outside the years
 * 1..9999 (out is then zeroed).
 */
#define TEMPLATE_DATE_LEN 40
typedef struct template_dates {
    char ds[TEMPLATE_DATE_LEN];
    char ds_nodash[TEMPLATE_DATE_LEN];
    char ts[TEMPLATE_DATE_LEN];
    char ts_nodash[TEMPLATE_DATE_LEN];
    char ts_nodash_with_tz[TEMPLATE_DATE_LEN];
    char logical_date[TEMPLATE_DATE_LEN];
    char data_interval_start[TEMPLATE_DATE_LEN];
    char data_interval_end[TEMPLATE_DATE_LEN];
} template_dates_t;
int template_dates_compute(ts_us_t logical, ts_us_t interval_start, ts_us_t interval_end,
                           template_dates_t *out);

#endif
