/*
 * jsonw.h - a streaming JSON writer into one growing buffer, for the
 * API's responses.
 *
 * Large collections (100 DAGs, 1,000 task instances) are written straight
 * from the PGresult into the buffer: no tree of nodes, no per-field
 * allocation, integers copied as the digits Postgres sent (after checking
 * them), timestamps formatted from epoch microseconds without gmtime or
 * printf. cJSON stays for parsing request bodies.
 *
 * Commas are placed by the writer: it keeps, per open object or array,
 * whether a member was written. Keys are compile-time constants and are
 * written unescaped; string values are escaped (quote, backslash, control
 * characters). An allocation failure is sticky: later calls do nothing and
 * jsonw_failed() says so; the caller answers 500.
 */
#ifndef UPDRAFT_WEBSERVER_JSONW_H
#define UPDRAFT_WEBSERVER_JSONW_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONW_MAX_DEPTH 16

typedef struct jsonw {
    char *buf;
    size_t len, cap;
    bool oom;
    bool after_key;
    int depth;
    bool has_member[JSONW_MAX_DEPTH];
} jsonw_t;

/* An empty writer; reserve bytes are allocated up front (0: on demand). */
void jsonw_init(jsonw_t *w, size_t reserve);
void jsonw_free(jsonw_t *w);
/* True after an allocation failed or nesting went past JSONW_MAX_DEPTH. */
bool jsonw_failed(const jsonw_t *w);
/* The text written so far (borrowed, NUL-terminated unless failed). */
const char *jsonw_data(const jsonw_t *w);
size_t jsonw_len(const jsonw_t *w);

void jsonw_obj_begin(jsonw_t *w);
void jsonw_obj_end(jsonw_t *w);
void jsonw_arr_begin(jsonw_t *w);
void jsonw_arr_end(jsonw_t *w);
/* A member name (a constant that needs no escaping). */
void jsonw_key(jsonw_t *w, const char *key);

void jsonw_null(jsonw_t *w);
void jsonw_bool(jsonw_t *w, bool v);
void jsonw_i64(jsonw_t *w, int64_t v);
/* A string value, escaped; NULL writes null. */
void jsonw_str(jsonw_t *w, const char *s);
void jsonw_strn(jsonw_t *w, const char *s, size_t n);
/* Epoch microseconds as "2024-03-10T11:00:00.123456+00:00". */
void jsonw_ts(jsonw_t *w, int64_t us);
/* Text that is already a JSON value (written as is). */
void jsonw_raw(jsonw_t *w, const char *json, size_t n);

/*
 * Result fields, SQL NULL written as null: text as a string; an integer
 * (digits checked, else null); a float8 (finite decimal, else null); 't'/'f'
 * as a boolean; epoch microseconds (HTTP_SQL_TS) as a timestamp; JSON text
 * (from a json/jsonb column) as is.
 */
void jsonw_pg_str(jsonw_t *w, const PGresult *r, int row, int col);
void jsonw_pg_int(jsonw_t *w, const PGresult *r, int row, int col);
void jsonw_pg_num(jsonw_t *w, const PGresult *r, int row, int col);
void jsonw_pg_bool(jsonw_t *w, const PGresult *r, int row, int col);
void jsonw_pg_ts(jsonw_t *w, const PGresult *r, int row, int col);
void jsonw_pg_json(jsonw_t *w, const PGresult *r, int row, int col);

/*
 * The checks the result writers apply to s[0..n): an optional '-' and 1..19
 * digits (what int2/int4/int8 print); JSON's number grammar
 * -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? (no NaN or Infinity).
 */
bool jsonw_is_int_text(const char *s, size_t n);
bool jsonw_is_number(const char *s, size_t n);

#endif
