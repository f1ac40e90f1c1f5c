/*
 * template.c - Jinja-compatible rendering of task fields, executing nothing.
 *
 * Design: one pass over the text. Template data is copied to the output;
 * at "{{" a recursive-descent parser reads the expression and evaluates it
 * as it goes (there are no statements, so nothing is ever skipped and no
 * tree is needed). Values are small tagged structs; the strings and JSON
 * documents they point at belong to the render (a list of allocations and
 * a lookup cache freed together at the end), so no value owns anything.
 *
 * Names resolve through fixed namespaces (var, conn, macros, ti, ...): an
 * attribute on a namespace is a table lookup, never a call into anything
 * the template names. Undefined values are carried (with the source span
 * they came from) until something uses them, so that `x | default('y')`
 * works as with Jinja's StrictUndefined and the error names what was
 * written.
 *
 * Bounds: input size before anything is allocated; every string built is
 * limited to max_output; all bytes built count against a work budget, so a
 * chain of filters cannot run for long or use much memory; bracket and
 * call nesting are limited; lookups are cached and counted.
 */
#include "model/template.h"

#include "core/utf8.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/secrets.h"

#define MAX_ARGS 8
#define NAME_SHOW_MAX 80 /* longest source span quoted in a message */
#define FMT_MAX 512      /* strftime / strptime format length */
#define WS " \t\n\r\f\v"

/* ---- values ---- */

typedef enum {
    V_UNDEF,
    V_NONE,
    V_BOOL,
    V_INT,
    V_STR,
    V_JSON,
    V_DATE,
    V_NS,
    V_FUNC,
} vkind_t;

typedef enum {
    NS_VAR,
    NS_VAR_VALUE,
    NS_VAR_JSON,
    NS_CONN,
    NS_CONN_ID,
    NS_MACROS,
    NS_TI,
    NS_DAG,
    NS_TASK,
    NS_DAG_RUN,
} ns_t;

typedef enum {
    FN_DS_ADD,
    FN_DS_FORMAT,
    FN_XCOM_PULL,
    FN_VAR_GET_VALUE,
    FN_VAR_GET_JSON,
    FN_STRFTIME,
    FN_ISOFORMAT,
} fn_t;

struct lookup;

typedef struct value {
    vkind_t kind;
    bool secret;    /* came from a secret: printed text goes to the secrets list */
    bool sens_keys; /* V_JSON: keys with sensitive names make their values secret */
    int ns;         /* ns_t for V_NS, fn_t for V_FUNC */
    long long i;    /* V_INT, V_BOOL */
    const char *s;  /* V_STR */
    size_t slen;
    const cJSON *j;      /* V_JSON */
    ts_us_t t;           /* V_DATE, and the date of FN_STRFTIME / FN_ISOFORMAT */
    struct lookup *conn; /* NS_CONN_ID */
    size_t start, end;   /* source span, for messages */
} value_t;

/* ---- lookups, cached per render ---- */

typedef enum { LK_VAR, LK_CONN, LK_XCOM } lk_t;

typedef struct lookup {
    lk_t kind;
    char *key; /* var name, conn id, or "dag\x1ftask\x1fkey" */
    int found;
    char *text; /* var value, xcom JSON */
    bool secret;
    cJSON *json; /* parsed text (var.json, xcom) */
    bool json_tried;
    template_conn_t conn;
    cJSON *extra;
    bool extra_tried;
} lookup_t;

/* ---- tokens ---- */

typedef enum {
    T_EOF,
    T_NAME,
    T_STR,
    T_INT,
    T_DOT,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_COMMA,
    T_EQ,
    T_PIPE,
    T_MINUS,
    T_TILDE,
    T_CLOSE,
} tok_type_t;

typedef struct token {
    tok_type_t type;
    size_t start, len; /* source span */
    const char *s;     /* T_STR: decoded (render-owned); T_NAME: src */
    size_t slen;
    long long i;
    bool strip; /* T_CLOSE: "-}}" */
} token_t;

typedef struct render {
    const template_ctx_t *ctx;
    const char *src;
    size_t len;
    size_t pos; /* lexer position */
    token_t tok;
    int depth;
    size_t max_output;
    size_t work, max_work;
    char *err;
    size_t errlen;
    bool failed;
    /* output */
    char *out;
    size_t out_len, out_cap;
    /* allocations freed at the end */
    void **allocs;
    size_t nallocs, allocs_cap;
    lookup_t *lookups[TEMPLATE_MAX_LOOKUPS];
    size_t nlookups;
    cJSON *params, *conf;
    bool params_tried, conf_tried;
    char **secrets;
    size_t nsecrets, secrets_cap;
} render_t;

static int parse_expr(render_t *r, value_t *v);

/* ---- errors ---- */

static void position_of(const render_t *r, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    if (off > r->len)
        off = r->len;
    for (size_t k = 0; k < off; k++) {
        if (r->src[k] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

__attribute__((format(printf, 3, 4))) static int fail(render_t *r, size_t off, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    r->failed = true;
    if (!r->err || r->errlen == 0)
        return -1;
    int line, col;
    position_of(r, off, &line, &col);
    int n = snprintf(r->err, r->errlen, "line %d, column %d: ", line, col);
    if (n >= 0 && (size_t)n < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The source text of a span, shortened and made printable, for messages. */
static void span_text(const render_t *r, size_t start, size_t end, char *buf, size_t buflen)
{
    size_t n = 0;
    if (end > r->len)
        end = r->len;
    for (size_t k = start; k < end && n + 4 < buflen; k++) {
        unsigned char c = (unsigned char)r->src[k];
        if (k - start >= NAME_SHOW_MAX) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        buf[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    buf[n] = '\0';
}

static int fail_undefined(render_t *r, const value_t *v)
{
    char name[NAME_SHOW_MAX + 8];
    span_text(r, v->start, v->end, name, sizeof(name));
    return fail(r, v->start, "'%s' is undefined", name);
}

/* ---- memory ---- */

static void *keep(render_t *r, void *p)
{
    if (!p)
        return NULL;
    if (r->nallocs == r->allocs_cap) {
        size_t cap = r->allocs_cap ? r->allocs_cap * 2 : 32;
        void **a = realloc(r->allocs, cap * sizeof(*a));
        if (!a) {
            free(p);
            return NULL;
        }
        r->allocs = a;
        r->allocs_cap = cap;
    }
    r->allocs[r->nallocs++] = p;
    return p;
}

/* Charges n bytes of work; fails when the budget is spent. */
static int charge(render_t *r, size_t off, size_t n)
{
    if (n > r->max_output)
        return fail(r, off, "value is larger than %zu bytes", r->max_output);
    r->work += n;
    if (r->work > r->max_work)
        return fail(r, off, "template needs more than %zu bytes of work to render", r->max_work);
    return 0;
}

/* A render-owned copy of s[0..n) with a NUL after it. */
static char *dup_mem(render_t *r, size_t off, const char *s, size_t n)
{
    if (charge(r, off, n) != 0)
        return NULL;
    char *p = keep(r, malloc(n + 1));
    if (!p) {
        fail(r, off, "out of memory");
        return NULL;
    }
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Sets v to a render-owned copy of s[0..n). */
static int str_value(render_t *r, const char *s, size_t n, size_t off, value_t *v)
{
    const char *p = dup_mem(r, off, s, n);
    if (!p)
        return -1;
    v->kind = V_STR;
    v->s = p;
    v->slen = n;
    return 0;
}

/* Growable string, limited to max_output; on failure the render has failed. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static int sb_add(render_t *r, sbuf_t *b, size_t off, const char *s, size_t n)
{
    if (n > r->max_output || b->len + n > r->max_output)
        return fail(r, off, "value is larger than %zu bytes", r->max_output);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return fail(r, off, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int sb_addc(render_t *r, sbuf_t *b, size_t off, char c)
{
    return sb_add(r, b, off, &c, 1);
}

__attribute__((format(printf, 4, 5))) static int sb_printf(render_t *r, sbuf_t *b, size_t off,
                                                           const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return fail(r, off, "internal formatting error");
    return sb_add(r, b, off, tmp, (size_t)n);
}

/* Hands the buffer to the render as a V_STR value; b is emptied. */
static int sb_finish(render_t *r, sbuf_t *b, size_t off, value_t *v)
{
    if (!b->p && sb_add(r, b, off, "", 0) != 0)
        return -1;
    if (charge(r, off, b->len) != 0 || !keep(r, b->p)) {
        if (!r->failed)
            fail(r, off, "out of memory");
        free(b->p);
        b->p = NULL;
        return -1;
    }
    v->kind = V_STR;
    v->s = b->p;
    v->slen = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return 0;
}

static int out_add(render_t *r, size_t off, const char *s, size_t n)
{
    if (n > r->max_output || r->out_len + n > r->max_output)
        return fail(r, off, "rendered text is larger than %zu bytes", r->max_output);
    if (r->out_len + n + 1 > r->out_cap) {
        size_t cap = r->out_cap ? r->out_cap : 256;
        while (cap < r->out_len + n + 1)
            cap *= 2;
        char *p = realloc(r->out, cap);
        if (!p)
            return fail(r, off, "out of memory");
        r->out = p;
        r->out_cap = cap;
    }
    if (n)
        memcpy(r->out + r->out_len, s, n);
    r->out_len += n;
    r->out[r->out_len] = '\0';
    return 0;
}

static int add_secret(render_t *r, size_t off, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t k = 0; k < r->nsecrets; k++)
        if (strlen(r->secrets[k]) == n && memcmp(r->secrets[k], s, n) == 0)
            return 0;
    if (r->nsecrets == TEMPLATE_MAX_SECRETS)
        return fail(r, off, "more than %d distinct secret values", TEMPLATE_MAX_SECRETS);
    if (r->nsecrets == r->secrets_cap) {
        size_t cap = r->secrets_cap ? r->secrets_cap * 2 : 8;
        char **a = realloc(r->secrets, cap * sizeof(*a));
        if (!a)
            return fail(r, off, "out of memory");
        r->secrets = a;
        r->secrets_cap = cap;
    }
    char *p = malloc(n + 1);
    if (!p)
        return fail(r, off, "out of memory");
    memcpy(p, s, n);
    p[n] = '\0';
    r->secrets[r->nsecrets++] = p;
    return 0;
}

/* Airflow's DEFAULT_SENSITIVE_FIELDS (secrets.h), on the first 255 bytes of name[0..n). */
static bool name_sensitive(const char *name, size_t n)
{
    char buf[256];
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return secrets_name_is_sensitive(buf);
}

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
static bool iso_of(ts_us_t t, char *buf)
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
    iso_of(logical, out->ts);
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
    else if (!iso_of(interval_start, out->data_interval_start))
        goto bad;
    if (interval_end == TS_NONE)
        strcpy(out->data_interval_end, "None");
    else if (!iso_of(interval_end, out->data_interval_end))
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
static int date_strftime(render_t *r, size_t off, ts_us_t t, const char *fmt, size_t fmtlen,
                         value_t *v)
{
    civil_t c;
    struct tm tm;
    char pre[FMT_MAX * 8 + 2];
    char outbuf[FMT_MAX * 16];
    size_t n = 0;

    if (fmtlen > FMT_MAX)
        return fail(r, off, "strftime format is longer than %d bytes", FMT_MAX);
    if (memchr(fmt, '\0', fmtlen))
        return fail(r, off, "strftime format contains a NUL character");
    if (!civil_of(t, &c))
        return fail(r, off, "date out of range");
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
        return fail(r, off, "strftime result is too long");
    return str_value(r, outbuf, m - 1, off, v);
}

/*
 * datetime.strptime(s, fmt) for a date: the whole of s must match. Returns
 * days since the epoch in *days and the time of day in *secs.
 */
static int date_strptime(render_t *r, size_t off, const char *s, size_t slen, const char *fmt,
                         size_t fmtlen, int64_t *days, int *secs)
{
    char sbuf[FMT_MAX + 1], fbuf[FMT_MAX + 1];
    char shown[NAME_SHOW_MAX + 8];
    struct tm tm;

    snprintf(shown, sizeof(shown), "%.*s", (int)(slen > NAME_SHOW_MAX ? NAME_SHOW_MAX : slen), s);
    if (slen > FMT_MAX || fmtlen > FMT_MAX || memchr(s, '\0', slen) || memchr(fmt, '\0', fmtlen))
        return fail(r, off, "time data '%s' does not match format", shown);
    memcpy(sbuf, s, slen);
    sbuf[slen] = '\0';
    memcpy(fbuf, fmt, fmtlen);
    fbuf[fmtlen] = '\0';
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 0; /* Python's defaults: 1900-01-01 */
    tm.tm_mday = 1;
    const char *end = strptime(sbuf, fbuf, &tm);
    if (!end)
        return fail(r, off, "time data '%s' does not match format '%s'", shown, fbuf);
    if (*end)
        return fail(r, off, "unconverted data remains: %s", end);
    int64_t year = (int64_t)tm.tm_year + 1900;
    if (year < 1 || year > 9999 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
        tm.tm_mday > ts_days_in_month(year, tm.tm_mon + 1) || tm.tm_hour < 0 || tm.tm_hour > 23 ||
        tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 61)
        return fail(r, off, "time data '%s': date value out of range", shown);
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
    if (sb_addc(r, b, off, q) != 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        int rc;
        if (c == '\\' || c == (unsigned char)q) {
            char esc[2] = {'\\', (char)c};
            rc = sb_add(r, b, off, esc, 2);
        } else if (c == '\n') {
            rc = sb_add(r, b, off, "\\n", 2);
        } else if (c == '\r') {
            rc = sb_add(r, b, off, "\\r", 2);
        } else if (c == '\t') {
            rc = sb_add(r, b, off, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            rc = sb_printf(r, b, off, "\\x%02x", c);
        } else {
            rc = sb_addc(r, b, off, (char)c);
        }
        if (rc != 0)
            return -1;
    }
    return sb_addc(r, b, off, q);
}

/* Python's repr() of what json.loads returns; depth is bounded by cJSON. */
static int repr_json(render_t *r, sbuf_t *b, size_t off, const cJSON *j)
{
    char num[64];
    if (cJSON_IsString(j))
        return repr_string(r, b, off, j->valuestring, strlen(j->valuestring));
    if (cJSON_IsNumber(j)) {
        number_text(j->valuedouble, num, sizeof(num));
        return sb_add(r, b, off, num, strlen(num));
    }
    if (cJSON_IsTrue(j))
        return sb_add(r, b, off, "True", 4);
    if (cJSON_IsFalse(j))
        return sb_add(r, b, off, "False", 5);
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        bool obj = cJSON_IsObject(j);
        if (sb_addc(r, b, off, obj ? '{' : '[') != 0)
            return -1;
        for (const cJSON *c = j->child; c; c = c->next) {
            if (c != j->child && sb_add(r, b, off, ", ", 2) != 0)
                return -1;
            if (obj && (repr_string(r, b, off, c->string ? c->string : "",
                                    c->string ? strlen(c->string) : 0) != 0 ||
                        sb_add(r, b, off, ": ", 2) != 0))
                return -1;
            if (repr_json(r, b, off, c) != 0)
                return -1;
        }
        return sb_addc(r, b, off, obj ? '}' : ']');
    }
    return sb_add(r, b, off, "None", 4);
}

/* A JSON string as Jinja's tojson writes it (ensure_ascii, <>&' escaped). */
static int json_string(render_t *r, sbuf_t *b, size_t off, const char *s, size_t n)
{
    if (sb_addc(r, b, off, '"') != 0)
        return -1;
    for (size_t k = 0; k < n;) {
        unsigned char c = (unsigned char)s[k];
        int rc;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = sb_add(r, b, off, esc, 2);
            k++;
        } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
            char esc[2] = {'\\', c == '\n'   ? 'n'
                                 : c == '\r' ? 'r'
                                 : c == '\t' ? 't'
                                 : c == '\b' ? 'b'
                                             : 'f'};
            rc = sb_add(r, b, off, esc, 2);
            k++;
        } else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&' || c == '\'') {
            rc = sb_printf(r, b, off, "\\u%04x", c);
            k++;
        } else if (c < 0x80) {
            rc = sb_addc(r, b, off, (char)c);
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
                rc = sb_printf(r, b, off, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                               0xDC00 + (cp & 0x3FF));
            } else {
                rc = sb_printf(r, b, off, "\\u%04x", cp);
            }
            k += len;
        }
        if (rc != 0)
            return -1;
    }
    return sb_addc(r, b, off, '"');
}

static int cmp_keys(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* json.dumps(sort_keys=True) with Jinja's html-safe escapes. */
static int json_dump(render_t *r, sbuf_t *b, size_t off, const cJSON *j)
{
    char num[64];
    if (cJSON_IsString(j))
        return json_string(r, b, off, j->valuestring, strlen(j->valuestring));
    if (cJSON_IsNumber(j)) {
        number_text(j->valuedouble, num, sizeof(num));
        return sb_add(r, b, off, num, strlen(num));
    }
    if (cJSON_IsTrue(j))
        return sb_add(r, b, off, "true", 4);
    if (cJSON_IsFalse(j))
        return sb_add(r, b, off, "false", 5);
    if (cJSON_IsArray(j)) {
        if (sb_addc(r, b, off, '[') != 0)
            return -1;
        for (const cJSON *c = j->child; c; c = c->next)
            if ((c != j->child && sb_add(r, b, off, ", ", 2) != 0) || json_dump(r, b, off, c) != 0)
                return -1;
        return sb_addc(r, b, off, ']');
    }
    if (cJSON_IsObject(j)) {
        size_t n = 0, k = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            n++;
        const cJSON **kids = n ? malloc(n * sizeof(*kids)) : NULL;
        if (n && !kids)
            return fail(r, off, "out of memory");
        for (const cJSON *c = j->child; c; c = c->next)
            kids[k++] = c;
        if (n)
            qsort(kids, n, sizeof(*kids), cmp_keys);
        int rc = sb_addc(r, b, off, '{');
        for (k = 0; rc == 0 && k < n; k++) {
            const char *key = kids[k]->string ? kids[k]->string : "";
            if ((k && sb_add(r, b, off, ", ", 2) != 0) ||
                json_string(r, b, off, key, strlen(key)) != 0 || sb_add(r, b, off, ": ", 2) != 0 ||
                json_dump(r, b, off, kids[k]) != 0)
                rc = -1;
        }
        free(kids);
        return rc == 0 ? sb_addc(r, b, off, '}') : -1;
    }
    return sb_add(r, b, off, "null", 4);
}

/* The text Jinja prints for v (str(v)); V_STR is returned as is. */
static int to_text(render_t *r, const value_t *v, const char **s, size_t *n)
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
        return fail_undefined(r, v);
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
        if (!iso_of(v->t, buf))
            return fail(r, v->start, "date out of range");
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
        if (repr_json(r, &b, v->start, v->j) != 0 || sb_finish(r, &b, v->start, &tmp) != 0) {
            free(b.p);
            return -1;
        }
        *s = tmp.s;
        *n = tmp.slen;
        return 0;
    case V_NS:
    case V_FUNC: {
        char name[NAME_SHOW_MAX + 8];
        span_text(r, v->start, v->end, name, sizeof(name));
        return fail(r, v->start, "'%s' is not a value", name);
    }
    }
    *s = dup_mem(r, v->start, buf, strlen(buf));
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

static void lookup_free(lookup_t *l)
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
static lookup_t *lookup_get(render_t *r, size_t off, lk_t kind, const char *key, const char *a,
                            const char *b, const char *c)
{
    const template_ctx_t *ctx = r->ctx;
    lookup_t *l = lookup_find(r, kind, key);
    char cberr[256] = "";
    if (l)
        return l;
    if (r->nlookups == TEMPLATE_MAX_LOOKUPS) {
        fail(r, off, "more than %d variable, connection and XCom lookups", TEMPLATE_MAX_LOOKUPS);
        return NULL;
    }
    l = calloc(1, sizeof(*l));
    if (!l || !(l->key = strdup(key))) {
        lookup_free(l);
        fail(r, off, "out of memory");
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
        fail(r, off, "%s", cberr[0] ? cberr : "lookup failed");
        return NULL;
    }
    l->found = rc > 0;
    if (l->found && kind == LK_VAR) {
        if (!l->text && !(l->text = strdup(""))) {
            fail(r, off, "out of memory");
            return NULL;
        }
        if (name_sensitive(a, strlen(a)))
            l->secret = true;
        if (l->secret && add_secret(r, off, l->text, strlen(l->text)) != 0)
            return NULL;
    }
    if (l->found && kind == LK_XCOM && !l->text) {
        if (!(l->text = strdup("null"))) {
            fail(r, off, "out of memory");
            return NULL;
        }
    }
    if (l->found && kind == LK_CONN) {
        if (l->conn.password && add_secret(r, off, l->conn.password, strlen(l->conn.password)))
            return NULL;
        if (l->conn.extra && add_secret(r, off, l->conn.extra, strlen(l->conn.extra)))
            return NULL;
    }
    return l;
}

static cJSON *parse_json_text(const char *text)
{
    /* the length includes the NUL, which require_null_terminated checks for */
    return cJSON_ParseWithLengthOpts(text, strlen(text) + 1, NULL, 1);
}

/* A key for lookups: the value's text, refused when it holds a NUL. */
static const char *key_text(render_t *r, const value_t *v, const char *what)
{
    const char *s;
    size_t n;
    if (v->kind == V_UNDEF) {
        fail_undefined(r, v);
        return NULL;
    }
    if (v->kind != V_STR && !(v->kind == V_JSON && cJSON_IsString(v->j))) {
        fail(r, v->start, "%s must be a string", what);
        return NULL;
    }
    if (to_text(r, v, &s, &n) != 0)
        return NULL;
    if (memchr(s, '\0', n) || n == 0) {
        fail(r, v->start, "%s must be a non-empty string without NUL characters", what);
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
        return *doc ? 0 : fail(r, off, "%s is not a JSON object", what);
    *tried = true;
    *doc = text ? parse_json_text(text) : cJSON_CreateObject();
    if (!*doc || !cJSON_IsObject(*doc))
        return fail(r, off, "%s is not a JSON object", what);
    return 0;
}

static int eval_name(render_t *r, const char *name, size_t n, size_t start, value_t *v)
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
            v->s = dup_mem(r, start, date_str, strlen(date_str));
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

/* Value of v.name (or v['name']); an unknown name leaves v undefined. */
static int get_attr(render_t *r, value_t *v, const char *name, size_t n, size_t end)
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

    if (kind == V_JSON) {
        const cJSON *j = v->j;
        if (!cJSON_IsObject(j) || !key_ok)
            return 0;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, key);
        if (!c)
            return 0;
        v->kind = V_JSON;
        v->j = c;
        if (v->sens_keys && name_sensitive(key, n))
            v->secret = true;
        return 0;
    }
    if (kind == V_DATE) {
        civil_t c;
        if (!civil_of(v->t, &c))
            return fail(r, v->start, "date out of range");
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
    case NS_VAR_JSON: {
        bool json = v->ns == NS_VAR_JSON;
        if (strcmp(key, "get") == 0) {
            v->kind = V_FUNC;
            v->ns = json ? FN_VAR_GET_JSON : FN_VAR_GET_VALUE;
            return 0;
        }
        lookup_t *l = lookup_get(r, v->start, LK_VAR, key, key, NULL, NULL);
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
            l->json = parse_json_text(l->text);
        }
        if (!l->json)
            return fail(r, v->start, "variable '%s' is not valid JSON", key);
        v->kind = V_JSON;
        v->j = l->json;
        v->sens_keys = true;
        return 0;
    }
    case NS_CONN: {
        lookup_t *l = lookup_get(r, v->start, LK_CONN, key, key, NULL, NULL);
        if (!l)
            return -1;
        if (l->found) {
            v->kind = V_NS;
            v->ns = NS_CONN_ID;
            v->conn = l;
        }
        return 0;
    }
    case NS_CONN_ID: {
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
                    c->extra && c->extra[0] ? parse_json_text(c->extra) : cJSON_CreateObject();
                if (l->extra && !cJSON_IsObject(l->extra)) {
                    cJSON_Delete(l->extra);
                    l->extra = NULL;
                }
            }
            if (!l->extra)
                return fail(r, v->start, "extra of connection '%s' is not a JSON object", l->key);
            v->kind = V_JSON;
            v->j = l->extra;
            v->sens_keys = true;
        }
        return 0;
    }
    case NS_MACROS:
        if (strcmp(key, "ds_add") == 0 || strcmp(key, "ds_format") == 0) {
            v->kind = V_FUNC;
            v->ns = strcmp(key, "ds_add") == 0 ? FN_DS_ADD : FN_DS_FORMAT;
        }
        return 0;
    case NS_TI:
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
    case NS_DAG:
        if (strcmp(key, "dag_id") == 0 && ctx->dag_id)
            set_str(v, ctx->dag_id);
        return 0;
    case NS_TASK:
        if (strcmp(key, "task_id") == 0 && ctx->task_id)
            set_str(v, ctx->task_id);
        return 0;
    case NS_DAG_RUN:
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
            if (load_root_json(r, v->start, ctx->conf_json, "dag_run.conf", &r->conf,
                               &r->conf_tried))
                return -1;
            v->kind = V_JSON;
            v->j = r->conf;
        }
        return 0;
    }
    return 0;
}

/* v[idx] */
static int get_item(render_t *r, value_t *v, const value_t *idx, size_t end)
{
    if (idx->kind == V_UNDEF)
        return fail_undefined(r, idx);
    if (v->kind == V_UNDEF) {
        v->end = end;
        return 0;
    }
    if (idx->kind == V_STR || (idx->kind == V_JSON && cJSON_IsString(idx->j))) {
        const char *s;
        size_t n;
        if (to_text(r, idx, &s, &n) != 0)
            return -1;
        return get_attr(r, v, s, n, end);
    }
    long long i;
    if (idx->kind == V_INT)
        i = idx->i;
    else if (idx->kind == V_JSON && cJSON_IsNumber(idx->j) &&
             idx->j->valuedouble == floor(idx->j->valuedouble) && fabs(idx->j->valuedouble) < 1e15)
        i = (long long)idx->j->valuedouble;
    else
        return fail(r, idx->start, "index must be a string or an integer");
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

/* ---- lexer ---- */

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int lex_string(render_t *r, token_t *t)
{
    char q = r->src[r->pos];
    size_t k = r->pos + 1;
    sbuf_t b = {0};
    while (k < r->len && r->src[k] != q) {
        char c = r->src[k];
        int rc;
        if (c == '\\' && k + 1 < r->len) {
            char e = r->src[k + 1], o;
            switch (e) {
            case 'n':
                o = '\n';
                break;
            case 't':
                o = '\t';
                break;
            case 'r':
                o = '\r';
                break;
            case '0':
                o = '\0';
                break;
            case '\\':
                o = '\\';
                break;
            case '\'':
                o = '\'';
                break;
            case '"':
                o = '"';
                break;
            default:
                o = 0;
                break;
            }
            if (o || e == '0') {
                rc = sb_addc(r, &b, t->start, o);
            } else {
                rc = sb_add(r, &b, t->start, r->src + k, 2); /* kept as written, as Python */
            }
            k += 2;
        } else {
            rc = sb_addc(r, &b, t->start, c);
            k++;
        }
        if (rc != 0) {
            free(b.p);
            return -1;
        }
    }
    if (k >= r->len) {
        free(b.p);
        return fail(r, t->start, "unterminated string literal");
    }
    value_t v;
    if (sb_finish(r, &b, t->start, &v) != 0)
        return -1;
    t->type = T_STR;
    t->s = v.s;
    t->slen = v.slen;
    r->pos = k + 1;
    return 0;
}

/* Reads the next token of an expression into r->tok. */
static int lex(render_t *r)
{
    token_t *t = &r->tok;
    while (r->pos < r->len && strchr(WS, r->src[r->pos]) && r->src[r->pos])
        r->pos++;
    memset(t, 0, sizeof(*t));
    t->start = r->pos;
    if (r->pos >= r->len) {
        t->type = T_EOF;
        return 0;
    }
    const char *p = r->src + r->pos;
    size_t left = r->len - r->pos;
    char c = *p;
    if (left >= 3 && memcmp(p, "-}}", 3) == 0) {
        t->type = T_CLOSE;
        t->strip = true;
        t->len = 3;
    } else if (left >= 2 && memcmp(p, "}}", 2) == 0) {
        t->type = T_CLOSE;
        t->len = 2;
    } else if (is_name_start(c)) {
        size_t k = 1;
        while (k < left && is_name_char(p[k]))
            k++;
        t->type = T_NAME;
        t->s = p;
        t->slen = t->len = k;
    } else if (isdigit((unsigned char)c)) {
        size_t k = 0;
        long long val = 0;
        while (k < left && (isdigit((unsigned char)p[k]) || p[k] == '_')) {
            if (p[k] != '_') {
                if (val > (LLONG_MAX - 9) / 10)
                    return fail(r, t->start, "integer literal is too large");
                val = val * 10 + (p[k] - '0');
            }
            k++;
        }
        if (k < left && (p[k] == '.' || p[k] == 'e' || p[k] == 'E') && k + 1 < left &&
            isdigit((unsigned char)p[k + 1]))
            return fail(r, t->start, "floating-point numbers are not supported");
        t->type = T_INT;
        t->i = val;
        t->len = k;
    } else if (c == '\'' || c == '"') {
        if (lex_string(r, t) != 0)
            return -1;
        t->len = r->pos - t->start;
        return 0;
    } else {
        static const char singles[] = ".()[],=|-~";
        static const tok_type_t types[] = {T_DOT,   T_LP, T_RP,   T_LB,    T_RB,
                                           T_COMMA, T_EQ, T_PIPE, T_MINUS, T_TILDE};
        const char *f = c ? strchr(singles, c) : NULL;
        if (!f) {
            if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
                return fail(r, t->start, "unexpected '%c'", c);
            return fail(r, t->start, "unexpected character 0x%02x", (unsigned char)c);
        }
        if (c == '=' && left >= 2 && p[1] == '=')
            return fail(r, t->start, "comparisons are not supported");
        t->type = types[f - singles];
        t->len = 1;
    }
    r->pos += t->len;
    return 0;
}

static const char *tok_desc(const token_t *t)
{
    switch (t->type) {
    case T_EOF:
        return "end of template";
    case T_NAME:
        return "name";
    case T_STR:
        return "string";
    case T_INT:
        return "integer";
    case T_DOT:
        return "'.'";
    case T_LP:
        return "'('";
    case T_RP:
        return "')'";
    case T_LB:
        return "'['";
    case T_RB:
        return "']'";
    case T_COMMA:
        return "','";
    case T_EQ:
        return "'='";
    case T_PIPE:
        return "'|'";
    case T_MINUS:
        return "'-'";
    case T_TILDE:
        return "'~'";
    case T_CLOSE:
        return "'}}'";
    }
    return "token";
}

/* ---- calls ---- */

typedef struct arg {
    const char *name; /* NULL: positional */
    size_t namelen;
    value_t v;
} arg_t;

/* Parses "(a, b, k=c)" after the '('; the current token is the first after '('. */
static int parse_args(render_t *r, arg_t *args, size_t *nargs, size_t *end)
{
    *nargs = 0;
    if (++r->depth > TEMPLATE_MAX_DEPTH)
        return fail(r, r->tok.start, "expression nested more than %d deep", TEMPLATE_MAX_DEPTH);
    while (r->tok.type != T_RP) {
        if (*nargs == MAX_ARGS)
            return fail(r, r->tok.start, "more than %d arguments", MAX_ARGS);
        arg_t *a = &args[*nargs];
        a->name = NULL;
        a->namelen = 0;
        if (r->tok.type == T_NAME) {
            /* a keyword argument needs one token of look-ahead: name '=' */
            size_t save = r->pos;
            token_t name = r->tok;
            if (lex(r) != 0)
                return -1;
            if (r->tok.type == T_EQ) {
                a->name = name.s;
                a->namelen = name.slen;
                if (lex(r) != 0)
                    return -1;
            } else {
                r->pos = save;
                r->tok = name;
            }
        }
        if (parse_expr(r, &a->v) != 0)
            return -1;
        (*nargs)++;
        if (r->tok.type == T_COMMA) {
            if (lex(r) != 0)
                return -1;
            continue;
        }
        if (r->tok.type != T_RP)
            return fail(r, r->tok.start, "expected ',' or ')', found %s", tok_desc(&r->tok));
    }
    *end = r->tok.start + 1;
    r->depth--;
    return lex(r);
}

/*
 * Binds args to params (names in order; the first npos may be positional).
 * bound[k].kind stays V_UNDEF with start 0 and given[k] false when absent.
 */
static int bind_args(render_t *r, const char *fname, size_t off, const arg_t *args, size_t nargs,
                     const char *const *params, size_t nparams, size_t npos, value_t *bound,
                     bool *given)
{
    bool seen_kw = false;
    size_t pos = 0;
    for (size_t k = 0; k < nparams; k++)
        given[k] = false;
    for (size_t a = 0; a < nargs; a++) {
        size_t slot = nparams;
        if (!args[a].name) {
            if (seen_kw)
                return fail(r, args[a].v.start, "positional argument follows keyword argument");
            if (pos >= npos)
                return fail(r, args[a].v.start, "%s takes at most %zu positional arguments", fname,
                            npos);
            slot = pos++;
        } else {
            seen_kw = true;
            for (size_t k = 0; k < nparams; k++)
                if (strlen(params[k]) == args[a].namelen &&
                    memcmp(params[k], args[a].name, args[a].namelen) == 0)
                    slot = k;
            if (slot == nparams)
                return fail(r, args[a].v.start, "%s got an unexpected keyword argument '%.*s'",
                            fname, (int)args[a].namelen, args[a].name);
        }
        if (given[slot])
            return fail(r, args[a].v.start, "%s got multiple values for argument '%s'", fname,
                        params[slot]);
        given[slot] = true;
        bound[slot] = args[a].v;
        if (bound[slot].kind == V_UNDEF)
            return fail_undefined(r, &bound[slot]);
    }
    (void)off;
    return 0;
}

static int require(render_t *r, const char *fname, size_t off, const bool *given,
                   const char *const *params, size_t nrequired)
{
    for (size_t k = 0; k < nrequired; k++)
        if (!given[k])
            return fail(r, off, "%s missing required argument '%s'", fname, params[k]);
    return 0;
}

static bool int_of(const value_t *v, long long *out)
{
    if (v->kind == V_INT || v->kind == V_BOOL) {
        *out = v->i;
        return true;
    }
    if (v->kind == V_JSON && cJSON_IsNumber(v->j) &&
        v->j->valuedouble == floor(v->j->valuedouble) && fabs(v->j->valuedouble) < 1e15) {
        *out = (long long)v->j->valuedouble;
        return true;
    }
    return false;
}

static bool is_string(const value_t *v)
{
    return v->kind == V_STR || (v->kind == V_JSON && cJSON_IsString(v->j));
}

static int call_ds(render_t *r, const value_t *fn, const arg_t *args, size_t nargs, value_t *out)
{
    static const char *const add_params[] = {"ds", "days"};
    static const char *const fmt_params[] = {"ds", "input_format", "output_format"};
    bool add = fn->ns == FN_DS_ADD;
    const char *fname = add ? "macros.ds_add()" : "macros.ds_format()";
    value_t b[3];
    bool given[3];
    const char *ds, *in = "%Y-%m-%d", *outf = NULL;
    size_t dsn, inn = 8, outn = 0;
    int64_t days = 0;
    int secs = 0;

    if (bind_args(r, fname, fn->start, args, nargs, add ? add_params : fmt_params, add ? 2 : 3,
                  add ? 2 : 3, b, given) != 0 ||
        require(r, fname, fn->start, given, add ? add_params : fmt_params, add ? 2 : 3) != 0)
        return -1;
    for (size_t k = 0; k < (add ? 1u : 3u); k++)
        if (!is_string(&b[k]))
            return fail(r, b[k].start, "%s: %s must be a string", fname,
                        add ? add_params[k] : fmt_params[k]);
    if (to_text(r, &b[0], &ds, &dsn) != 0)
        return -1;
    if (!add && (to_text(r, &b[1], &in, &inn) != 0 || to_text(r, &b[2], &outf, &outn) != 0))
        return -1;
    if (date_strptime(r, b[0].start, ds, dsn, in, inn, &days, &secs) != 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->start = fn->start;
    out->secret = b[0].secret;
    if (add) {
        long long n;
        if (!int_of(&b[1], &n))
            return fail(r, b[1].start, "%s: days must be an integer", fname);
        if (n < -4000000 || n > 4000000)
            return fail(r, b[1].start, "%s: date value out of range", fname);
        days += n;
        int64_t y;
        int m, d;
        ts_civil_from_days(days, &y, &m, &d);
        if (y < 1 || y > 9999)
            return fail(r, b[1].start, "%s: date value out of range", fname);
        char buf[16];
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d", (int)y, m, d);
        out->s = dup_mem(r, fn->start, buf, strlen(buf));
        out->kind = V_STR;
        out->slen = strlen(buf);
        return out->s ? 0 : -1;
    }
    return date_strftime(r, b[2].start, days * 86400 * TS_US_PER_SEC + secs * TS_US_PER_SEC, outf,
                         outn, out);
}

static int call_xcom(render_t *r, const value_t *fn, const arg_t *args, size_t nargs, value_t *out)
{
    static const char *const params[] = {"task_ids",    "dag_id", "key", "include_prior_dates",
                                         "map_indexes", "default"};
    const char *fname = "ti.xcom_pull()";
    value_t b[6];
    bool given[6];
    const char *task, *dag = NULL, *key = "return_value";
    char ckey[1600];

    if (bind_args(r, fname, fn->start, args, nargs, params, 6, 4, b, given) != 0)
        return -1;
    if (!given[0] || b[0].kind == V_NONE)
        return fail(r, fn->start, "%s: task_ids is required", fname);
    if (!(task = key_text(r, &b[0], "task_ids")))
        return -1;
    if (given[1] && b[1].kind != V_NONE && !(dag = key_text(r, &b[1], "dag_id")))
        return -1;
    if (given[2] && !(key = key_text(r, &b[2], "key")))
        return -1;
    if (given[3] && !(b[3].kind == V_BOOL && !b[3].i) && b[3].kind != V_NONE)
        return fail(r, b[3].start, "%s: include_prior_dates is not supported", fname);
    if (given[4] && b[4].kind != V_NONE)
        return fail(r, b[4].start, "%s: map_indexes is not supported", fname);
    if (strlen(task) + strlen(key) + (dag ? strlen(dag) : 0) + 4 > sizeof(ckey))
        return fail(r, fn->start, "%s: arguments are too long", fname);
    snprintf(ckey, sizeof(ckey), "%s\x1f%s\x1f%s", dag ? dag : "", task, key);
    lookup_t *l = lookup_get(r, fn->start, LK_XCOM, ckey, dag, task, key);
    if (!l)
        return -1;
    memset(out, 0, sizeof(*out));
    out->start = fn->start;
    if (!l->found) {
        if (given[5]) {
            *out = b[5];
            return 0;
        }
        out->kind = V_NONE; /* as Airflow: a missing XCom is None */
        return 0;
    }
    if (!l->json_tried) {
        l->json_tried = true;
        l->json = parse_json_text(l->text);
        if (!l->json)
            l->json = cJSON_CreateString(l->text); /* not JSON: the text itself */
        if (!l->json)
            return fail(r, fn->start, "out of memory");
    }
    out->kind = V_JSON;
    out->j = l->json;
    return 0;
}

static int call_var_get(render_t *r, const value_t *fn, const arg_t *args, size_t nargs,
                        value_t *out)
{
    static const char *const params[] = {"item", "default_var"};
    bool json = fn->ns == FN_VAR_GET_JSON;
    const char *fname = json ? "var.json.get()" : "var.value.get()";
    value_t b[2];
    bool given[2];
    if (bind_args(r, fname, fn->start, args, nargs, params, 2, 2, b, given) != 0 ||
        require(r, fname, fn->start, given, params, 1) != 0)
        return -1;
    const char *name = key_text(r, &b[0], "item");
    if (!name)
        return -1;
    value_t v = *fn;
    v.kind = V_NS;
    v.ns = json ? NS_VAR_JSON : NS_VAR_VALUE;
    if (get_attr(r, &v, name, strlen(name), fn->end) != 0)
        return -1;
    if (v.kind == V_UNDEF) {
        if (given[1]) {
            *out = b[1];
            return 0;
        }
        return fail(r, b[0].start, "variable '%s' does not exist", name);
    }
    *out = v;
    return 0;
}

static int call_value(render_t *r, value_t *v, const arg_t *args, size_t nargs, size_t end)
{
    if (v->kind == V_UNDEF)
        return fail_undefined(r, v);
    if (v->kind != V_FUNC) {
        char name[NAME_SHOW_MAX + 8];
        span_text(r, v->start, v->end, name, sizeof(name));
        return fail(r, v->start, "'%s' is not callable", name);
    }
    value_t out;
    int rc;
    size_t start = v->start;
    memset(&out, 0, sizeof(out));
    switch ((fn_t)v->ns) {
    case FN_DS_ADD:
    case FN_DS_FORMAT:
        rc = call_ds(r, v, args, nargs, &out);
        break;
    case FN_XCOM_PULL:
        rc = call_xcom(r, v, args, nargs, &out);
        break;
    case FN_VAR_GET_VALUE:
    case FN_VAR_GET_JSON:
        rc = call_var_get(r, v, args, nargs, &out);
        break;
    case FN_STRFTIME:
    case FN_ISOFORMAT: {
        static const char *const params[] = {"format"};
        bool sf = v->ns == FN_STRFTIME;
        const char *fname = sf ? "strftime()" : "isoformat()";
        value_t b[1];
        bool given[1];
        const char *f;
        size_t fn;
        char buf[TEMPLATE_DATE_LEN];
        if (bind_args(r, fname, start, args, nargs, params, sf ? 1 : 0, sf ? 1 : 0, b, given) ||
            (sf && require(r, fname, start, given, params, 1)))
            return -1;
        if (!sf) {
            if (!iso_of(v->t, buf))
                return fail(r, start, "date out of range");
            memset(&out, 0, sizeof(out));
            out.kind = V_STR;
            out.slen = strlen(buf);
            rc = (out.s = dup_mem(r, start, buf, out.slen)) ? 0 : -1;
            break;
        }
        if (!is_string(&b[0]))
            return fail(r, b[0].start, "strftime(): format must be a string");
        if (to_text(r, &b[0], &f, &fn) != 0)
            return -1;
        rc = date_strftime(r, b[0].start, v->t, f, fn, &out);
        break;
    }
    default:
        rc = fail(r, start, "not callable");
        break;
    }
    if (rc != 0)
        return -1;
    out.start = start;
    out.end = end;
    *v = out;
    return 0;
}

/* ---- expressions ---- */

/* primary := (NAME | STRING | INT | '-' INT | '(' expr ')') postfix* */
static int parse_primary(render_t *r, value_t *v)
{
    token_t t = r->tok;
    memset(v, 0, sizeof(*v));
    v->start = t.start;
    v->end = t.start + t.len;
    switch (t.type) {
    case T_NAME:
        if (eval_name(r, t.s, t.slen, t.start, v) != 0 || lex(r) != 0)
            return -1;
        break;
    case T_STR:
        v->kind = V_STR;
        v->s = t.s;
        v->slen = t.slen;
        if (lex(r) != 0)
            return -1;
        break;
    case T_INT:
        v->kind = V_INT;
        v->i = t.i;
        if (lex(r) != 0)
            return -1;
        break;
    case T_MINUS:
        if (lex(r) != 0)
            return -1;
        if (r->tok.type != T_INT)
            return fail(r, t.start, "'-' is only supported before an integer");
        v->kind = V_INT;
        v->i = -r->tok.i;
        v->end = r->tok.start + r->tok.len;
        if (lex(r) != 0)
            return -1;
        break;
    case T_LP:
        if (++r->depth > TEMPLATE_MAX_DEPTH)
            return fail(r, t.start, "expression nested more than %d deep", TEMPLATE_MAX_DEPTH);
        if (lex(r) != 0 || parse_expr(r, v) != 0)
            return -1;
        if (r->tok.type != T_RP)
            return fail(r, r->tok.start, "expected ')', found %s", tok_desc(&r->tok));
        r->depth--;
        if (lex(r) != 0)
            return -1;
        break;
    default:
        return fail(r, t.start, "expected a value, found %s", tok_desc(&t));
    }
    for (;;) {
        if (r->tok.type == T_DOT) {
            if (lex(r) != 0)
                return -1;
            if (r->tok.type != T_NAME)
                return fail(r, r->tok.start, "expected a name after '.', found %s",
                            tok_desc(&r->tok));
            token_t n = r->tok;
            if (get_attr(r, v, n.s, n.slen, n.start + n.len) != 0 || lex(r) != 0)
                return -1;
        } else if (r->tok.type == T_LB) {
            value_t idx;
            if (++r->depth > TEMPLATE_MAX_DEPTH)
                return fail(r, r->tok.start, "expression nested more than %d deep",
                            TEMPLATE_MAX_DEPTH);
            if (lex(r) != 0 || parse_expr(r, &idx) != 0)
                return -1;
            if (r->tok.type != T_RB)
                return fail(r, r->tok.start, "expected ']', found %s", tok_desc(&r->tok));
            r->depth--;
            size_t end = r->tok.start + 1;
            if (get_item(r, v, &idx, end) != 0 || lex(r) != 0)
                return -1;
        } else if (r->tok.type == T_LP) {
            arg_t args[MAX_ARGS];
            size_t nargs, end;
            if (lex(r) != 0 || parse_args(r, args, &nargs, &end) != 0)
                return -1;
            if (call_value(r, v, args, nargs, end) != 0)
                return -1;
        } else {
            return 0;
        }
    }
}

static bool truthy(const value_t *v)
{
    switch (v->kind) {
    case V_UNDEF:
    case V_NONE:
        return false;
    case V_BOOL:
    case V_INT:
        return v->i != 0;
    case V_STR:
        return v->slen != 0;
    case V_JSON:
        if (cJSON_IsString(v->j))
            return v->j->valuestring[0] != '\0';
        if (cJSON_IsNumber(v->j))
            return v->j->valuedouble != 0;
        if (cJSON_IsArray(v->j) || cJSON_IsObject(v->j))
            return v->j->child != NULL;
        return cJSON_IsTrue(v->j);
    default:
        return true;
    }
}

/* Jinja's int filter: int(value) for strings and numbers, else default. */
static void filter_int(const value_t *v, long long dflt, int base, value_t *out)
{
    long long n = dflt;
    const char *s = NULL;
    size_t len = 0;
    if (v->kind == V_INT || v->kind == V_BOOL) {
        n = v->i;
    } else if (v->kind == V_JSON && cJSON_IsNumber(v->j)) {
        double d = v->j->valuedouble;
        if (isfinite(d) && fabs(d) < 9.2e18)
            n = (long long)d;
    } else if (v->kind == V_STR) {
        s = v->s;
        len = v->slen;
    } else if (v->kind == V_JSON && cJSON_IsString(v->j)) {
        s = v->j->valuestring;
        len = strlen(s);
    }
    if (s && len < 128 && !memchr(s, '\0', len)) {
        char buf[128], *end;
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        long long x = strtoll(buf, &end, base);
        while (*end && strchr(WS, *end))
            end++;
        if (end != buf && !*end && errno == 0) {
            n = x;
        } else if (base == 10) {
            double d = strtod(buf, &end);
            while (*end && strchr(WS, *end))
                end++;
            if (end != buf && !*end && isfinite(d) && fabs(d) < 9.2e18)
                n = (long long)d;
        }
    }
    memset(out, 0, sizeof(*out));
    out->kind = V_INT;
    out->i = n;
}

static int apply_filter(render_t *r, value_t *v, const token_t *name, const arg_t *args,
                        size_t nargs, size_t end)
{
    char fname[40];
    const char *s;
    size_t n;
    value_t b[3];
    bool given[3];
    value_t out;
    sbuf_t sb = {0};
    size_t off = name->start;

    snprintf(fname, sizeof(fname), "filter '%.*s'", (int)(name->slen > 20 ? 20 : name->slen),
             name->s);
#define FIS(lit) (name->slen == sizeof(lit) - 1 && memcmp(name->s, lit, name->slen) == 0)
    memset(&out, 0, sizeof(out));
    if (FIS("default") || FIS("d")) {
        static const char *const params[] = {"default_value", "boolean"};
        if (bind_args(r, fname, off, args, nargs, params, 2, 2, b, given) != 0)
            return -1;
        bool use = v->kind == V_UNDEF || (given[1] && truthy(&b[1]) && !truthy(v));
        if (use) {
            if (given[0]) {
                size_t start = v->start;
                *v = b[0];
                v->start = start;
            } else {
                memset(v, 0, sizeof(*v));
                v->kind = V_STR;
                v->s = "";
            }
        }
        v->end = end;
        return 0;
    }
    if (v->kind == V_UNDEF)
        return fail_undefined(r, v);
    out.secret = v->secret;
    if (FIS("upper") || FIS("lower") || FIS("trim") || FIS("replace") || FIS("tojson") ||
        FIS("int")) {
        /* known filters */
    } else {
        return fail(r, off, "no filter named '%.*s'", (int)(name->slen > 40 ? 40 : name->slen),
                    name->s);
    }
    if (FIS("upper") || FIS("lower")) {
        if (bind_args(r, fname, off, args, nargs, NULL, 0, 0, b, given) != 0 ||
            to_text(r, v, &s, &n) != 0)
            return -1;
        char *p = dup_mem(r, off, s, n);
        if (!p)
            return -1;
        for (size_t k = 0; k < n; k++)
            p[k] =
                (char)(FIS("upper") ? toupper((unsigned char)p[k]) : tolower((unsigned char)p[k]));
        out.kind = V_STR;
        out.s = p;
        out.slen = n;
    } else if (FIS("trim")) {
        static const char *const params[] = {"chars"};
        const char *chars = WS;
        size_t nchars = strlen(WS);
        if (bind_args(r, fname, off, args, nargs, params, 1, 1, b, given) != 0 ||
            to_text(r, v, &s, &n) != 0)
            return -1;
        if (given[0] && b[0].kind != V_NONE) {
            if (!is_string(&b[0]))
                return fail(r, b[0].start, "%s: chars must be a string", fname);
            if (to_text(r, &b[0], &chars, &nchars) != 0)
                return -1;
        }
        size_t a = 0, z = n;
        while (a < z && memchr(chars, s[a], nchars))
            a++;
        while (z > a && memchr(chars, s[z - 1], nchars))
            z--;
        if (str_value(r, s + a, z - a, off, &out) != 0)
            return -1;
    } else if (FIS("replace")) {
        static const char *const params[] = {"old", "new", "count"};
        const char *olds, *news;
        size_t oldn, newn;
        long long count = -1;
        if (bind_args(r, fname, off, args, nargs, params, 3, 3, b, given) != 0 ||
            require(r, fname, off, given, params, 2) != 0 || to_text(r, v, &s, &n) != 0 ||
            to_text(r, &b[0], &olds, &oldn) != 0 || to_text(r, &b[1], &news, &newn) != 0)
            return -1;
        if (given[2] && b[2].kind != V_NONE && !int_of(&b[2], &count))
            return fail(r, b[2].start, "%s: count must be an integer", fname);
        out.secret = v->secret || b[1].secret;
        /* Python's str.replace: an empty old inserts new between characters */
        size_t k = 0;
        long long done = 0;
        while (k <= n) {
            bool match = (count < 0 || done < count) &&
                         (oldn == 0 || (k + oldn <= n && memcmp(s + k, olds, oldn) == 0));
            if (match) {
                if (sb_add(r, &sb, off, news, newn) != 0)
                    goto fail_sb;
                done++;
                if (oldn == 0) {
                    if (k < n && sb_addc(r, &sb, off, s[k]) != 0)
                        goto fail_sb;
                    k++;
                } else {
                    k += oldn;
                }
            } else {
                if (k < n && sb_addc(r, &sb, off, s[k]) != 0)
                    goto fail_sb;
                k++;
            }
        }
        if (sb_finish(r, &sb, off, &out) != 0)
            goto fail_sb;
        out.secret = v->secret || b[1].secret;
    } else if (FIS("tojson")) {
        char num[64];
        int rc = 0;
        if (bind_args(r, fname, off, args, nargs, NULL, 0, 0, b, given) != 0)
            return -1;
        switch (v->kind) {
        case V_NONE:
            rc = sb_add(r, &sb, off, "null", 4);
            break;
        case V_BOOL:
            rc = sb_add(r, &sb, off, v->i ? "true" : "false", v->i ? 4 : 5);
            break;
        case V_INT:
            snprintf(num, sizeof(num), "%lld", v->i);
            rc = sb_add(r, &sb, off, num, strlen(num));
            break;
        case V_JSON:
            rc = json_dump(r, &sb, off, v->j);
            break;
        default:
            rc = to_text(r, v, &s, &n);
            if (rc == 0)
                rc = json_string(r, &sb, off, s, n);
            break;
        }
        if (rc != 0 || sb_finish(r, &sb, off, &out) != 0)
            goto fail_sb;
        out.secret = v->secret;
    } else { /* int */
        static const char *const params[] = {"default", "base"};
        long long dflt = 0, base = 10;
        if (bind_args(r, fname, off, args, nargs, params, 2, 2, b, given) != 0)
            return -1;
        if (given[0] && !int_of(&b[0], &dflt))
            return fail(r, b[0].start, "%s: default must be an integer", fname);
        if (given[1] && (!int_of(&b[1], &base) || !(base == 0 || (base >= 2 && base <= 36))))
            return fail(r, b[1].start, "%s: base must be 0 or 2..36", fname);
        if (v->kind == V_NS || v->kind == V_FUNC)
            return to_text(r, v, &s, &n);
        bool secret = v->secret;
        filter_int(v, dflt, (int)base, &out);
        out.secret = secret;
    }
    out.start = v->start;
    out.end = end;
    *v = out;
    return 0;
fail_sb:
    free(sb.p);
    return -1;
}

/* filtered := primary ('|' NAME ['(' args ')'])* */
static int parse_filtered(render_t *r, value_t *v)
{
    if (parse_primary(r, v) != 0)
        return -1;
    while (r->tok.type == T_PIPE) {
        if (lex(r) != 0)
            return -1;
        if (r->tok.type != T_NAME)
            return fail(r, r->tok.start, "expected a filter name after '|', found %s",
                        tok_desc(&r->tok));
        token_t name = r->tok;
        arg_t args[MAX_ARGS];
        size_t nargs = 0, end = name.start + name.len;
        if (lex(r) != 0)
            return -1;
        if (r->tok.type == T_LP) {
            if (lex(r) != 0 || parse_args(r, args, &nargs, &end) != 0)
                return -1;
        }
        if (apply_filter(r, v, &name, args, nargs, end) != 0)
            return -1;
    }
    return 0;
}

/* expr := filtered ('~' filtered)* */
static int parse_expr(render_t *r, value_t *v)
{
    if (parse_filtered(r, v) != 0)
        return -1;
    while (r->tok.type == T_TILDE) {
        value_t rhs;
        const char *a, *b;
        size_t an, bn;
        sbuf_t sb = {0};
        size_t off = r->tok.start;
        if (lex(r) != 0 || parse_filtered(r, &rhs) != 0)
            return -1;
        if (to_text(r, v, &a, &an) != 0 || to_text(r, &rhs, &b, &bn) != 0)
            return -1;
        value_t out = {0};
        if (sb_add(r, &sb, off, a, an) != 0 || sb_add(r, &sb, off, b, bn) != 0 ||
            sb_finish(r, &sb, off, &out) != 0) {
            free(sb.p);
            return -1;
        }
        out.secret = v->secret || rhs.secret;
        out.start = v->start;
        out.end = rhs.end;
        *v = out;
    }
    return 0;
}

/* ---- template text ---- */

static size_t rstrip_len(const char *s, size_t n)
{
    while (n > 0 && strchr(WS, s[n - 1]) && s[n - 1])
        n--;
    return n;
}

static size_t skip_ws(const render_t *r, size_t k)
{
    while (k < r->len && r->src[k] && strchr(WS, r->src[k]))
        k++;
    return k;
}

/* {{ expr }} starting at r->pos (just after "{{" and an optional '-'). */
static int render_expr(render_t *r, size_t open, bool *strip_after)
{
    value_t v;
    const char *s;
    size_t n;
    r->depth = 0;
    if (lex(r) != 0)
        return -1;
    if (r->tok.type == T_CLOSE)
        return fail(r, open, "empty expression");
    if (parse_expr(r, &v) != 0)
        return -1;
    if (r->tok.type == T_EOF)
        return fail(r, open, "unexpected end of template, expected '}}'");
    if (r->tok.type != T_CLOSE)
        return fail(r, r->tok.start, "expected '}}', found %s", tok_desc(&r->tok));
    *strip_after = r->tok.strip;
    if (to_text(r, &v, &s, &n) != 0)
        return -1;
    if (v.secret && add_secret(r, v.start, s, n) != 0)
        return -1;
    return out_add(r, v.start, s, n);
}

/*
 * Reads a statement tag "{% word ... %}" at off; sets *word/wordlen, *end
 * just after "%}", and the strip flags.
 */
static int read_stmt(render_t *r, size_t off, const char **word, size_t *wordlen, size_t *end,
                     bool *strip_before, bool *strip_after)
{
    size_t k = off + 2;
    *strip_before = k < r->len && r->src[k] == '-';
    if (*strip_before)
        k++;
    k = skip_ws(r, k);
    size_t w = k;
    while (k < r->len && is_name_char(r->src[k]))
        k++;
    *word = r->src + w;
    *wordlen = k - w;
    k = skip_ws(r, k);
    *strip_after = false;
    if (k < r->len && r->src[k] == '-') {
        *strip_after = true;
        k++;
    }
    if (k + 1 < r->len && r->src[k] == '%' && r->src[k + 1] == '}') {
        *end = k + 2;
        return 1; /* a bare "{% word %}" */
    }
    *end = k;
    return 0;
}

static int render_stmt(render_t *r, size_t open, size_t *next, bool *strip_after)
{
    const char *word;
    size_t wordlen, end;
    bool sb, sa;
    int bare = read_stmt(r, open, &word, &wordlen, &end, &sb, &sa);
    if (wordlen == 3 && memcmp(word, "raw", 3) == 0 && bare) {
        /* find {% endraw %} */
        for (size_t k = end; k + 1 < r->len; k++) {
            if (r->src[k] != '{' || r->src[k + 1] != '%')
                continue;
            const char *w2;
            size_t w2len, end2;
            bool sb2, sa2;
            if (read_stmt(r, k, &w2, &w2len, &end2, &sb2, &sa2) == 1 && w2len == 6 &&
                memcmp(w2, "endraw", 6) == 0) {
                size_t a = sa ? skip_ws(r, end) : end;
                size_t n = k > a ? k - a : 0;
                if (sb2)
                    n = rstrip_len(r->src + a, n);
                if (out_add(r, a, r->src + a, n) != 0)
                    return -1;
                *next = end2;
                *strip_after = sa2;
                return 0;
            }
        }
        return fail(r, open, "'{%% raw %%}' without '{%% endraw %%}'");
    }
    if (wordlen == 0)
        return fail(r, open, "statements ('{%% ... %%}') are not supported");
    return fail(r, open, "'{%% %.*s %%}' is not supported: templates run no statements",
                (int)(wordlen > 20 ? 20 : wordlen), word);
}

static int render_all(render_t *r)
{
    size_t pos = 0;
    bool strip_next = false;
    while (pos <= r->len) {
        /* next tag */
        size_t tag = pos;
        while (tag + 1 < r->len &&
               !(r->src[tag] == '{' &&
                 (r->src[tag + 1] == '{' || r->src[tag + 1] == '%' || r->src[tag + 1] == '#')))
            tag++;
        bool found = tag + 1 < r->len;
        if (!found)
            tag = r->len;
        size_t a = strip_next ? skip_ws(r, pos) : pos;
        if (a > tag)
            a = tag;
        size_t n = tag - a;
        if (found && tag + 2 < r->len && r->src[tag + 2] == '-')
            n = rstrip_len(r->src + a, n);
        if (out_add(r, a, r->src + a, n) != 0)
            return -1;
        if (!found)
            return 0;
        char kind = r->src[tag + 1];
        size_t body = tag + 2 + (tag + 2 < r->len && r->src[tag + 2] == '-');
        strip_next = false;
        if (kind == '{') {
            r->pos = body;
            if (render_expr(r, tag, &strip_next) != 0)
                return -1;
            pos = r->pos;
        } else if (kind == '#') {
            size_t k = body;
            while (k + 1 < r->len && !(r->src[k] == '#' && r->src[k + 1] == '}'))
                k++;
            if (k + 1 >= r->len)
                return fail(r, tag, "unterminated comment");
            strip_next = k > body && r->src[k - 1] == '-';
            pos = k + 2;
        } else {
            if (render_stmt(r, tag, &pos, &strip_next) != 0)
                return -1;
        }
    }
    return 0;
}

/* ---- public ---- */

void template_ctx_init(template_ctx_t *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->try_number = 1;
    ctx->map_index = -1;
    ctx->logical_date = TS_NONE;
    ctx->data_interval_start = TS_NONE;
    ctx->data_interval_end = TS_NONE;
    ctx->prev_data_interval_start_success = TS_NONE;
    ctx->prev_data_interval_end_success = TS_NONE;
}

bool template_has_markup(const char *src, size_t len)
{
    for (size_t k = 0; k + 1 < len; k++)
        if (src[k] == '{' && (src[k + 1] == '{' || src[k + 1] == '%' || src[k + 1] == '#'))
            return true;
    return false;
}

void template_result_free(template_result_t *res)
{
    if (!res)
        return;
    free(res->text);
    for (size_t k = 0; k < res->nsecrets; k++)
        free(res->secrets[k]);
    free(res->secrets);
    memset(res, 0, sizeof(*res));
}

int template_render(const char *src, size_t len, const template_ctx_t *ctx, template_result_t *out,
                    char *err, size_t errlen)
{
    render_t r;
    size_t max_input = ctx->max_input ? ctx->max_input : TEMPLATE_MAX_INPUT_DEFAULT;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.src = src ? src : "";
    r.len = src ? len : 0;
    r.err = err;
    r.errlen = errlen;
    r.max_output = ctx->max_output ? ctx->max_output : TEMPLATE_MAX_OUTPUT_DEFAULT;
    r.max_work = r.max_output > SIZE_MAX / TEMPLATE_WORK_FACTOR
                     ? SIZE_MAX
                     : r.max_output * TEMPLATE_WORK_FACTOR;
    if (r.len > max_input) {
        if (err && errlen)
            snprintf(err, errlen, "template is larger than %zu bytes", max_input);
        return -1;
    }
    if (out_add(&r, 0, "", 0) != 0 || render_all(&r) != 0)
        goto out;
    out->text = r.out;
    out->len = r.out_len;
    out->secrets = r.secrets;
    out->nsecrets = r.nsecrets;
    r.out = NULL;
    r.secrets = NULL;
    r.nsecrets = 0;
    rc = 0;
out:
    free(r.out);
    for (size_t k = 0; k < r.nsecrets; k++)
        free(r.secrets[k]);
    free(r.secrets);
    for (size_t k = 0; k < r.nallocs; k++)
        free(r.allocs[k]);
    free(r.allocs);
    for (size_t k = 0; k < r.nlookups; k++)
        lookup_free(r.lookups[k]);
    cJSON_Delete(r.params);
    cJSON_Delete(r.conf);
    return rc;
}

int template_render_string(const char *src, const template_ctx_t *ctx, char **out, char *err,
                           size_t errlen)
{
    template_result_t res;
    *out = NULL;
    if (template_render(src, src ? strlen(src) : 0, ctx, &res, err, errlen) != 0)
        return -1;
    *out = res.text;
    res.text = NULL;
    template_result_free(&res);
    return 0;
}
