/*
 * http.c - response and request helpers for the webserver (see http.h).
 *
 * Every response goes out with an explicit Content-Length so connections
 * can be kept alive, and with Cache-Control: no-store since API answers
 * describe live state. JSON bodies are compressed here, in the one place
 * every answer passes, as the whole body in one deflate call: they are
 * already whole in memory, and Content-Length stays exact.
 */
#include "webserver/http.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "core/error.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "webserver/conntrack.h"

#define PROBLEM_BASE                                                                               \
    "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html#section/"      \
    "Errors/"

int http_send(struct mg_connection *conn, int status, const char *content_type, const char *body,
              size_t len)
{
    return http_send_h(conn, status, NULL, content_type, body, len);
}

/* Whether headers (name, value pairs) name header name. */
static bool has_header(const char *const *headers, const char *name)
{
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        if (strcasecmp(headers[i], name) == 0)
            return true;
    return false;
}

/* Whether an answer may go out gzip'ed: a JSON body long enough, not already encoded. */
static bool gzip_candidate(int status, const char *const *headers, const char *content_type,
                           size_t len)
{
    return status >= 200 && status != 204 && status != 304 && len >= HTTP_GZIP_MIN &&
           (http_media_type_is(content_type, "application/json") ||
            http_media_type_is(content_type, "application/problem+json")) &&
           !has_header(headers, "Content-Encoding");
}

static int send_response(struct mg_connection *conn, int status, const char *const *headers,
                         const char *content_type, const char *body, size_t len, bool vary,
                         bool gzipped)
{
    char clen[32];

    snprintf(clen, sizeof(clen), "%zu", len);
    if (mg_response_header_start(conn, status) < 0)
        return -1;
    mg_response_header_add(conn, "Content-Type", content_type, -1);
    mg_response_header_add(conn, "Content-Length", clen, -1);
    if (!has_header(headers, "Cache-Control"))
        mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (vary)
        mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
    if (gzipped)
        mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        mg_response_header_add(conn, headers[i], headers[i + 1], -1);
    if (mg_response_header_send(conn) < 0)
        return -1;
    if (len > 0 && mg_write(conn, body, len) < 0)
        return -1;
    return 0;
}

int http_send_h(struct mg_connection *conn, int status, const char *const *headers,
                const char *content_type, const char *body, size_t len)
{
    bool vary = gzip_candidate(status, headers, content_type, len);
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    int rc;

    /* A body compression cannot shrink, or that zlib fails on, goes out as it is. */
    if (vary && http_takes_gzip(mg_get_header(conn, "Accept-Encoding")) &&
        http_gzip(body, len, HTTP_GZIP_LEVEL, &gz, &gzlen) == 0 && gzlen >= len) {
        free(gz);
        gz = NULL;
    }
    if (gz)
        rc =
            send_response(conn, status, headers, content_type, (const char *)gz, gzlen, vary, true);
    else
        rc = send_response(conn, status, headers, content_type, body, len, vary, false);
    free(gz);
    return rc;
}

bool http_takes_gzip(const char *accept_encoding)
{
    for (const char *p = accept_encoding; p && *p;) {
        size_t n;

        p += strspn(p, " \t,");
        n = strcspn(p, " \t,;");
        if (n == 4 && strncasecmp(p, "gzip", 4) == 0) {
            const char *q = p + n + strspn(p + n, " \t");

            if (*q != ';')
                return true;
            q += 1 + strspn(q + 1, " \t");
            return strncasecmp(q, "q=", 2) != 0 || strtod(q + 2, NULL) > 0;
        }
        p += n;
        p += strcspn(p, ",");
    }
    return false;
}

int http_gzip(const void *in, size_t len, int level, unsigned char **out, size_t *outlen)
{
    z_stream z = {0};
    unsigned char *buf;
    uLong cap;
    int rc;

    *out = NULL;
    *outlen = 0;
    if (level < 0 || level > 9 || len > UINT_MAX / 2)
        return UPDRAFT_EINVALID;
    /* windowBits 15 + 16: a gzip header and trailer around the deflate stream. */
    rc = deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK)
        return rc == Z_MEM_ERROR ? UPDRAFT_ENOMEM : UPDRAFT_EIO;
    cap = deflateBound(&z, (uLong)len);
    if (!(buf = malloc(cap))) {
        deflateEnd(&z);
        return UPDRAFT_ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in; /* zlib's input is not const, it is not written */
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&z);
        free(buf);
        return rc == Z_MEM_ERROR ? UPDRAFT_ENOMEM : UPDRAFT_EIO;
    }
    *outlen = z.total_out;
    *out = buf;
    deflateEnd(&z);
    return 0;
}

int http_send_json(struct mg_connection *conn, int status, const cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    int rc;

    if (!text)
        return http_send_problem(conn, 500, NULL, "out of memory");
    rc = http_send(conn, status, "application/json", text, strlen(text));
    cJSON_free(text);
    return rc;
}

static const char *status_title(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

/* The anchor in Airflow's API reference that documents the problem type. */
static const char *status_type(int status)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthenticated";
    case 403:
        return "PermissionDenied";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 409:
        return "AlreadyExists";
    case 429:
        return "TooManyRequests";
    default:
        return "Unknown";
    }
}

/*
 * The error contract (core/error.h) as the API's clients see it. A
 * database failure is a 500 here; the API layer answers 503 instead when
 * the connection itself is gone (webserver/apireq.c, api_db_failed).
 */
static const struct {
    int err;
    int status;
    const char *title;
} error_statuses[] = {
    {UPDRAFT_ENOTFOUND, 404, "Not Found"},
    {UPDRAFT_EEXISTS, 409, "Conflict"},
    {UPDRAFT_EINVALID, 400, "Bad Request"},
    {UPDRAFT_ECONFLICT, 409, "Conflict"},
    {UPDRAFT_ENOKEY, 400, "Bad Request"},
    {UPDRAFT_EDB, 500, "Internal Server Error"},
    {UPDRAFT_EUNAVAILABLE, 503, "Service Unavailable"},
    {UPDRAFT_ENOMEM, 500, "Internal Server Error"},
    {UPDRAFT_EIO, 500, "Internal Server Error"},
    {UPDRAFT_ELIMITED, 429, "Too Many Requests"},
};

int http_status_of_error(int err, const char **title)
{
    for (size_t i = 0; i < sizeof(error_statuses) / sizeof(error_statuses[0]); i++) {
        if (error_statuses[i].err == err) {
            if (title)
                *title = error_statuses[i].title;
            return error_statuses[i].status;
        }
    }
    if (title)
        *title = "Internal Server Error";
    return 500;
}

int http_send_error(struct mg_connection *conn, int err, const char *title, const char *detail_fmt,
                    ...)
{
    char detail[1024];
    const char *dflt;
    int status = http_status_of_error(err, &dflt);
    va_list ap;

    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    http_send_problem(conn, status, title ? title : dflt, "%s", detail);
    return status;
}

/*
 * RFC 7807's instance, the occurrence of the problem: the request's path as
 * the client sent it. Bytes a URI reference cannot hold (controls, spaces,
 * quotes, non-ASCII) are percent-encoded, so that the body stays valid JSON
 * and UTF-8 whatever arrived; a path too long for out is cut.
 */
static void problem_instance(const struct mg_connection *conn, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *p = ri ? (ri->local_uri_raw ? ri->local_uri_raw : ri->local_uri) : NULL;
    size_t n = 0;

    for (; p && *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool plain = c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>';
        if (n + (plain ? 1 : 3) >= len)
            break;
        if (plain) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 0xf];
        }
    }
    if (n == 0 && len > 1)
        out[n++] = '/';
    out[n] = '\0';
}

int http_send_problem(struct mg_connection *conn, int status, const char *title,
                      const char *detail_fmt, ...)
{
    char detail[1024];
    va_list ap;

    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    return http_send_problem_h(conn, status, NULL, title, "%s", detail);
}

int http_send_problem_h(struct mg_connection *conn, int status, const char *const *headers,
                        const char *title, const char *detail_fmt, ...)
{
    char detail[1024], type[256], instance[512];
    va_list ap;
    cJSON *o;
    char *text;
    int rc;

    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    snprintf(type, sizeof(type), PROBLEM_BASE "%s", status_type(status));
    problem_instance(conn, instance, sizeof(instance));

    o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "detail", detail);
        cJSON_AddStringToObject(o, "instance", instance);
        cJSON_AddNumberToObject(o, "status", status);
        cJSON_AddStringToObject(o, "title", title ? title : status_title(status));
        cJSON_AddStringToObject(o, "type", type);
    }
    text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        static const char oom[] = "{\"status\":500,\"title\":\"Internal Server Error\","
                                  "\"type\":\"about:blank\",\"detail\":\"out of memory\"}";
        return http_send(conn, 500, "application/problem+json", oom, sizeof(oom) - 1);
    }
    rc = http_send_h(conn, status, headers, "application/problem+json", text, strlen(text));
    cJSON_free(text);
    return rc;
}

/*
 * Reads the body into buf (cap grows up to max + 1 when its length is not
 * known): 0 with *n bytes read, or an HTTP status with err filled.
 */
static int read_body_into(struct mg_connection *conn, long long clen, size_t max, char **buf,
                          size_t *cap, size_t *n, char *err, size_t errlen)
{
    for (;;) {
        int got;
        if (*n == *cap) {
            char *nb;
            if (clen >= 0)
                return 0;
            if (*cap > max)
                break;
            *cap = *cap * 2 > max + 1 ? max + 1 : *cap * 2;
            nb = realloc(*buf, *cap + 1);
            if (!nb) {
                snprintf(err, errlen, "out of memory");
                return 500;
            }
            *buf = nb;
        }
        got = mg_read(conn, *buf + *n, *cap - *n);
        if (got < 0) {
            snprintf(err, errlen, "error reading request body");
            return 400;
        }
        if (got == 0)
            break;
        *n += (size_t)got;
    }
    if (*n > max) {
        snprintf(err, errlen, "request body larger than %zu bytes", max);
        return 413;
    }
    return 0;
}

int http_read_body(struct mg_connection *conn, size_t max, char **out, size_t *len, char *err,
                   size_t errlen)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    long long clen = ri->content_length;
    size_t cap, n = 0;
    char *buf;
    int status;

    *out = NULL;
    *len = 0;
    if (clen > (long long)max) {
        snprintf(err, errlen, "request body larger than %zu bytes", max);
        mg_disable_connection_keep_alive(conn); /* rather than read it all to skip it */
        return 413;
    }
    cap = clen >= 0 ? (size_t)clen : max + 1;
    if (clen < 0 && cap > 65536)
        cap = 65536; /* unknown length: grow as data arrives */
    buf = malloc(cap + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    /* A body sent a byte at a time would hold this thread as long as the
     * client likes: past the deadline its connection's reading side is
     * shut, which ends the read below (conntrack.h). */
    conntrack_body_begin(conn);
    status = read_body_into(conn, clen, max, &buf, &cap, &n, err, errlen);
    if (status == 0 && clen >= 0 && n != (size_t)clen) {
        snprintf(err, errlen, "request body shorter than its Content-Length");
        status = 400;
    }
    if (status == 400 && conntrack_body_expired(conn)) {
        snprintf(err, errlen, "the request body did not arrive in time");
        status = 408;
    }
    conntrack_body_end(conn);
    if (status != 0) {
        /* What is left of this body cannot be told from the next request. */
        mg_disable_connection_keep_alive(conn);
        free(buf);
        return status;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* cJSON parses (and frees, and prints) by recursion, and a civetweb worker
 * thread has a small stack: a body is measured before it is parsed. */
bool http_json_depth_ok(const char *s, size_t len, int max)
{
    bool in_str = false;
    int depth = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

bool http_json_has_nul(const char *s, size_t len)
{
    bool in_str = false;

    for (size_t i = 0; i < len; i++) {
        if (!in_str) {
            in_str = s[i] == '"';
        } else if (s[i] == '"') {
            in_str = false;
        } else if (s[i] == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
                return true;
            i++;
        }
    }
    return false;
}

bool http_media_type_is(const char *ctype, const char *type)
{
    size_t n = strlen(type), end;

    if (!ctype)
        return false;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    end = strcspn(ctype, ";");
    while (end > 0 && (ctype[end - 1] == ' ' || ctype[end - 1] == '\t'))
        end--;
    return end == n && strncasecmp(ctype, type, n) == 0;
}

cJSON *http_read_json_object(struct mg_connection *conn, int *status, char *err, size_t errlen)
{
    const char *ctype = mg_get_header(conn, "Content-Type");
    char *body = NULL;
    size_t len = 0;
    cJSON *json = NULL;
    int rc;

    /* Exactly these types: a cross-site form cannot send them without a
     * CORS preflight, which this server never grants. */
    if (!http_media_type_is(ctype, "application/json") &&
        !http_media_type_is(ctype, "application/merge-patch+json")) {
        *status = 415;
        snprintf(err, errlen, "Content-Type must be application/json");
        return NULL;
    }
    rc = http_read_body(conn, HTTP_MAX_BODY, &body, &len, err, errlen);
    if (rc != 0) {
        *status = rc;
        return NULL;
    }
    if (len == 0) {
        *status = 400;
        snprintf(err, errlen, "Request body must not be empty");
        goto out;
    }
    if (memchr(body, '\0', len)) {
        *status = 400;
        snprintf(err, errlen, "Request body is not valid JSON");
        goto out;
    }
    if (!utf8_valid(body, len)) {
        *status = 400;
        snprintf(err, errlen, "Request body is not valid UTF-8");
        goto out;
    }
    if (http_json_has_nul(body, len)) {
        *status = 400;
        snprintf(err, errlen, "Request body holds a NUL character (\\u0000) in a string");
        goto out;
    }
    if (!http_json_depth_ok(body, len, HTTP_MAX_JSON_DEPTH)) {
        *status = 400;
        snprintf(err, errlen, "Request body nests deeper than %d levels", HTTP_MAX_JSON_DEPTH);
        goto out;
    }
    json = cJSON_ParseWithLengthOpts(body, len + 1, NULL, 1);
    if (!json) {
        *status = 400;
        snprintf(err, errlen, "Request body is not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        json = NULL;
        *status = 400;
        snprintf(err, errlen, "Request body must be a JSON object");
    }
out:
    free(body);
    return json;
}

/* The q value of one Accept entry ("text/plain;q=0.5" -> 0.5). */
static double accept_q(const char *params, size_t len)
{
    const char *p = params, *end = params + len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *e = semi ? semi : end;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (e - p > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char num[16];
            size_t nl = (size_t)(e - p - 2);
            char *stop;
            double q;
            if (nl >= sizeof(num))
                return 0;
            memcpy(num, p + 2, nl);
            num[nl] = '\0';
            q = strtod(num, &stop);
            return (stop == num || q < 0) ? 0 : q > 1 ? 1 : q;
        }
        p = semi ? semi + 1 : end;
    }
    return 1;
}

bool http_prefers_text(const struct mg_connection *conn)
{
    const char *accept = mg_get_header(conn, "Accept");
    double q_text = 0, q_json = 0, q_any = 0;
    const char *p;

    if (!accept)
        return false;
    p = accept;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *semi;
        size_t tl;
        double q;

        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        semi = memchr(p, ';', (size_t)(e - p));
        tl = (size_t)((semi ? semi : e) - p);
        while (tl > 0 && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
            tl--;
        q = semi ? accept_q(semi + 1, (size_t)(e - semi - 1)) : 1;
        if ((tl == 10 && strncasecmp(p, "text/plain", 10) == 0) ||
            (tl == 6 && strncasecmp(p, "text/*", 6) == 0))
            q_text = q > q_text ? q : q_text;
        else if (tl == 16 && strncasecmp(p, "application/json", 16) == 0)
            q_json = q > q_json ? q : q_json;
        else if ((tl == 3 && strncmp(p, "*/*", 3) == 0) ||
                 (tl == 13 && strncasecmp(p, "application/*", 13) == 0))
            q_any = q > q_any ? q : q_any;
        if (!comma)
            break;
        p = comma + 1;
    }
    /* As Airflow, text/plain wins a tie with application/json; unlike
     * Airflow, a bare wildcard keeps the JSON default. */
    return q_text > 0 && q_text >= q_json && q_text >= q_any;
}

void http_json_add_ts(cJSON *obj, const char *name, const PGresult *r, int row, int col)
{
    char buf[TS_ISO_LEN];
    const char *v;
    char *end;
    long long us;

    if (PQgetisnull(r, row, col)) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    v = PQgetvalue(r, row, col);
    errno = 0;
    us = strtoll(v, &end, 10);
    if (errno || *end || end == v) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    cJSON_AddStringToObject(obj, name, ts_format_iso((ts_us_t)us, buf));
}

void http_json_add_str(cJSON *obj, const char *name, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddStringToObject(obj, name, PQgetvalue(r, row, col));
}

void http_json_add_int(cJSON *obj, const char *name, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddNumberToObject(obj, name, (double)strtoll(PQgetvalue(r, row, col), NULL, 10));
}

void http_json_add_bool(cJSON *obj, const char *name, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddBoolToObject(obj, name, PQgetvalue(r, row, col)[0] == 't');
}

void http_json_add_raw(cJSON *obj, const char *name, const PGresult *r, int row, int col)
{
    cJSON *v = NULL;

    if (!PQgetisnull(r, row, col)) {
        const char *text = PQgetvalue(r, row, col);
        v = cJSON_ParseWithLengthOpts(text, (size_t)PQgetlength(r, row, col) + 1, NULL, 1);
    }
    if (v)
        cJSON_AddItemToObject(obj, name, v);
    else
        cJSON_AddNullToObject(obj, name);
}
