/*
 * jsonw.c - the streaming JSON writer (see jsonw.h).
 *
 * The buffer doubles as it grows, so a 1,000-row answer costs a handful of
 * reallocations. Every write goes through reserve(), which keeps room for
 * the terminating NUL.
 */
#include "webserver/jsonw.h"

#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

#define JSONW_MIN_CAP 4096

void jsonw_init(jsonw_t *w, size_t reserve)
{
    memset(w, 0, sizeof(*w));
    if (reserve > 0) {
        w->buf = malloc(reserve);
        if (!w->buf) {
            w->oom = true;
            return;
        }
        w->cap = reserve;
        w->buf[0] = '\0';
    }
}

void jsonw_free(jsonw_t *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

bool jsonw_failed(const jsonw_t *w)
{
    return w->oom;
}

const char *jsonw_data(const jsonw_t *w)
{
    return w->buf ? w->buf : "";
}

size_t jsonw_len(const jsonw_t *w)
{
    return w->len;
}

/* Room for n more bytes and a NUL; false (sticky) when memory ran out. */
static bool reserve(jsonw_t *w, size_t n)
{
    size_t need, cap;
    char *nb;

    if (w->oom)
        return false;
    if (n > SIZE_MAX / 2 - w->len) {
        w->oom = true;
        return false;
    }
    need = w->len + n + 1;
    if (need <= w->cap)
        return true;
    cap = w->cap ? w->cap : JSONW_MIN_CAP;
    while (cap < need)
        cap *= 2;
    nb = realloc(w->buf, cap);
    if (!nb) {
        w->oom = true;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

static void put(jsonw_t *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Before a value or a key: a comma unless it is the first member. */
static void sep(jsonw_t *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_member[w->depth - 1])
            put(w, ",", 1);
        w->has_member[w->depth - 1] = true;
    }
}

static void open_level(jsonw_t *w, char c)
{
    sep(w);
    if (w->depth >= JSONW_MAX_DEPTH) {
        w->oom = true;
        return;
    }
    w->has_member[w->depth++] = false;
    put(w, &c, 1);
}

static void close_level(jsonw_t *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    put(w, &c, 1);
}

void jsonw_obj_begin(jsonw_t *w)
{
    open_level(w, '{');
}

void jsonw_obj_end(jsonw_t *w)
{
    close_level(w, '}');
}

void jsonw_arr_begin(jsonw_t *w)
{
    open_level(w, '[');
}

void jsonw_arr_end(jsonw_t *w)
{
    close_level(w, ']');
}

void jsonw_key(jsonw_t *w, const char *key)
{
    size_t n = strlen(key);

    sep(w);
    if (!reserve(w, n + 3))
        return;
    w->buf[w->len++] = '"';
    memcpy(w->buf + w->len, key, n);
    w->len += n;
    w->buf[w->len++] = '"';
    w->buf[w->len++] = ':';
    w->buf[w->len] = '\0';
    w->after_key = true;
}

void jsonw_null(jsonw_t *w)
{
    sep(w);
    put(w, "null", 4);
}

void jsonw_bool(jsonw_t *w, bool v)
{
    sep(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

/* Decimal digits of v into the end of buf[24]; returns the first char. */
static char *fmt_i64(int64_t v, char *end)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = end;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

void jsonw_i64(jsonw_t *w, int64_t v)
{
    char buf[24], *p = fmt_i64(v, buf + sizeof(buf));

    sep(w);
    put(w, p, (size_t)(buf + sizeof(buf) - p));
}

/* Which bytes a JSON string cannot hold as they are. */
static bool needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

void jsonw_strn(jsonw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;

    sep(w);
    if (!reserve(w, n + 2))
        return;
    w->buf[w->len++] = '"';
    while (i < n) {
        size_t run = i;
        while (run < n && !needs_escape((unsigned char)s[run]))
            run++;
        if (run > i) {
            if (!reserve(w, run - i + 1))
                return;
            memcpy(w->buf + w->len, s + i, run - i);
            w->len += run - i;
            i = run;
        }
        if (i < n) {
            unsigned char c = (unsigned char)s[i++];
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t el = 2;
            switch (c) {
            case '"':
                esc[1] = '"';
                break;
            case '\\':
                esc[1] = '\\';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                el = 6;
            }
            if (!reserve(w, el + 1))
                return;
            memcpy(w->buf + w->len, esc, el);
            w->len += el;
        }
    }
    if (!reserve(w, 1))
        return;
    w->buf[w->len++] = '"';
    w->buf[w->len] = '\0';
}

void jsonw_str(jsonw_t *w, const char *s)
{
    if (!s)
        jsonw_null(w);
    else
        jsonw_strn(w, s, strlen(s));
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void two(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void jsonw_ts(jsonw_t *w, int64_t us)
{
    /* "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" */
    char b[34];
    int64_t sec, days, y;
    unsigned m, d, sod;
    int64_t frac;

    frac = us % 1000000;
    sec = us / 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec--;
    }
    days = sec / 86400;
    if (sec % 86400 < 0)
        days--;
    sod = (unsigned)(sec - days * 86400);
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        char iso[TS_ISO_LEN];
        jsonw_str(w, ts_format_iso(us, iso));
        return;
    }
    two(b + 1, (unsigned)(y / 100));
    two(b + 3, (unsigned)(y % 100));
    b[0] = '"';
    b[5] = '-';
    two(b + 6, m);
    b[8] = '-';
    two(b + 9, d);
    b[11] = 'T';
    two(b + 12, sod / 3600);
    b[14] = ':';
    two(b + 15, sod / 60 % 60);
    b[17] = ':';
    two(b + 18, sod % 60);
    b[20] = '.';
    two(b + 21, (unsigned)(frac / 10000));
    two(b + 23, (unsigned)(frac / 100 % 100));
    two(b + 25, (unsigned)(frac % 100));
    memcpy(b + 27, "+00:00\"", 7);
    sep(w);
    put(w, b, sizeof(b));
}

void jsonw_raw(jsonw_t *w, const char *json, size_t n)
{
    sep(w);
    put(w, json, n);
}

void jsonw_pg_str(jsonw_t *w, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        jsonw_null(w);
    else
        jsonw_strn(w, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

/* An optional '-' and 1..19 digits: what int2/int4/int8 print. */
bool jsonw_is_int_text(const char *s, size_t n)
{
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0;

    if (n == i || n - i > 19)
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

void jsonw_pg_int(jsonw_t *w, const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);

    if (PQgetisnull(r, row, col) || !jsonw_is_int_text(v, n))
        jsonw_null(w);
    else
        jsonw_raw(w, v, n);
}

/* JSON's number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
bool jsonw_is_number(const char *s, size_t n)
{
    size_t i = 0, d;

    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

void jsonw_pg_num(jsonw_t *w, const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);

    if (PQgetisnull(r, row, col) || !jsonw_is_number(v, n))
        jsonw_null(w); /* NaN, Infinity */
    else
        jsonw_raw(w, v, n);
}

void jsonw_pg_bool(jsonw_t *w, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        jsonw_null(w);
    else
        jsonw_bool(w, PQgetvalue(r, row, col)[0] == 't');
}

void jsonw_pg_ts(jsonw_t *w, const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col), i;
    bool neg;
    uint64_t u = 0;

    if (PQgetisnull(r, row, col) || !jsonw_is_int_text(v, n)) {
        jsonw_null(w);
        return;
    }
    neg = v[0] == '-';
    for (i = neg ? 1 : 0; i < n; i++) {
        if (u > (UINT64_MAX - 9) / 10) {
            jsonw_null(w);
            return;
        }
        u = u * 10 + (uint64_t)(v[i] - '0');
    }
    if (u > (uint64_t)INT64_MAX) {
        jsonw_null(w);
        return;
    }
    jsonw_ts(w, neg ? -(int64_t)u : (int64_t)u);
}

void jsonw_pg_json(jsonw_t *w, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) == 0)
        jsonw_null(w);
    else
        jsonw_raw(w, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}
