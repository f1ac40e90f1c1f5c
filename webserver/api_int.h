/*
 * api_int.h - what the REST API's files share (internal to webserver/;
 * api.h is the public side).
 *
 *   api.c          the route table and the dispatcher (cache, database)
 *   apireq.c       the request: responses, error mapping, body members
 *   apiquery.c     the query builder: paging, ordering, filters, and the
 *                  column-descriptor tables turned into SELECT lists and
 *                  JSON rows
 *   api_<family>.c the handlers of one resource family
 *
 * A handler receives an api_req_t, sends exactly one response and returns
 * its HTTP status.
 */
#ifndef UPDRAFT_WEBSERVER_API_INT_H
#define UPDRAFT_WEBSERVER_API_INT_H

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/secrets.h"
#include "core/timeutil.h"
#include "store/users.h"
#include "webserver/api.h"
#include "webserver/httpq.h"
#include "webserver/jsonw.h"

#define API_PAGE_DEFAULT 100
#define API_PAGE_MAX 1000

/* ---- the request ------------------------------------------------------- */

typedef struct api_req {
    struct mg_connection *conn;
    const api_t *api;
    httpq_t q;
    const char *cap[4]; /* path captures ({} in the pattern), URL-decoded */
    size_t ncap;
    db_t *db;       /* NULL only for ROUTE_DB_OPTIONAL routes */
    bool cacheable; /* a 200 answer goes into the cache under key/gen */
    uint64_t gen;
    const char *key;
    size_t klen;
    principal_t who;     /* the caller (user_id 0: anonymous) */
    const char *address; /* the client's address (proxies.h: forwarded by a trusted proxy) */
    char address_buf[PROXIES_ADDR_MAX];
    /* What the event log records of a state change, when the path does
     * not say it (a new run's id from the body): NULL = from the path. */
    const char *ev_dag_id, *ev_run_id, *ev_task_id;
    char ev_buf[256]; /* room for one of them */
} api_req_t;

typedef int (*api_handler_fn)(api_req_t *r);

/* ---- responses (apireq.c); each returns the status it sent ------------- */

int api_bad_request(api_req_t *r, const char *detail);
int api_not_found(api_req_t *r, const char *title, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A statement failed: 503 if the connection is gone, else 500. */
int api_db_failed(api_req_t *r);
/*
 * Answers error code err (core/error.h) through http.c's table; a database
 * error goes through api_db_failed. title NULL: the table's.
 */
int api_fail(api_req_t *r, int err, const char *title, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends json (consumed; NULL answers 500 out of memory). */
int api_send_json(api_req_t *r, int status, cJSON *json);
/* Sends w's text as a 200 JSON answer, storing it when the route caches. */
int api_send_jsonw(api_req_t *r, const jsonw_t *w);
/* The same for a tree (consumed; NULL answers 500 out of memory). */
int api_send_tree(api_req_t *r, cJSON *json);
/* A 200 collection {"<member>": items, "total_entries": total} (items consumed). */
int api_send_items(api_req_t *r, const char *member, cJSON *items, long total);
/* 204 with an empty body (a deletion). */
int api_send_no_content(api_req_t *r);

/* ---- browser pages (page_login.c) --------------------------------------- */

int page_get_login(api_req_t *r);
int page_post_login(api_req_t *r);
int page_post_logout(api_req_t *r);
/* Sends an anonymous browser to the login page, back to this path after. */
int page_redirect_login(api_req_t *r);

/* ---- the web UI (ui.c) -------------------------------------------------- */

int page_get_root(api_req_t *r);      /* / -> /dags */
int page_get_ui(api_req_t *r);        /* every UI path: the UI's page */
int page_get_asset(api_req_t *r);     /* /assets/{name} */
int api_get_ui_me(api_req_t *r);      /* who is signed in and what they may do */
int api_get_ui_changes(api_req_t *r); /* waits for a change a live page shows */
int api_get_ui_jobs(api_req_t *r);    /* the schedulers and workers alive (api_ui_jobs.c) */

/* ---- request bodies (apireq.c) ------------------------------------------ */

/* The JSON object body, or NULL after answering the problem (*status set). */
cJSON *api_read_body(api_req_t *r, int *status);
/* A nullable string member; -1 when it has another type. */
int api_body_str(const cJSON *body, const char *key, const char **out);
/* A nullable datetime member (TS_NONE when absent); -1 with err filled. */
int api_body_ts(const cJSON *body, const char *key, ts_us_t *out, char *err, size_t errlen);
/* A timezone-aware datetime member (Airflow refuses naive ones). */
int api_body_aware_ts(const cJSON *body, const char *key, ts_us_t *out, char *err, size_t errlen);
/* A boolean member with a default; -1 with err filled when not a boolean. */
int api_body_bool(const cJSON *body, const char *key, bool dflt, bool *out, char *err,
                  size_t errlen);
/* Refuses members not in known (NULL-terminated), as Airflow's schemas do. */
int api_body_check_known(const cJSON *body, const char *const *known, char *err, size_t errlen);
/*
 * The JSON object body with only known members (NULL-terminated) and a
 * string for every name in required (NULL-terminated, or NULL for none;
 * values[i] borrows the i-th). NULL after answering the 400 (or the read's problem), *status
 * set; the caller cJSON_Delete()s the body.
 */
cJSON *api_read_fields(api_req_t *r, const char *const *known, const char *const *required,
                       const char **values, int *status);

#define API_MASK_FIELD 32
/*
 * The update_mask fields (repeated or comma-separated) into mask[]; each
 * must be in allowed. 0, or -1 with the problem detail in err.
 */
int api_read_update_mask(api_req_t *r, const char *const *allowed, char mask[][API_MASK_FIELD],
                         size_t max, size_t *n, char *err, size_t errlen);
bool api_mask_has(char mask[][API_MASK_FIELD], size_t n, const char *field);

#define API_NOTE_MAX 1000 /* characters of a run's or task instance's note, as Airflow */
/*
 * The body of a setNote (Airflow's SetDagRunNote / SetTaskInstanceNote):
 * note, required, a string of at most API_NOTE_MAX characters or null
 * (*note NULL). 0, or the status of the 400 answered.
 */
int api_read_note(api_req_t *r, const cJSON *body, const char **note);

/* The keyring of core.fernet_key, or NULL after answering 500. */
secrets_keyring_t *api_request_keyring(api_req_t *r);
/* A secret could not be read back (key missing or rotated away): 500. */
int api_secret_failed(api_req_t *r, const char *err);

/* ---- column descriptors (apiquery.c) ------------------------------------ */

typedef enum api_fmt {
    API_STR,    /* text, or null */
    API_INT,    /* an integer column, or null */
    API_NUM,    /* a float8 column (finite), or null */
    API_BOOL,   /* 't'/'f', or null */
    API_TS,     /* epoch microseconds (HTTP_SQL_TS) as ISO 8601, or null */
    API_JSON,   /* json text, as is */
    API_CONST,  /* no column: .json written as is */
    API_FN,     /* the column's text (NULL for SQL NULL) through .fn */
    API_HIDDEN, /* selected for the handler, not written */
} api_fmt_t;

typedef void (*api_text_fn)(jsonw_t *w, const char *text);

/* One member of a resource's JSON object and where it comes from. */
typedef struct api_field {
    const char *name; /* JSON member */
    const char *sql;  /* SQL expression selected (NULL for API_CONST) */
    api_fmt_t fmt;
    const char *json; /* API_CONST: the JSON text */
    api_text_fn fn;   /* API_FN */
} api_field_t;

/*
 * A resource as one table: its FROM clause and its fields in answer order.
 * Fields with the same SQL expression share one selected column.
 */
typedef struct api_resource {
    const char *from;
    const api_field_t *fields;
    size_t nfields;
} api_resource_t;

#define API_MAX_FIELDS 48
#define API_NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Column of each field in a result (relative to the first column of the
 * resource; -1 for a constant), as api_select_list lays them out.
 */
typedef struct api_colmap {
    int col[API_MAX_FIELDS];
    int ncols;
} api_colmap_t;

/* Writes the fields of row i (columns from base) as members of an open object. */
void api_write_fields(jsonw_t *w, const api_resource_t *rs, const api_colmap_t *m,
                      const PGresult *res, int i, int base);
/* The same, as one whole JSON object. */
void api_write_object(jsonw_t *w, const api_resource_t *rs, const api_colmap_t *m,
                      const PGresult *res, int i, int base);

/* ---- the query builder (apiquery.c) ------------------------------------- */

#define SQLB_MAX_PARAMS 32
#define SQLB_MAX_SQL 4096

/* A WHERE clause built from constant fragments and numbered parameters. */
typedef struct sqlb {
    char sql[SQLB_MAX_SQL];
    size_t len;
    bool overflow;
    const char *params[SQLB_MAX_PARAMS];
    int n;
    char num[SQLB_MAX_PARAMS][TS_ISO_LEN];
    char *heap[SQLB_MAX_PARAMS];
    int nheap;
} sqlb_t;

void sqlb_add(sqlb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a parameter (borrowed; must live until the query ran); returns its $n. */
int sqlb_param(sqlb_t *b, const char *v);
int sqlb_param_i64(sqlb_t *b, int64_t v);
int sqlb_param_ts(sqlb_t *b, ts_us_t t);
/* A finite number, as text Postgres reads back exactly. */
int sqlb_param_num(sqlb_t *b, double v);
/* Takes ownership of v (malloc'd or cJSON-allocated text). */
int sqlb_param_own(sqlb_t *b, char *v);
void sqlb_free(sqlb_t *b);

/* Appends " AND <col> >= $n" / "<= $n" for key_gte / key_lte; -1 with err. */
int api_filter_ts_range(api_req_t *r, sqlb_t *b, const char *key, const char *col, char *err,
                        size_t errlen);
/* Appends " AND <col> IN (values of the repeated parameter key)". */
void api_filter_list(api_req_t *r, sqlb_t *b, const char *key, const char *col);
/* Appends " AND <expr> (SELECT jsonb_array_elements_text($n::jsonb))" for key's values. */
void api_filter_values(api_req_t *r, sqlb_t *b, const char *key, const char *expr);

/* How a collection may be ordered. */
typedef struct api_sorting {
    const httpq_sort_t *sorts;
    size_t n;
    const char *def_field; /* order_by absent */
    bool nulls_last;
    const char *tiebreak; /* the unique column that makes pages stable */
} api_sorting_t;

typedef struct api_page {
    int64_t limit, offset;
    char order[128]; /* an ORDER BY list of constant text */
} api_page_t;

/*
 * Reads limit and offset, and order_by when sorting is given (else order
 * stays ""). 0, or the status of the 400 answered.
 */
int api_read_page(api_req_t *r, const api_sorting_t *sorting, api_page_t *p);
/*
 * The same from a batch body (Airflow's ListDagRunsForm): page_limit
 * (default 100, at least 1, clamped to API_PAGE_MAX), page_offset
 * (default 0), and order_by when sorting is given.
 */
int api_read_body_page(api_req_t *r, const cJSON *body, const api_sorting_t *sorting,
                       api_page_t *p);

/*
 * Appends " AND <expr> IN (the strings of body's list member key)"; an
 * absent, null or empty list adds nothing. A null element is refused,
 * unless null_as names the value it stands for. 0, or -1 with err.
 */
int api_filter_body_list(sqlb_t *b, const cJSON *body, const char *key, const char *expr,
                         const char *null_as, char *err, size_t errlen);
/* Appends the range of body's key_gte / key_lte (aware datetimes) on col; -1 with err. */
int api_filter_body_ts_range(sqlb_t *b, const cJSON *body, const char *key, const char *col,
                             char *err, size_t errlen);

/*
 * Sends {"<name>": [page of rs rows], "total_entries": N} for the rows of
 * rs matching b, ordered by order (see apiquery.c for the statement).
 */
int api_send_collection(api_req_t *r, const char *name, const api_resource_t *rs, sqlb_t *b,
                        const char *order, const api_page_t *p);
/*
 * Runs SELECT <rs fields> FROM <rs from> WHERE true<b> into *out (the
 * caller PQclears it; zero rows is not an error) with the column map in
 * *m. 0, or the status answered after a failure.
 */
int api_fetch(api_req_t *r, const api_resource_t *rs, sqlb_t *b, PGresult **out, api_colmap_t *m);
/* Sends row 0 of res as the whole answer (a resource by id). */
int api_send_row(api_req_t *r, const api_resource_t *rs, const api_colmap_t *m,
                 const PGresult *res);

/* ---- handlers, by resource family --------------------------------------- */

int api_get_health(api_req_t *r);
int api_get_version(api_req_t *r);
int api_get_metrics(api_req_t *r); /* Prometheus's text format (core/metrics.h) */
int api_get_config(api_req_t *r);

/*
 * What Airflow's timetable_description says of a DAG's schedule (NULL:
 * none): the text of a preset, else the schedule as written.
 */
const char *api_schedule_description(const char *schedule);

int api_get_dags(api_req_t *r);
int api_get_dag(api_req_t *r);
int api_patch_dag(api_req_t *r);
int api_patch_dags(api_req_t *r);
int api_get_dag_details(api_req_t *r);
int api_get_dag_source(api_req_t *r);
int api_get_dag_source_v2(api_req_t *r);
int api_get_dag_versions(api_req_t *r);
int api_get_dag_version(api_req_t *r);
int api_get_dag_stats(api_req_t *r);

int api_get_tasks(api_req_t *r);
int api_get_task(api_req_t *r);

int api_get_dag_runs(api_req_t *r);
int api_get_dag_run(api_req_t *r);
int api_post_dag_run(api_req_t *r);
int api_patch_dag_run(api_req_t *r);
int api_delete_dag_run(api_req_t *r);
int api_set_dag_run_note(api_req_t *r);
int api_post_dag_runs_batch(api_req_t *r);

int api_get_task_instances(api_req_t *r);
int api_get_task_instance(api_req_t *r);
int api_get_mapped_task_instances(api_req_t *r);
int api_get_mapped_task_instance(api_req_t *r);
int api_patch_task_instance(api_req_t *r);
int api_post_clear_task_instances(api_req_t *r);
int api_set_task_instance_note(api_req_t *r);
int api_set_mapped_task_instance_note(api_req_t *r);
int api_post_set_task_instances_state(api_req_t *r);
int api_post_task_instances_batch(api_req_t *r);

int api_get_log(api_req_t *r);

int api_get_xcom_entries(api_req_t *r);
int api_get_xcom_entry(api_req_t *r);

int api_get_import_errors(api_req_t *r);
int api_get_import_error(api_req_t *r);

int api_get_variables(api_req_t *r);
int api_get_variable(api_req_t *r);
int api_post_variable(api_req_t *r);
int api_patch_variable(api_req_t *r);
int api_delete_variable(api_req_t *r);

int api_get_connections(api_req_t *r);
int api_get_connection(api_req_t *r);
int api_post_connection(api_req_t *r);
int api_patch_connection(api_req_t *r);
int api_delete_connection(api_req_t *r);
int api_post_test_connection(api_req_t *r);

int api_get_pools(api_req_t *r);
int api_get_pool(api_req_t *r);
int api_post_pool(api_req_t *r);
int api_patch_pool(api_req_t *r);
int api_delete_pool(api_req_t *r);

int api_get_users(api_req_t *r);
int api_get_user(api_req_t *r);
int api_post_user(api_req_t *r);
int api_patch_user(api_req_t *r);
int api_delete_user(api_req_t *r);
int api_get_roles(api_req_t *r);
int api_get_role(api_req_t *r);
int api_get_permissions(api_req_t *r);

int api_get_backfills(api_req_t *r);
int api_get_ui_backfills(api_req_t *r);
int api_post_backfill(api_req_t *r);
int api_post_backfill_dry_run(api_req_t *r);
int api_get_backfill(api_req_t *r);
int api_put_backfill_pause(api_req_t *r);
int api_put_backfill_unpause(api_req_t *r);
int api_put_backfill_cancel(api_req_t *r);

int api_get_event_logs(api_req_t *r);
int api_get_event_log(api_req_t *r);

/* The web UI's aggregated reads (api_ui.c, docs/api.md "UI endpoints"). */
int api_get_ui_dags(api_req_t *r);
int api_get_ui_grid(api_req_t *r);
int api_get_ui_gantt(api_req_t *r);
int api_get_ui_durations(api_req_t *r);
int api_get_ui_calendar(api_req_t *r);

#endif
