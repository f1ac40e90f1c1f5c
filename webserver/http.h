/*
 * http.h - response and request helpers shared by the webserver's handlers:
 * JSON and problem bodies, request bodies, content negotiation, and the
 * JSON shapes every resource shares (timestamps, nullable strings).
 *
 * JSON answers (application/json, application/problem+json) of at least
 * HTTP_GZIP_MIN bytes go out gzip'ed (Content-Encoding: gzip) to a client
 * whose Accept-Encoding takes gzip, and with Vary: Accept-Encoding whether
 * or not they were compressed; nothing else is compressed here (the UI's
 * assets are compressed at build time, webserver/ui.c).
 *
 * Errors follow Airflow's API: an RFC 7807 problem body
 * {"type", "title", "status", "detail", "instance"} with Content-Type
 * application/problem+json (instance: the request's path).
 */
#ifndef UPDRAFT_WEBSERVER_HTTP_H
#define UPDRAFT_WEBSERVER_HTTP_H

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_BODY (1 << 20) /* request bodies above 1 MiB are refused (413) */
#define HTTP_MAX_JSON_DEPTH 64  /* arrays and objects nested deeper are refused (400) */
/* JSON bodies shorter than this go out as they are: below it gzip's own
 * framing and the CPU cost outweigh the bytes saved. */
#define HTTP_GZIP_MIN 1024
/* zlib's fastest level: it compresses the grid's 4.2 MB of JSON to 14% in
 * 15 ms on this project's 2-core reference machine, where level 6 (zlib's
 * default) gets 7.6% in 106 ms, longer than the query that made the answer. */
#define HTTP_GZIP_LEVEL 1

/*
 * Sends status with the given body and Content-Type (a JSON body may go out
 * gzip'ed, see above). 0, or -1 on I/O error.
 */
int http_send(struct mg_connection *conn, int status, const char *content_type, const char *body,
              size_t len);
/*
 * http_send with extra headers: name, value pairs, NULL-terminated
 * (headers may be NULL). Answers are Cache-Control: no-store unless the
 * headers name a Cache-Control of their own.
 */
int http_send_h(struct mg_connection *conn, int status, const char *const *headers,
                const char *content_type, const char *body, size_t len);
/* Serializes json (not consumed) and sends it as application/json. */
int http_send_json(struct mg_connection *conn, int status, const cJSON *json);
/*
 * Sends a problem body. title NULL: the standard title of the status
 * ("Not Found"). detail is printf-style.
 */
int http_send_problem(struct mg_connection *conn, int status, const char *title,
                      const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));

/* http_send_problem with extra headers, as http_send_h. */
int http_send_problem_h(struct mg_connection *conn, int status, const char *const *headers,
                        const char *title, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * The HTTP status and problem title for an error code of core/error.h, from
 * one table (UPDRAFT_ENOTFOUND is 404, UPDRAFT_EEXISTS 409, ...); codes not
 * in it are 500. title may be NULL.
 */
int http_status_of_error(int err, const char **title);
/*
 * Sends a problem body for error code err (status from the table above).
 * title NULL: the table's title. Returns the status sent.
 */
int http_send_error(struct mg_connection *conn, int err, const char *title, const char *detail_fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/*
 * Reads the request body, refusing more than max bytes. Returns 0 with a
 * malloc'd NUL-terminated copy in *out (caller frees; "" for no body) and
 * its length in *len; or an HTTP status (400, 408 when the body did not
 * arrive within webserver.request_timeout_ms, 411, 413) with err filled.
 */
int http_read_body(struct mg_connection *conn, size_t max, char **out, size_t *len, char *err,
                   size_t errlen);
/*
 * Whether JSON text s[0..len) nests arrays and objects at most max deep
 * (brackets inside strings do not count). Conservative: any text cJSON
 * would parse deeper is refused.
 */
bool http_json_depth_ok(const char *s, size_t len, int max);

/*
 * Whether JSON text s[0..len) holds the escape \u0000 inside a string:
 * cJSON decodes it to a NUL that would cut the C string short.
 */
bool http_json_has_nul(const char *s, size_t len);

/*
 * Whether a Content-Type header value names media type type ("type/subtype",
 * any case, parameters after ';' ignored); false for NULL.
 */
bool http_media_type_is(const char *ctype, const char *type);

/*
 * Reads and parses a JSON body, which must be an object, sent as
 * application/json or application/merge-patch+json (else 415), with no
 * escaped NUL in any string (400). Returns the tree
 * (caller cJSON_Delete()s) or NULL with *status (400, 413, 415) and err set.
 */
cJSON *http_read_json_object(struct mg_connection *conn, int *status, char *err, size_t errlen);

/*
 * Whether an Accept-Encoding header value takes gzip: the token "gzip" (any
 * case) not given a q of zero. False for NULL.
 */
bool http_takes_gzip(const char *accept_encoding);

/*
 * in[0..len) compressed in the gzip format (RFC 1952) at zlib level
 * (0..9). 0 with *out (malloc'd, the caller frees) of *outlen bytes;
 * UPDRAFT_ENOMEM; UPDRAFT_EINVALID for a bad level or an input longer than
 * zlib takes in one call; UPDRAFT_EIO when zlib fails otherwise.
 */
int http_gzip(const void *in, size_t len, int level, unsigned char **out, size_t *outlen);

/*
 * True when the Accept header prefers text/plain over application/json
 * (a missing header or a bare * / * keeps JSON).
 */
bool http_prefers_text(const struct mg_connection *conn);

/*
 * Adds name: ISO 8601 timestamp from a result field holding epoch
 * microseconds (as selected by HTTP_SQL_TS), or null.
 */
void http_json_add_ts(cJSON *obj, const char *name, const PGresult *r, int row, int col);
/* Adds name: the field's text, or null when SQL NULL. */
void http_json_add_str(cJSON *obj, const char *name, const PGresult *r, int row, int col);
/* Adds name: the field as an integer (as a JSON number), or null. */
void http_json_add_int(cJSON *obj, const char *name, const PGresult *r, int row, int col);
/* Adds name: the field ('t'/'f') as a boolean, or null. */
void http_json_add_bool(cJSON *obj, const char *name, const PGresult *r, int row, int col);
/* Adds name: the field (JSON text) parsed, or null when NULL or unparsable. */
void http_json_add_raw(cJSON *obj, const char *name, const PGresult *r, int row, int col);

/* SQL for a timestamptz column as epoch microseconds (int8), NULL stays NULL. */
#define HTTP_SQL_TS(col) "(extract(epoch from " col ") * 1000000)::int8"

#endif
