/*
 * template_value.c - the renderer's values: dates (Airflow's ds, ts, ...
 * and strftime/strptime), printing values as Python and JSON do, cached
 * lookups of variables, connections and XComs, and the namespaces and
 * attributes names resolve through.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/secrets.h"
#include "core/utf8.h"
#include "model/sensitive.h"
#include "model/template_int.h"

/* ---- dates ---- */

typedef struct civil {
    int64_t year;
    int month, day, hour, minute, second, usec;
    int64_t days; /* since the epoch */
} civil_t;

/* Splits t; false outside the years 1..9999. */
static bool civil_of(ts_us_t t, civil_t *c)
{
    /* 0001-01-01 and 10000-01-01 in microseconds */
    if (t < INT64_C(-62135596800000000) || t >= INT64_C(253402300800000000))
        return false;
    int64_t secs = t / TS_US_PER_SEC, us = t % TS_US_PER_SEC;
    if (us < 0) {
        us += TS_US_PER_SEC;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    c->days = days;
    ts_civil_from_days(days, &c->year, &c->month, &c->day);
    c->hour = (int)(rem / 3600);
    c->minute = (int)(rem / 60 % 60);
    c->second = (int)(rem % 60);
    c->usec = (int)us;
    return true;
}

static void tm_of(const civil_t *c, struct tm *tm)
{
    memset(tm, 0, sizeof(*tm));
    tm->tm_year = (int)(c->year - 1900);
    tm->tm_mon = c->month - 1;
    tm->tm_mday = c->day;
    tm->tm_hour = c->hour;
    tm->tm_min = c->minute;
    tm->tm_sec = c->second;
    tm->tm_wday = ts_weekday(c->days);
    tm->tm_yday = (int)(c->days - ts_days_from_civil(c->year, 1, 1));
}

/* isoformat() of an aware UTC datetime; buf needs TEMPLATE_DATE_LEN. */
bool tpl_iso_of(ts_us_t t, char *buf)
{
    civil_t c;
    if (!civil_of(t, &c))
        return false;
    int n = snprintf(buf, TEMPLATE_DATE_LEN, "%04d-%02d-%02dT%02d:%02d:%02d", (int)c.year, c.month,
                     c.day, c.hour, c.minute, c.second);
    if (c.usec)
        n += snprintf(buf + n, TEMPLATE_DATE_LEN - (size_t)n, ".%06d", c.usec);
    snprintf(buf + n, TEMPLATE_DATE_LEN - (size_t)n, "+00:00");
    return true;
}

int template_dates_compute(ts_us_t logical, ts_us_t interval_start, ts_us_t interval_end,
                           template_dates_t *out)
{
    civil_t c;
    memset(out, 0, sizeof(*out));
    if (logical == TS_NONE || !civil_of(logical, &c))
        goto bad;
    snprintf(out->ds, sizeof(out->ds), "%04d-%02d-%02d", (int)c.year, c.month, c.day);
    snprintf(out->ds_nodash, sizeof(out->ds_nodash), "%04d%02d%02d", (int)c.year, c.month, c.day);
    tpl_iso_of(logical, out->ts);
    snprintf(out->ts_nodash, sizeof(out->ts_nodash), "%04d%02d%02dT%02d%02d%02d", (int)c.year,
             c.month, c.day, c.hour, c.minute, c.second);
    /* ts.replace("-", "").replace(":", "") */
    size_t n = 0;
    for (const char *p = out->ts; *p; p++)
        if (*p != '-' && *p != ':')
            out->ts_nodash_with_tz[n++] = *p;
    out->ts_nodash_with_tz[n] = '\0';
    memcpy(out->logical_date, out->ts, sizeof(out->ts));
    if (interval_start == TS_NONE)
        strcpy(out->data_interval_start, "None");
    else if (!tpl_iso_of(interval_start, out->data_interval_start))
        goto bad;
    if (interval_end == TS_NONE)
        strcpy(out->data_interval_end, "None");
    else if (!tpl_iso_of(interval_end, out->data_interval_end))
        goto bad;
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

/*
 * Python's datetime.strftime: %f, %z, %Z are Python's own (microseconds,
 * +0000, UTC); the rest goes to the C library in the C locale's manner.
 */
int tpl_date_strftime(render_t *r, size_t off, ts_us_t t, const char *fmt, size_t fmtlen,
                      value_t *v)
{
    civil_t c;
    struct tm tm;
    char pre[FMT_MAX * 8 + 2];
    char outbuf[FMT_MAX * 16];
    size_t n = 0;

    if (fmtlen > FMT_MAX)
        return tpl_fail(r, off, "strftime format is longer than %d bytes", FMT_MAX);
    if (memchr(fmt, '\0', fmtlen))
        return tpl_fail(r, off, "strftime format contains a NUL character");
    if (!civil_of(t, &c))
        return tpl_fail(r, off, "date out of range");
    tm_of(&c, &tm);
    for (size_t k = 0; k < fmtlen; k++) {
        if (fmt[k] == '%' && k + 1 < fmtlen) {
            char d = fmt[k + 1];
            if (d == 'f' || d == 'z' || d == 'Z') {
                n += (size_t)snprintf(pre + n, sizeof(pre) - n, "%s",
                                      d == 'f'   ? ""
                                      : d == 'z' ? "+0000"
                                                 : "UTC");
                if (d == 'f')
                    n += (size_t)snprintf(pre + n, sizeof(pre) - n, "%06d", c.usec);
                k++;
                continue;
            }
            pre[n++] = fmt[k];
            pre[n++] = d;
            k++;
            continue;
        }
        if (fmt[k] == '%') { /* trailing lone '%': Python keeps it */
            pre[n++] = '%';
            pre[n++] = '%';
            continue;
        }
        pre[n++] = fmt[k];
    }
    /* a sentinel tells an empty result from an overflow */
    pre[n++] = '|';
    pre[n] = '\0';
    /* the format is the template's, bounded and checked above */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t m = strftime(outbuf, sizeof(outbuf), pre, &tm);
#pragma GCC diagnostic pop
    if (m == 0)
        return tpl_fail(r, off, "strftime result is too long");
    return tpl_str_value(r, outbuf, m - 1, off, v);
}

/*
 * datetime.strptime(s, fmt) for a date: the whole of s must match. Returns
 * days since the epoch in *days and the time of day in *secs.
 */
int tpl_date_strptime(render_t *r, size_t off, const char *s, size_t slen, const char *fmt,
                      size_t fmtlen, int64_t *days, int *secs)
{
    char sbuf[FMT_MAX + 1], fbuf[FMT_MAX + 1];
    char shown[NAME_SHOW_MAX + 8];
    struct tm tm;

    snprintf(shown, sizeof(shown), "%.*s", (int)(slen > NAME_SHOW_MAX ? NAME_SHOW_MAX : slen), s);
    if (slen > FMT_MAX || fmtlen > FMT_MAX || memchr(s, '\0', slen) || memchr(fmt, '\0', fmtlen))
        return tpl_fail(r, off, "time data '%s' does not match format", shown);
    memcpy(sbuf, s, slen);
    sbuf[slen] = '\0';
    memcpy(fbuf, fmt, fmtlen);
    fbuf[fmtlen] = '\0';
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 0; /* Python's defaults: 1900-01-01 */
    tm.tm_mday = 1;
    const char *end = strptime(sbuf, fbuf, &tm);
    if (!end)
        return tpl_fail(r, off, "time data '%s' does not match format '%s'", shown, fbuf);
    if (*end)
        return tpl_fail(r, off, "unconverted data remains: %s", end);
    int64_t year = (int64_t)tm.tm_year + 1900;
    if (year < 1 || year > 9999 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
        tm.tm_mday > ts_days_in_month(year, tm.tm_mon + 1) || tm.tm_hour < 0 || tm.tm_hour > 23 ||
        tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 61)
        return tpl_fail(r, off, "time data '%s': date value out of range", shown);
    *days = ts_days_from_civil(year, tm.tm_mon + 1, tm.tm_mday);
    *secs = tm.tm_hour * 3600 + tm.tm_min * 60 + (tm.tm_sec > 59 ? 59 : tm.tm_sec);
    return 0;
}

/* ---- printing values ---- */

/* Python's repr() of a float (shortest text that reads back the same). */
static void float_repr(double d, char *buf, size_t buflen)
{
    if (isnan(d)) {
        snprintf(buf, buflen, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, buflen, d < 0 ? "-inf" : "inf");
        return;
    }
    char e[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e = [-]D[.DDD]e[+-]XX */
    char digits[32];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p) && nd < sizeof(digits) - 1)
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    size_t n = 0;
    if (neg)
        buf[n++] = '-';
    if (exp >= -5 + 1 && exp < 16) {
        if (exp >= 0) {
            for (int k = 0; k <= exp; k++)
                buf[n++] = (size_t)k < nd ? digits[k] : '0';
            buf[n++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t k = (size_t)exp + 1; k < nd; k++)
                    buf[n++] = digits[k];
            else
                buf[n++] = '0';
        } else {
            buf[n++] = '0';
            buf[n++] = '.';
            for (int k = 0; k < -exp - 1; k++)
                buf[n++] = '0';
            for (size_t k = 0; k < nd; k++)
                buf[n++] = digits[k];
        }
        buf[n] = '\0';
    } else {
        buf[n++] = digits[0];
        if (nd > 1) {
            buf[n++] = '.';
            for (size_t k = 1; k < nd; k++)
                buf[n++] = digits[k];
        }
        snprintf(buf + n, buflen - n, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

/* A JSON number as Python prints what json.loads made of it. */
static void number_text(double d, char *buf, size_t buflen)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        snprintf(buf, buflen, "%" PRId64, (int64_t)d);
    else
        float_repr(d, buf, buflen);
}

static int repr_string(render_t *r, sbuf_t *b, size_t off, const char *s, size_t n)
{
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    if (tpl_sb_addc(r, b, off, q) != 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        int rc;
        if (c == '\\' || c == (unsigned char)q) {
            char esc[2] = {'\\', (char)c};
            rc = tpl_sb_add(r, b, off, esc, 2);
        } else if (c == '\n') {
            rc = tpl_sb_add(r, b, off, "\\n", 2);
        } else if (c == '\r') {
            rc = tpl_sb_add(r, b, off, "\\r", 2);
        } else if (c == '\t') {
            rc = tpl_sb_add(r, b, off, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            rc = tpl_sb_printf(r, b, off, "\\x%02x", c);
        } else {
            rc = tpl_sb_addc(r, b, off, (char)c);
        }
        if (rc != 0)
            return -1;
    }
    return tpl_sb_addc(r, b, off, q);
}

/* Python's repr() of what json.loads returns; depth is bounded by cJSON. */
static int repr_json(render_t *r, sbuf_t *b, size_t off, const cJSON *j)
{
    char num[64];
    if (cJSON_IsString(j))
        return repr_string(r, b, off, j->valuestring, strlen(j->valuestring));
    if (cJSON_IsNumber(j)) {
        number_text(j->valuedouble, num, sizeof(num));
        return tpl_sb_add(r, b, off, num, strlen(num));
    }
    if (cJSON_IsTrue(j))
        return tpl_sb_add(r, b, off, "True", 4);
    if (cJSON_IsFalse(j))
        return tpl_sb_add(r, b, off, "False", 5);
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        bool obj = cJSON_IsObject(j);
        if (tpl_sb_addc(r, b, off, obj ? '{' : '[') != 0)
            return -1;
        for (const cJSON *c = j->child; c; c = c->next) {
            if (c != j->child && tpl_sb_add(r, b, off, ", ", 2) != 0)
                return -1;
            if (obj && (repr_string(r, b, off, c->string ? c->string : "",
                                    c->string ? strlen(c->string) : 0) != 0 ||
                        tpl_sb_add(r, b, off, ": ", 2) != 0))
                return -1;
            if (repr_json(r, b, off, c) != 0)
                return -1;
        }
        return tpl_sb_addc(r, b, off, obj ? '}' : ']');
    }
    return tpl_sb_add(r, b, off, "None", 4);
}

/* A JSON string as Jinja's tojson writes it (ensure_ascii, <>&' escaped). */
int tpl_json_string(render_t *r, sbuf_t *b, size_t off, const char *s, size_t n)
{
    if (tpl_sb_addc(r, b, off, '"') != 0)
        return -1;
    for (size_t k = 0; k < n;) {
        unsigned char c = (unsigned char)s[k];
        int rc;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = tpl_sb_add(r, b, off, esc, 2);
            k++;
        } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
            char esc[2] = {'\\', c == '\n'   ? 'n'
                                 : c == '\r' ? 'r'
                                 : c == '\t' ? 't'
                                 : c == '\b' ? 'b'
                                             : 'f'};
            rc = tpl_sb_add(r, b, off, esc, 2);
            k++;
        } else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&' || c == '\'') {
            rc = tpl_sb_printf(r, b, off, "\\u%04x", c);
            k++;
        } else if (c < 0x80) {
            rc = tpl_sb_addc(r, b, off, (char)c);
            k++;
        } else {
            /* decode UTF-8; invalid bytes are written as U+FFFD */
            uint32_t cp = 0xFFFD;
            int dl = utf8_decode((const unsigned char *)s + k, n - k, &cp);
            size_t len = dl > 0 ? (size_t)dl : 1;
            if (dl <= 0)
                cp = 0xFFFD;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                rc = tpl_sb_printf(r, b, off, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                                   0xDC00 + (cp & 0x3FF));
            } else {
                rc = tpl_sb_printf(r, b, off, "\\u%04x", cp);
            }
            k += len;
        }
        if (rc != 0)
            return -1;
    }
    return tpl_sb_addc(r, b, off, '"');
}

static int cmp_keys(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* json.dumps(sort_keys=True) with Jinja's html-safe escapes. */
int tpl_json_dump(render_t *r, sbuf_t *b, size_t off, const cJSON *j)
{
    char num[64];
    if (cJSON_IsString(j))
        return tpl_json_string(r, b, off, j->valuestring, strlen(j->valuestring));
    if (cJSON_IsNumber(j)) {
        number_text(j->valuedouble, num, sizeof(num));
        return tpl_sb_add(r, b, off, num, strlen(num));
    }
    if (cJSON_IsTrue(j))
        return tpl_sb_add(r, b, off, "true", 4);
    if (cJSON_IsFalse(j))
        return tpl_sb_add(r, b, off, "false", 5);
    if (cJSON_IsArray(j)) {
        if (tpl_sb_addc(r, b, off, '[') != 0)
            return -1;
        for (const cJSON *c = j->child; c; c = c->next)
            if ((c != j->child && tpl_sb_add(r, b, off, ", ", 2) != 0) ||
                tpl_json_dump(r, b, off, c) != 0)
                return -1;
        return tpl_sb_addc(r, b, off, ']');
    }
    if (cJSON_IsObject(j)) {
        size_t n = 0, k = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            n++;
        const cJSON **kids = n ? malloc(n * sizeof(*kids)) : NULL;
        if (n && !kids)
            return tpl_fail(r, off, "out of memory");
        for (const cJSON *c = j->child; c; c = c->next)
            kids[k++] = c;
        if (n)
            qsort(kids, n, sizeof(*kids), cmp_keys);
        int rc = tpl_sb_addc(r, b, off, '{');
        for (k = 0; rc == 0 && k < n; k++) {
            const char *key = kids[k]->string ? kids[k]->string : "";
            if ((k && tpl_sb_add(r, b, off, ", ", 2) != 0) ||
                tpl_json_string(r, b, off, key, strlen(key)) != 0 ||
                tpl_sb_add(r, b, off, ": ", 2) != 0 || tpl_json_dump(r, b, off, kids[k]) != 0)
                rc = -1;
        }
        free(kids);
        return rc == 0 ? tpl_sb_addc(r, b, off, '}') : -1;
    }
    return tpl_sb_add(r, b, off, "null", 4);
}

typedef struct leaf_secrets {
    render_t *r;
    size_t off;
} leaf_secrets_t;

/* One string under a sensitive key: as it is, as repr() and as tojson write it. */
static int add_leaf_secret(const cJSON *leaf, void *ud)
{
    leaf_secrets_t *c = ud;
    sbuf_t b = {0};
    int rc;

    if (!cJSON_IsString(leaf))
        return 0; /* as Airflow: strings are masked, numbers and booleans are not */
    const char *s = leaf->valuestring;
    size_t n = strlen(s);
    rc = tpl_add_secret(c->r, c->off, s, n);
    /* the escaped forms without their quotes */
    if (rc == 0 && (rc = repr_string(c->r, &b, c->off, s, n)) == 0)
        rc = tpl_add_secret(c->r, c->off, b.p + 1, b.len - 2);
    b.len = 0;
    if (rc == 0 && (rc = tpl_json_string(c->r, &b, c->off, s, n)) == 0)
        rc = tpl_add_secret(c->r, c->off, b.p + 1, b.len - 2);
    free(b.p);
    return rc;
}

int tpl_add_json_secrets(render_t *r, const value_t *v)
{
    leaf_secrets_t c = {r, v->start};

    if (v->kind != V_JSON || (!v->sens_keys && !v->secret))
        return 0;
    return sensitive_json_each(v->j, v->secret, add_leaf_secret, &c) != 0 ? -1 : 0;
}

/* The text Jinja prints for v (str(v)); V_STR is returned as is. */
int tpl_to_text(render_t *r, const value_t *v, const char **s, size_t *n)
{
    char buf[64];
    sbuf_t b = {0};
    value_t tmp = *v;

    switch (v->kind) {
    case V_STR:
        *s = v->s;
        *n = v->slen;
        return 0;
    case V_UNDEF:
        return tpl_fail_undefined(r, v);
    case V_NONE:
        *s = "None";
        *n = 4;
        return 0;
    case V_BOOL:
        *s = v->i ? "True" : "False";
        *n = strlen(*s);
        return 0;
    case V_INT:
        snprintf(buf, sizeof(buf), "%lld", v->i);
        break;
    case V_DATE:
        if (!tpl_iso_of(v->t, buf))
            return tpl_fail(r, v->start, "date out of range");
        break;
    case V_JSON:
        if (cJSON_IsString(v->j)) {
            *s = v->j->valuestring;
            *n = strlen(*s);
            return 0;
        }
        if (cJSON_IsNull(v->j)) {
            *s = "None";
            *n = 4;
            return 0;
        }
        if (tpl_add_json_secrets(r, v) != 0 || repr_json(r, &b, v->start, v->j) != 0 ||
            tpl_sb_finish(r, &b, v->start, &tmp) != 0) {
            free(b.p);
            return -1;
        }
        *s = tmp.s;
        *n = tmp.slen;
        return 0;
    case V_NS:
        /* str(task) and str(dag), as Airflow's reprs print them */
        if ((v->ns == NS_TASK && r->ctx->task_type && r->ctx->task_id) ||
            (v->ns == NS_DAG && r->ctx->dag_id)) {
            bool task = v->ns == NS_TASK;
            const char *id = task ? r->ctx->task_id : r->ctx->dag_id;
            int rc =
                task ? (tpl_sb_add(r, &b, v->start, "<Task(", 6) ||
                        tpl_sb_add(r, &b, v->start, r->ctx->task_type, strlen(r->ctx->task_type)) ||
                        tpl_sb_add(r, &b, v->start, "): ", 3))
                     : tpl_sb_add(r, &b, v->start, "<DAG: ", 6);
            if (rc != 0 || tpl_sb_add(r, &b, v->start, id, strlen(id)) != 0 ||
                tpl_sb_addc(r, &b, v->start, '>') != 0 ||
                tpl_sb_finish(r, &b, v->start, &tmp) != 0) {
                free(b.p);
                return -1;
            }
            *s = tmp.s;
            *n = tmp.slen;
            return 0;
        }
        /* fall through */
    case V_FUNC: {
        char name[NAME_SHOW_MAX + 8];
        tpl_span_text(r, v->start, v->end, name, sizeof(name));
        return tpl_fail(r, v->start, "'%s' is not a value", name);
    }
    }
    *s = tpl_dup_mem(r, v->start, buf, strlen(buf));
    *n = strlen(buf);
    return *s ? 0 : -1;
}

/* ---- lookups ---- */

static lookup_t *lookup_find(render_t *r, lk_t kind, const char *key)
{
    for (size_t k = 0; k < r->nlookups; k++)
        if (r->lookups[k]->kind == kind && strcmp(r->lookups[k]->key, key) == 0)
            return r->lookups[k];
    return NULL;
}

void tpl_lookup_free(lookup_t *l)
{
    if (!l)
        return;
    free(l->key);
    free(l->text);
    cJSON_Delete(l->json);
    free(l->conn.conn_type);
    free(l->conn.host);
    free(l->conn.login);
    free(l->conn.password);
    free(l->conn.schema);
    free(l->conn.extra);
    cJSON_Delete(l->extra);
    free(l);
}

/*
 * Looks up (once per render) a variable, connection or XCom. key is the
 * cache key; a, b, c the callback's string arguments. Returns the entry
 * (found tells whether it exists) or NULL with the render failed.
 */
lookup_t *tpl_lookup_get(render_t *r, size_t off, lk_t kind, const char *key, const char *a,
                         const char *b, const char *c)
{
    const template_ctx_t *ctx = r->ctx;
    lookup_t *l = lookup_find(r, kind, key);
    char cberr[256] = "";
    if (l)
        return l;
    if (r->nlookups == TEMPLATE_MAX_LOOKUPS) {
        tpl_fail(r, off, "more than %d variable, connection and XCom lookups",
                 TEMPLATE_MAX_LOOKUPS);
        return NULL;
    }
    l = calloc(1, sizeof(*l));
    if (!l || !(l->key = strdup(key))) {
        tpl_lookup_free(l);
        tpl_fail(r, off, "out of memory");
        return NULL;
    }
    l->kind = kind;
    l->conn.port = -1;
    int rc = 0;
    switch (kind) {
    case LK_VAR:
        if (ctx->var_get)
            rc = ctx->var_get(ctx->ud, a, &l->text, &l->secret, cberr, sizeof(cberr));
        break;
    case LK_CONN:
        if (ctx->conn_get)
            rc = ctx->conn_get(ctx->ud, a, &l->conn, cberr, sizeof(cberr));
        break;
    case LK_XCOM:
        if (ctx->xcom_get)
            rc = ctx->xcom_get(ctx->ud, a, b, c, &l->text, cberr, sizeof(cberr));
        break;
    }
    r->lookups[r->nlookups++] = l; /* owned from here, whatever rc */
    if (rc < 0) {
        cberr[sizeof(cberr) - 1] = '\0';
        tpl_fail(r, off, "%s", cberr[0] ? cberr : "lookup failed");
        return NULL;
    }
    l->found = rc > 0;
    if (l->found && kind == LK_VAR) {
        if (!l->text && !(l->text = strdup(""))) {
            tpl_fail(r, off, "out of memory");
            return NULL;
        }
        if (tpl_name_sensitive(a, strlen(a)))
            l->secret = true;
        if (l->secret && tpl_add_secret(r, off, l->text, strlen(l->text)) != 0)
            return NULL;
    }
    if (l->found && kind == LK_XCOM && !l->text) {
        if (!(l->text = strdup("null"))) {
            tpl_fail(r, off, "out of memory");
            return NULL;
        }
    }
    if (l->found && kind == LK_CONN) {
        if (l->conn.password && tpl_add_secret(r, off, l->conn.password, strlen(l->conn.password)))
            return NULL;
        if (l->conn.extra && tpl_add_secret(r, off, l->conn.extra, strlen(l->conn.extra)))
            return NULL;
    }
    return l;
}

cJSON *tpl_parse_json_text(const char *text)
{
    /* the length includes the NUL, which require_null_terminated checks for */
    return cJSON_ParseWithLengthOpts(text, strlen(text) + 1, NULL, 1);
}

/* A key for lookups: the value's text, refused when it holds a NUL. */
const char *tpl_key_text(render_t *r, const value_t *v, const char *what)
{
    const char *s;
    size_t n;
    if (v->kind == V_UNDEF) {
        tpl_fail_undefined(r, v);
        return NULL;
    }
    if (v->kind != V_STR && !(v->kind == V_JSON && cJSON_IsString(v->j))) {
        tpl_fail(r, v->start, "%s must be a string", what);
        return NULL;
    }
    if (tpl_to_text(r, v, &s, &n) != 0)
        return NULL;
    if (memchr(s, '\0', n) || n == 0) {
        tpl_fail(r, v->start, "%s must be a non-empty string without NUL characters", what);
        return NULL;
    }
    return s;
}

/* ---- namespaces and attributes ---- */

static void set_str(value_t *v, const char *s)
{
    v->kind = s ? V_STR : V_NONE;
    v->s = s;
    v->slen = s ? strlen(s) : 0;
}

static void set_date(value_t *v, ts_us_t t)
{
    v->kind = t == TS_NONE ? V_NONE : V_DATE;
    v->t = t;
}

static int load_root_json(render_t *r, size_t off, const char *text, const char *what, cJSON **doc,
                          bool *tried)
{
    if (*tried)
        return *doc ? 0 : tpl_fail(r, off, "%s is not a JSON object", what);
    *tried = true;
    *doc = text ? tpl_parse_json_text(text) : cJSON_CreateObject();
    if (!*doc || !cJSON_IsObject(*doc))
        return tpl_fail(r, off, "%s is not a JSON object", what);
    return 0;
}

int tpl_eval_name(render_t *r, const char *name, size_t n, size_t start, value_t *v)
{
    const template_ctx_t *ctx = r->ctx;
    template_dates_t d;
    bool have_dates = template_dates_compute(ctx->logical_date, TS_NONE, TS_NONE, &d) == 0;

    memset(v, 0, sizeof(*v));
    v->start = start;
    v->end = start + n;
    v->kind = V_UNDEF;
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, n) == 0)
    const char *date_str = NULL;
    if (IS("ds"))
        date_str = d.ds;
    else if (IS("ds_nodash"))
        date_str = d.ds_nodash;
    else if (IS("ts"))
        date_str = d.ts;
    else if (IS("ts_nodash"))
        date_str = d.ts_nodash;
    else if (IS("ts_nodash_with_tz"))
        date_str = d.ts_nodash_with_tz;
    if (date_str) {
        if (have_dates) {
            v->s = tpl_dup_mem(r, start, date_str, strlen(date_str));
            if (!v->s)
                return -1;
            v->kind = V_STR;
            v->slen = strlen(date_str);
        }
        return 0;
    }
    if (IS("logical_date") || IS("execution_date")) {
        if (ctx->logical_date != TS_NONE)
            set_date(v, ctx->logical_date);
    } else if (IS("data_interval_start")) {
        set_date(v, ctx->data_interval_start);
    } else if (IS("data_interval_end")) {
        set_date(v, ctx->data_interval_end);
    } else if (IS("prev_data_interval_start_success")) {
        set_date(v, ctx->prev_data_interval_start_success);
    } else if (IS("prev_data_interval_end_success")) {
        set_date(v, ctx->prev_data_interval_end_success);
    } else if (IS("run_id")) {
        if (ctx->run_id)
            set_str(v, ctx->run_id);
    } else if (IS("params")) {
        if (load_root_json(r, start, ctx->params_json, "params", &r->params, &r->params_tried))
            return -1;
        v->kind = V_JSON;
        v->j = r->params;
        v->sens_keys = true;
    } else if (IS("None") || IS("none")) {
        v->kind = V_NONE;
    } else if (IS("True") || IS("true") || IS("False") || IS("false")) {
        v->kind = V_BOOL;
        v->i = name[0] == 'T' || name[0] == 't';
    } else {
        static const struct {
            const char *name;
            ns_t ns;
        } roots[] = {{"var", NS_VAR},   {"conn", NS_CONN},        {"macros", NS_MACROS},
                     {"ti", NS_TI},     {"task_instance", NS_TI}, {"dag", NS_DAG},
                     {"task", NS_TASK}, {"dag_run", NS_DAG_RUN}};
        for (size_t k = 0; k < sizeof(roots) / sizeof(roots[0]); k++) {
            if (strlen(roots[k].name) == n && memcmp(roots[k].name, name, n) == 0) {
                v->kind = V_NS;
                v->ns = (int)roots[k].ns;
            }
        }
    }
    return 0;
}

/* A JSON object's member (sensitive names make the value secret). */
static int json_attr(value_t *v, const char *key, size_t n, bool key_ok)
{
    const cJSON *j = v->j;

    if (!cJSON_IsObject(j) || !key_ok)
        return 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!c)
        return 0;
    v->kind = V_JSON;
    v->j = c;
    if (v->sens_keys && tpl_name_sensitive(key, n))
        v->secret = true;
    return 0;
}

/* A date's parts, and its strftime and isoformat methods. */
static int date_attr(render_t *r, value_t *v, const char *key)
{
    civil_t c;
    if (!civil_of(v->t, &c))
        return tpl_fail(r, v->start, "date out of range");
    long long parts[] = {c.year, c.month, c.day, c.hour, c.minute, c.second, c.usec};
    static const char *const names[] = {"year",   "month",  "day",        "hour",
                                        "minute", "second", "microsecond"};
    for (size_t k = 0; k < 7; k++) {
        if (strcmp(key, names[k]) == 0) {
            v->kind = V_INT;
            v->i = parts[k];
        }
    }
    if (strcmp(key, "strftime") == 0 || strcmp(key, "isoformat") == 0) {
        v->kind = V_FUNC;
        v->ns = key[0] == 's' ? FN_STRFTIME : FN_ISOFORMAT;
    }
    return 0;
}

/* var.value.NAME / var.json.NAME, and their get methods. */
static int var_attr(render_t *r, value_t *v, const char *key)
{
    bool json = v->ns == NS_VAR_JSON;
    if (strcmp(key, "get") == 0) {
        v->kind = V_FUNC;
        v->ns = json ? FN_VAR_GET_JSON : FN_VAR_GET_VALUE;
        return 0;
    }
    lookup_t *l = tpl_lookup_get(r, v->start, LK_VAR, key, key, NULL, NULL);
    if (!l)
        return -1;
    if (!l->found)
        return 0;
    v->secret = l->secret;
    if (!json) {
        set_str(v, l->text);
        return 0;
    }
    if (!l->json_tried) {
        l->json_tried = true;
        l->json = tpl_parse_json_text(l->text);
    }
    if (!l->json)
        return tpl_fail(r, v->start, "variable '%s' is not valid JSON", key);
    v->kind = V_JSON;
    v->j = l->json;
    v->sens_keys = true;
    return 0;
}

/* conn.ID.NAME: a connection's fields, extra_dejson parsed once. */
static int conn_attr(render_t *r, value_t *v, const char *key)
{
    lookup_t *l = v->conn;
    const template_conn_t *c = &l->conn;
    if (strcmp(key, "host") == 0) {
        set_str(v, c->host);
    } else if (strcmp(key, "login") == 0) {
        set_str(v, c->login);
    } else if (strcmp(key, "schema") == 0) {
        set_str(v, c->schema);
    } else if (strcmp(key, "conn_type") == 0) {
        set_str(v, c->conn_type);
    } else if (strcmp(key, "conn_id") == 0) {
        set_str(v, l->key);
    } else if (strcmp(key, "password") == 0) {
        set_str(v, c->password);
        v->secret = true;
    } else if (strcmp(key, "extra") == 0) {
        set_str(v, c->extra);
        v->secret = true;
    } else if (strcmp(key, "port") == 0) {
        v->kind = c->port < 0 ? V_NONE : V_INT;
        v->i = c->port;
    } else if (strcmp(key, "extra_dejson") == 0) {
        if (!l->extra_tried) {
            l->extra_tried = true;
            l->extra =
                c->extra && c->extra[0] ? tpl_parse_json_text(c->extra) : cJSON_CreateObject();
            if (l->extra && !cJSON_IsObject(l->extra)) {
                cJSON_Delete(l->extra);
                l->extra = NULL;
            }
        }
        if (!l->extra)
            return tpl_fail(r, v->start, "extra of connection '%s' is not a JSON object", l->key);
        v->kind = V_JSON;
        v->j = l->extra;
        v->sens_keys = true;
    }
    return 0;
}

/* ti.NAME */
static int ti_attr(const template_ctx_t *ctx, value_t *v, const char *key)
{
    if (strcmp(key, "xcom_pull") == 0) {
        v->kind = V_FUNC;
        v->ns = FN_XCOM_PULL;
    } else if (strcmp(key, "try_number") == 0 || strcmp(key, "map_index") == 0) {
        v->kind = V_INT;
        v->i = key[0] == 't' ? ctx->try_number : ctx->map_index;
    } else if (strcmp(key, "task_id") == 0 && ctx->task_id) {
        set_str(v, ctx->task_id);
    } else if (strcmp(key, "dag_id") == 0 && ctx->dag_id) {
        set_str(v, ctx->dag_id);
    } else if (strcmp(key, "run_id") == 0 && ctx->run_id) {
        set_str(v, ctx->run_id);
    }
    return 0;
}

/* dag_run.NAME */
static int dag_run_attr(render_t *r, value_t *v, const char *key)
{
    const template_ctx_t *ctx = r->ctx;

    if (strcmp(key, "run_id") == 0 && ctx->run_id) {
        set_str(v, ctx->run_id);
    } else if (strcmp(key, "dag_id") == 0 && ctx->dag_id) {
        set_str(v, ctx->dag_id);
    } else if (strcmp(key, "logical_date") == 0 && ctx->logical_date != TS_NONE) {
        set_date(v, ctx->logical_date);
    } else if (strcmp(key, "data_interval_start") == 0) {
        set_date(v, ctx->data_interval_start);
    } else if (strcmp(key, "data_interval_end") == 0) {
        set_date(v, ctx->data_interval_end);
    } else if (strcmp(key, "conf") == 0) {
        if (load_root_json(r, v->start, ctx->conf_json, "dag_run.conf", &r->conf, &r->conf_tried))
            return -1;
        v->kind = V_JSON;
        v->j = r->conf;
        v->sens_keys = true;
    }
    return 0;
}

/* Value of v.name (or v['name']); an unknown name leaves v undefined. */
int tpl_get_attr(render_t *r, value_t *v, const char *name, size_t n, size_t end)
{
    const template_ctx_t *ctx = r->ctx;
    char key[512];
    vkind_t kind = v->kind;
    v->end = end;
    if (kind == V_UNDEF)
        return 0;
    v->kind = V_UNDEF;
    /* names used as lookup keys: no NUL, bounded */
    bool key_ok = n > 0 && n < sizeof(key) && !memchr(name, '\0', n);
    if (key_ok) {
        memcpy(key, name, n);
        key[n] = '\0';
    } else {
        key[0] = '\0';
    }

    if (kind == V_JSON)
        return json_attr(v, key, n, key_ok);
    if (kind == V_DATE)
        return date_attr(r, v, key);
    if (kind != V_NS || !key_ok)
        return 0;

    switch ((ns_t)v->ns) {
    case NS_VAR:
        if (strcmp(key, "value") == 0 || strcmp(key, "json") == 0) {
            v->kind = V_NS;
            v->ns = key[0] == 'v' ? NS_VAR_VALUE : NS_VAR_JSON;
        }
        return 0;
    case NS_VAR_VALUE:
    case NS_VAR_JSON:
        return var_attr(r, v, key);
    case NS_CONN: {
        lookup_t *l = tpl_lookup_get(r, v->start, LK_CONN, key, key, NULL, NULL);
        if (!l)
            return -1;
        if (l->found) {
            v->kind = V_NS;
            v->ns = NS_CONN_ID;
            v->conn = l;
        }
        return 0;
    }
    case NS_CONN_ID:
        return conn_attr(r, v, key);
    case NS_MACROS:
        if (strcmp(key, "ds_add") == 0 || strcmp(key, "ds_format") == 0) {
            v->kind = V_FUNC;
            v->ns = strcmp(key, "ds_add") == 0 ? FN_DS_ADD : FN_DS_FORMAT;
        }
        return 0;
    case NS_TI:
        return ti_attr(ctx, v, key);
    case NS_DAG:
        if (strcmp(key, "dag_id") == 0 && ctx->dag_id)
            set_str(v, ctx->dag_id);
        return 0;
    case NS_TASK:
        if (strcmp(key, "task_id") == 0 && ctx->task_id)
            set_str(v, ctx->task_id);
        return 0;
    case NS_DAG_RUN:
        return dag_run_attr(r, v, key);
    }
    return 0;
}

/* v[idx] */
int tpl_get_item(render_t *r, value_t *v, const value_t *idx, size_t end)
{
    if (idx->kind == V_UNDEF)
        return tpl_fail_undefined(r, idx);
    if (v->kind == V_UNDEF) {
        v->end = end;
        return 0;
    }
    if (idx->kind == V_STR || (idx->kind == V_JSON && cJSON_IsString(idx->j))) {
        const char *s;
        size_t n;
        if (tpl_to_text(r, idx, &s, &n) != 0)
            return -1;
        return tpl_get_attr(r, v, s, n, end);
    }
    long long i;
    if (idx->kind == V_INT)
        i = idx->i;
    else if (idx->kind == V_JSON && cJSON_IsNumber(idx->j) &&
             idx->j->valuedouble == floor(idx->j->valuedouble) && fabs(idx->j->valuedouble) < 1e15)
        i = (long long)idx->j->valuedouble;
    else
        return tpl_fail(r, idx->start, "index must be a string or an integer");
    v->end = end;
    if (v->kind != V_JSON || !cJSON_IsArray(v->j)) {
        v->kind = V_UNDEF;
        return 0;
    }
    long long size = cJSON_GetArraySize(v->j);
    if (i < 0)
        i += size;
    if (i < 0 || i >= size) {
        v->kind = V_UNDEF;
        return 0;
    }
    v->j = cJSON_GetArrayItem(v->j, (int)i);
    return 0;
}
