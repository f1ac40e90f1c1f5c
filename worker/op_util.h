/*
 * op_util.h - small helpers shared by the operator bodies (op_http.c,
 * op_sql.c, op_sensors.c): reading arguments, context and connection
 * fields out of the runner's JSON, writing log lines, and turning values
 * into text.
 *
 * Header-only (static inline) so that each body stays one file and a test
 * may include several bodies into one translation unit.
 */
#ifndef UPDRAFT_WORKER_OP_UTIL_H
#define UPDRAFT_WORKER_OP_UTIL_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/pgarray.h"
#include "core/timeutil.h"
#include "worker/ops.h"

/* Bytes of a value's text shown in a log line before it is cut. */
#define OPU_LOG_SNIPPET 4096
/* Response bodies and query results are read up to max(max_xcom_size, this). */
#define OPU_MIN_READ_LIMIT ((size_t)1024 * 1024)

/*
 * One log line in the task log, formatted as the worker's own lines:
 * "[<time>] {<who>} <LEVEL> - <message>".
 */
static inline void opu_log(const ops_ctx_t *c, const char *who, const char *level, const char *fmt,
                           ...) __attribute__((format(printf, 4, 5)));
static inline void opu_log(const ops_ctx_t *c, const char *who, const char *level, const char *fmt,
                           ...)
{
    FILE *f = c && c->log ? c->log : stdout;
    char when[TS_ISO_LEN];
    va_list ap;

    fprintf(f, "[%s] {%s} %s - ", ts_format_iso(ts_now(), when), who, level);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

/* An argument, NULL when absent or JSON null. */
static inline const cJSON *opu_arg(const ops_ctx_t *c, const char *name)
{
    const cJSON *v = c->args ? cJSON_GetObjectItemCaseSensitive(c->args, name) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A string argument, or def when absent or not a string. */
static inline const char *opu_arg_str(const ops_ctx_t *c, const char *name, const char *def)
{
    const cJSON *v = opu_arg(c, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

/* A connection id argument: def when absent or empty (as the spec writer reads it). */
static inline const char *opu_arg_conn_id(const ops_ctx_t *c, const char *name, const char *def)
{
    const char *s = opu_arg_str(c, name, NULL);
    return s && *s ? s : def;
}

/* A boolean argument (true/false, or a number, or "true"/"false" text), or def. */
static inline bool opu_json_bool(const cJSON *v, bool def)
{
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0;
    if (cJSON_IsString(v) && v->valuestring) {
        const char *s = v->valuestring;
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
            return true;
        if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0"))
            return false;
    }
    return def;
}

static inline bool opu_arg_bool(const ops_ctx_t *c, const char *name, bool def)
{
    return opu_json_bool(opu_arg(c, name), def);
}

/* A number of seconds (a JSON number or a digit string), or def. */
static inline double opu_json_seconds(const cJSON *v, double def)
{
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
        return v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring && *v->valuestring) {
        char *end;
        double d = strtod(v->valuestring, &end);
        if (*end == '\0' && isfinite(d))
            return d;
    }
    return def;
}

/* A context field as a string, NULL when absent or not a string. */
static inline const char *opu_ctx_str(const ops_ctx_t *c, const char *name)
{
    const cJSON *v = c->context ? cJSON_GetObjectItemCaseSensitive(c->context, name) : NULL;
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* A connection's string field, NULL when absent, null or empty. */
static inline const char *opu_conn_str(const cJSON *conn, const char *name)
{
    const cJSON *v = conn ? cJSON_GetObjectItemCaseSensitive(conn, name) : NULL;
    return cJSON_IsString(v) && v->valuestring && *v->valuestring ? v->valuestring : NULL;
}

/* A connection's port (a number or a digit string), -1 when none or out of range. */
static inline int opu_conn_port(const cJSON *conn)
{
    const cJSON *v = conn ? cJSON_GetObjectItemCaseSensitive(conn, "port") : NULL;
    double d = -1;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && v->valuestring && *v->valuestring) {
        char *end;
        d = strtod(v->valuestring, &end);
        if (*end)
            d = -1;
    }
    return d >= 1 && d <= 65535 && d == floor(d) ? (int)d : -1;
}

/*
 * A connection's extra as a JSON object (a copy: the caller deletes it),
 * or NULL when it has none, or it is not an object (*bad set then).
 */
static inline cJSON *opu_conn_extra(const cJSON *conn, bool *bad)
{
    const cJSON *v = conn ? cJSON_GetObjectItemCaseSensitive(conn, "extra") : NULL;
    cJSON *obj = NULL;

    *bad = false;
    if (cJSON_IsObject(v))
        return cJSON_Duplicate(v, 1);
    if (!cJSON_IsString(v) || !v->valuestring)
        return NULL;
    const char *s = v->valuestring;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (!*s)
        return NULL;
    obj = cJSON_ParseWithOpts(s, NULL, 1);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        *bad = true;
        return NULL;
    }
    return obj;
}

/*
 * A JSON number as Python's str() writes it: integers without a fraction,
 * others in the shortest form that reads back the same. buf >= 32 bytes.
 */
static inline const char *opu_num_text(double d, char *buf, size_t len)
{
    if (d == floor(d) && fabs(d) < 9.007199254740992e15)
        snprintf(buf, len, "%lld", (long long)d);
    else {
        snprintf(buf, len, "%.15g", d);
        if (strtod(buf, NULL) != d)
            snprintf(buf, len, "%.17g", d);
    }
    return buf;
}

/*
 * A copy of s[0..n) that is valid UTF-8 without NUL (invalid sequences and
 * NUL become U+FFFD), as text decoded with errors="replace". NULL on OOM.
 */
static inline char *opu_utf8_clean(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out, *o;
    size_t i = 0;

    if (n > (SIZE_MAX - 1) / 3 || !(out = malloc(n * 3 + 1)))
        return NULL;
    o = out;
    while (i < n) {
        unsigned char b = p[i];
        size_t len = 0;
        uint32_t cp = 0, min = 0;
        if (b >= 0x01 && b < 0x80) {
            *o++ = (char)b;
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF)
            len = 2, cp = b & 0x1F, min = 0x80;
        else if (b >= 0xE0 && b <= 0xEF)
            len = 3, cp = b & 0x0F, min = 0x800;
        else if (b >= 0xF0 && b <= 0xF4)
            len = 4, cp = b & 0x07, min = 0x10000;
        bool good = len > 0 && i + len <= n;
        for (size_t k = 1; good && k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                good = false;
            else
                cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (good && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))
            good = false;
        if (good) {
            memcpy(o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    return out;
}

/* A list of strings as Python prints it: ['a', 'b']. */
static inline void opu_buf_pylist(strbuf_t *b, const cJSON *list)
{
    const cJSON *it;
    bool first = true;
    strbuf_puts(b, "[");
    cJSON_ArrayForEach(it, list)
    {
        if (!cJSON_IsString(it))
            continue;
        strbuf_puts(b, first ? "'" : ", '");
        strbuf_puts(b, it->valuestring);
        strbuf_puts(b, "'");
        first = false;
    }
    strbuf_puts(b, "]");
}

/*
 * A JSON value as a Postgres array literal ({"a","b",NULL,1,true}), lists
 * nesting; other values as their text. Appended to b.
 */
static inline void opu_buf_pgarray(strbuf_t *b, const cJSON *v)
{
    char num[64];
    const cJSON *it;
    if (!cJSON_IsArray(v))
        return;
    pgarray_open(b);
    cJSON_ArrayForEach(it, v)
    {
        if (cJSON_IsNull(it)) {
            pgarray_put_raw(b, "NULL");
        } else if (cJSON_IsArray(it)) {
            opu_buf_pgarray(b, it);
        } else if (cJSON_IsNumber(it)) {
            pgarray_put_raw(b, opu_num_text(it->valuedouble, num, sizeof num));
        } else if (cJSON_IsBool(it)) {
            pgarray_put_raw(b, cJSON_IsTrue(it) ? "true" : "false");
        } else if (cJSON_IsString(it)) {
            pgarray_put_text(b, it->valuestring);
        } else {
            char *txt = cJSON_PrintUnformatted(it);
            if (!txt)
                b->oom = true;
            else
                pgarray_put_text(b, txt);
            free(txt);
        }
    }
    pgarray_close(b);
}

#endif
