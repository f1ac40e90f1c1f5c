/*
 * httpq.h - parsing the untrusted parts of an HTTP request: the query
 * string, the request path, and the REST API's paging and ordering
 * parameters.
 *
 * Nothing here does I/O; the webserver feeds it the raw strings civetweb
 * hands over, and the fuzz target feeds it anything. Every function bounds
 * its input before allocating and reports a problem meant for the API
 * client (lower-case, naming the parameter) in a caller-supplied buffer.
 */
#ifndef UPDRAFT_HTTPQ_H
#define UPDRAFT_HTTPQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPQ_MAX_QUERY 8192 /* bytes of query string accepted */
#define HTTPQ_MAX_PARAMS 64  /* key=value pairs accepted */
#define HTTPQ_MAX_PATH 2048  /* bytes of request path accepted */
#define HTTPQ_MAX_SEGS 16    /* path segments accepted */

typedef struct httpq_param {
    char *key;   /* URL-decoded, never NULL */
    char *value; /* URL-decoded, "" when the pair had no '=' */
} httpq_param_t;

typedef struct httpq {
    httpq_param_t *items;
    size_t n;
} httpq_t;

/*
 * URL-decodes in[0..len) into out (outlen bytes, NUL-terminated). '+' means
 * a space when plus_is_space (query strings, not paths). Refuses malformed
 * escapes and encoded NUL bytes. Returns the decoded length, or -1.
 */
long httpq_url_decode(const char *in, size_t len, bool plus_is_space, char *out, size_t outlen);

/*
 * Parses a query string ("a=1&b=x%20y&b=z"; NULL or "" is empty) into q,
 * which the caller zero-initialises and releases with httpq_free(). Pairs
 * keep their order; repeated keys are kept. Returns 0, or -1 with err
 * filled (too long, too many parameters, bad escape, empty key).
 */
int httpq_parse(httpq_t *q, const char *qs, char *err, size_t errlen);
void httpq_free(httpq_t *q);

/* The value of the first pair named key (borrowed), or NULL. */
const char *httpq_get(const httpq_t *q, const char *key);
/* How many pairs are named key. */
size_t httpq_count(const httpq_t *q, const char *key);
/* The value of the idx-th pair named key (borrowed), or NULL. */
const char *httpq_get_nth(const httpq_t *q, const char *key, size_t idx);

/*
 * Fails (-1, err names the parameter) when q holds a key that is not in the
 * NULL-terminated list allowed, as Airflow's strict validation does.
 */
int httpq_check_allowed(const httpq_t *q, const char *const *allowed, char *err, size_t errlen);

/*
 * Parameter q[key] as an integer in [min, max]. Absent: *out = def, 0.
 * Present and not a decimal integer in range: -1 with err.
 */
int httpq_get_i64(const httpq_t *q, const char *key, int64_t def, int64_t min, int64_t max,
                  int64_t *out, char *err, size_t errlen);

/*
 * Parameter q[key] as a boolean ("true"/"false"/"1"/"0", any case).
 * Returns 1 when present (value in *out), 0 when absent, -1 with err when
 * malformed.
 */
int httpq_get_bool(const httpq_t *q, const char *key, bool *out, char *err, size_t errlen);

/*
 * Paging as Airflow's API does it: limit defaults to def_limit, 0 means
 * def_limit, above max_limit is clamped to max_limit, negative is an error;
 * offset defaults to 0 and must not be negative.
 */
int httpq_get_page(const httpq_t *q, int64_t def_limit, int64_t max_limit, int64_t *limit,
                   int64_t *offset, char *err, size_t errlen);

/* One field a collection may be ordered by: the API name and its SQL. */
typedef struct httpq_sort {
    const char *field; /* as the client writes it, e.g. "dag_run_id" */
    const char *sql;   /* a constant column expression, e.g. "dr.run_id" */
} httpq_sort_t;

/*
 * Resolves an order_by value ("field" or "-field") against the allowed
 * fields (n of them). NULL or "" selects def_field. Sets *sql to the
 * matching constant expression (never client text) and *desc. Returns 0,
 * or -1 with err for a field that is not allowed.
 */
int httpq_order_by(const char *value, const httpq_sort_t *allowed, size_t n, const char *def_field,
                   const char **sql, bool *desc, char *err, size_t errlen);

/* A request path split at '/' into URL-decoded segments. */
typedef struct httpq_path {
    char *buf; /* owns the segment text */
    const char *seg[HTTPQ_MAX_SEGS];
    size_t n;
} httpq_path_t;

/*
 * Splits path ("/api/v1/dags/x"; must start with '/') into segments. Empty
 * segments (a trailing '/', "//") are dropped. decode: URL-decode each
 * segment (pass false when the server already decoded the path). Refuses
 * overlong paths, too many segments, bad escapes and control characters.
 * Release with httpq_path_free(). Returns 0 or -1 with err.
 */
int httpq_path_split(const char *path, bool decode, httpq_path_t *out, char *err, size_t errlen);
void httpq_path_free(httpq_path_t *p);

/*
 * Matches p against a pattern such as "/api/v1/dags/{}/dagRuns/{}": literal
 * segments compare exactly, "{}" matches any one segment and is captured
 * into caps (up to maxcaps, in order; *ncaps set); a last segment "*"
 * matches the rest of the path, none or any number of segments, uncaptured.
 * True on a match.
 */
bool httpq_path_match(const httpq_path_t *p, const char *pattern, const char **caps, size_t maxcaps,
                      size_t *ncaps);

#endif
