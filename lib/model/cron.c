/*
 * cron.c - cron expressions, presets, fixed intervals, time zones, and
 * Airflow 2 data intervals.
 *
 * A parsed expression is five bit sets (see cron.h). Fire times are found on
 * a "naive" wall clock (microseconds counted as if local time were UTC) by
 * walking a broken-down calendar time field by field, coarsest first: a
 * month that does not match jumps to the next (or previous) month, a day to
 * the next day, an hour to the next matching hour, and only the last step
 * looks at minutes. A search therefore costs at most a few hundred steps
 * per year searched. The only expressions that can never fire (day-of-month
 * restricted without L, day-of-week '*', and no listed month has such a
 * day, as "0 0 30 2 *") are refused by schedule_parse (and the search
 * checks again before it starts); every other
 * expression fires at least once every 8 years (Feb 29 across a century
 * year), so the search is also capped at a fixed number of years.
 *
 * Time zones: the naive search is wrapped as Airflow's CronMixin wraps
 * croniter (naive = UTC + offset; hour '*' schedules add the naive
 * difference to the UTC time, others convert the naive fire time back with
 * make_aware's fold=1 rule). Zones are read from the system TZif files
 * (RFC 8536, versions 1-4) into an immutable table: the transitions, and
 * the POSIX TZ rule of the footer for instants after the last one (zic's
 * "slim" files stop listing transitions early). Nothing touches TZ or
 * localtime_r, so lookups are thread-safe.
 *
 * Calendar arithmetic uses the proleptic Gregorian day-number formulas
 * (timeutil.h: ts_days_from_civil / ts_civil_from_days), valid for the years
 * 1..9999 that we accept, without going through time_t.
 *
 * Semantics follow croniter, which Airflow uses:
 * - a field "is *" when it covers every value (so "*", "*\/1", "0-6" in
 *   day-of-week); when day-of-month and day-of-week are both restricted a
 *   day matches if either matches (OR), otherwise both must (AND);
 * - "a/n" means a-max/n; in day-of-week "*" and "a/n" run to 7 (= Sunday),
 *   and a range ending in Sunday may be written "FRI-SUN" (= 5-7);
 * - next fire is strictly after t; Airflow's _get_prev is strictly before.
 */
#include "model/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CRON_MAX_TEXT 256
#define YEAR_MIN 1
#define YEAR_MAX 9999
/* Any expression that fires at all fires within 8 years; allow margin. */
#define SEARCH_YEARS 30

#define US_PER_MIN (60 * TS_US_PER_SEC)
#define MIN_PER_DAY (24 * 60)

typedef struct cal {
    int y, mo, d, h, mi;
} cal_t;

typedef struct field_spec {
    const char *name;
    int min, max;
} field_spec_t;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

static const field_spec_t fields[F_COUNT] = {
    {"minute", 0, 59}, {"hour", 0, 23},       {"day-of-month", 1, 31},
    {"month", 1, 12},  {"day-of-week", 0, 7},
};

/* ---- calendar ---------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* 0 = Sunday. */
static int weekday(const cal_t *c)
{
    return ts_weekday(ts_days_from_civil(c->y, c->mo, c->d));
}

static ts_us_t ts_min(void)
{
    return ts_days_from_civil(YEAR_MIN, 1, 1) * MIN_PER_DAY * US_PER_MIN;
}

static ts_us_t ts_max(void)
{
    return ts_days_from_civil(YEAR_MAX + 1, 1, 1) * MIN_PER_DAY * US_PER_MIN - 1;
}

static void cal_from_minutes(int64_t minutes, cal_t *c)
{
    int64_t days = floor_div(minutes, MIN_PER_DAY);
    int64_t rem = minutes - days * MIN_PER_DAY;
    int64_t y;
    ts_civil_from_days(days, &y, &c->mo, &c->d);
    c->y = (int)y;
    c->h = (int)(rem / 60);
    c->mi = (int)(rem % 60);
}

static ts_us_t cal_to_ts(const cal_t *c)
{
    int64_t days = ts_days_from_civil(c->y, c->mo, c->d);
    return ((days * 24 + c->h) * 60 + c->mi) * US_PER_MIN;
}

/* Moves to 00:00 of the next day / 23:59 of the previous day. */
static void next_day(cal_t *c)
{
    c->h = 0;
    c->mi = 0;
    if (++c->d > ts_days_in_month(c->y, c->mo)) {
        c->d = 1;
        if (++c->mo > 12) {
            c->mo = 1;
            c->y++;
        }
    }
}

static void prev_day(cal_t *c)
{
    c->h = 23;
    c->mi = 59;
    if (--c->d < 1) {
        if (--c->mo < 1) {
            c->mo = 12;
            c->y--;
        }
        c->d = ts_days_in_month(c->y, c->mo);
    }
}

/* ---- matching ---------------------------------------------------------- */

static bool day_matches(const schedule_t *s, const cal_t *c)
{
    int w = weekday(c);
    bool dom_ok = ((s->dom >> c->d) & 1u) || (s->dom_last && c->d == ts_days_in_month(c->y, c->mo));
    bool dow_ok = ((s->dow >> w) & 1u) || ((s->dow_nth[w] >> ((c->d - 1) / 7)) & 1u) ||
                  ((s->dow_nth[w] & SCHEDULE_DOW_LAST) && c->d + 7 > ts_days_in_month(c->y, c->mo));
    if (s->dom_star || s->dow_star)
        return dom_ok && dow_ok;
    return dom_ok || dow_ok;
}

/* True when no listed month has any listed day (only possible in AND mode
 * with day-of-week '*' and no L). */
static bool never_fires(const schedule_t *s)
{
    if (s->dom_star || !s->dow_star || s->dom_last)
        return false;
    for (int m = 1; m <= 12; m++) {
        if (!((s->month >> m) & 1u))
            continue;
        int maxd = m == 2 ? 29 : ts_days_in_month(2001, m);
        for (int d = 1; d <= maxd; d++)
            if ((s->dom >> d) & 1u)
                return false;
    }
    return true;
}

/* Smallest set bit >= from (and <= hi), or -1. */
static int bit_at_or_after(uint64_t bits, int from, int hi)
{
    for (int i = from; i <= hi; i++)
        if ((bits >> i) & 1u)
            return i;
    return -1;
}

static int bit_at_or_before(uint64_t bits, int from, int lo)
{
    for (int i = from; i >= lo; i--)
        if ((bits >> i) & 1u)
            return i;
    return -1;
}

/* First naive fire time strictly after naive time t (minute granularity). */
static int naive_next(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (t < ts_min() || t > ts_max() || never_fires(s))
        return -1;
    cal_t c;
    cal_from_minutes(floor_div(t, US_PER_MIN) + 1, &c);
    int last_year = c.y + SEARCH_YEARS;
    for (;;) {
        if (c.y > last_year || c.y > YEAR_MAX)
            return -1;
        if (!((s->month >> c.mo) & 1u)) {
            c.d = ts_days_in_month(c.y, c.mo);
            next_day(&c); /* first day of the following month */
            continue;
        }
        if (!day_matches(s, &c)) {
            next_day(&c);
            continue;
        }
        int h = bit_at_or_after(s->hour, c.h, 23);
        if (h < 0) {
            next_day(&c);
            continue;
        }
        if (h != c.h) {
            c.h = h;
            c.mi = 0;
        }
        int m = bit_at_or_after(s->minute, c.mi, 59);
        if (m < 0) {
            /* next hour of the same day, or the next day */
            if (c.h == 23) {
                next_day(&c);
            } else {
                c.h++;
                c.mi = 0;
            }
            continue;
        }
        c.mi = m;
        *out = cal_to_ts(&c);
        return 0;
    }
}

/* Last naive fire time at or before naive time t. */
static int naive_prev(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (t < ts_min() || t > ts_max() || never_fires(s))
        return -1;
    cal_t c;
    cal_from_minutes(floor_div(t, US_PER_MIN), &c);
    int first_year = c.y - SEARCH_YEARS;
    for (;;) {
        if (c.y < first_year || c.y < YEAR_MIN)
            return -1;
        if (!((s->month >> c.mo) & 1u)) {
            c.d = 1;
            prev_day(&c); /* last day of the preceding month */
            continue;
        }
        if (!day_matches(s, &c)) {
            prev_day(&c);
            continue;
        }
        int h = bit_at_or_before(s->hour, c.h, 0);
        if (h < 0) {
            prev_day(&c);
            continue;
        }
        if (h != c.h) {
            c.h = h;
            c.mi = 59;
        }
        int m = bit_at_or_before(s->minute, c.mi, 0);
        if (m < 0) {
            if (c.h == 0) {
                prev_day(&c);
            } else {
                c.h--;
                c.mi = 59;
            }
            continue;
        }
        c.mi = m;
        *out = cal_to_ts(&c);
        return 0;
    }
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct parse_ctx {
    const char *text; /* the expression as given, for messages */
    char *err;
    size_t errlen;
} parse_ctx_t;

static int fail(const parse_ctx_t *px, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const parse_ctx_t *px, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (px->err != NULL && px->errlen > 0)
        snprintf(px->err, px->errlen, "invalid cron expression '%s': %s", px->text, detail);
    return -1;
}

/* Parses a number or (month, day-of-week) a three-letter name at *p. */
static int parse_value(const char **p, int fi, long *out)
{
    const char *q = *p;
    if (isdigit((unsigned char)*q)) {
        long v = 0;
        while (isdigit((unsigned char)*q)) {
            if (v < 100000) /* keeps huge numbers huge without overflow */
                v = v * 10 + (*q - '0');
            q++;
        }
        *out = v;
        *p = q;
        return 0;
    }
    const char *const *names = fi == F_MONTH ? month_names : fi == F_DOW ? dow_names : NULL;
    int count = fi == F_MONTH ? 12 : 7;
    if (names == NULL)
        return -1;
    size_t n = 0;
    while (isalpha((unsigned char)q[n]))
        n++;
    if (n != 3)
        return -1;
    for (int i = 0; i < count; i++) {
        if (strncasecmp(q, names[i], 3) == 0) {
            *out = (fi == F_MONTH ? 1 : 0) + i;
            *p = q + 3;
            return 0;
        }
    }
    return -1;
}

static bool unsupported_syntax(const char *s)
{
    return strchr(s, '#') != NULL || strchr(s, 'L') != NULL || strchr(s, 'l') != NULL ||
           strchr(s, 'W') != NULL || strchr(s, 'w') != NULL;
}

#define UNSUPPORTED_MSG                                                                            \
    "unsupported syntax '%s' in %s field (W is not supported; the last weekday of the month "      \
    "is L<weekday>, as L5)"

/* "w#n" in day-of-week: the n-th (1-5) weekday w of the month. */
static int parse_nth(const parse_ctx_t *px, const char *item, schedule_t *out)
{
    const char *p = item;
    long w;
    if (parse_value(&p, F_DOW, &w) < 0 || *p != '#')
        return fail(px, "bad value '%s' in day-of-week field", item);
    if (w > 7)
        return fail(px, "day-of-week %ld out of range 0-7", w);
    p++;
    if (!isdigit((unsigned char)p[0]) || p[1] != '\0' || p[0] < '1' || p[0] > '5')
        return fail(px, "bad nth weekday '%s' in day-of-week field (use 1-5 after '#')", item);
    out->dow_nth[w % 7] |= (uint8_t)(1u << (p[0] - '1'));
    return 0;
}

/* "Lw" in day-of-week (croniter's form): the last weekday w (0-7) of the month. */
static int parse_last_weekday(const parse_ctx_t *px, const char *item, schedule_t *out)
{
    const char *p = item + 1;
    char *end;
    if (!isdigit((unsigned char)*p))
        return fail(px, "bad last weekday '%s' in day-of-week field (use L0-L7, as L5)", item);
    long w = strtol(p, &end, 10);
    if (*end != '\0' || w > 7)
        return fail(px, "bad last weekday '%s' in day-of-week field (use L0-L7, as L5)", item);
    out->dow_nth[w % 7] |= SCHEDULE_DOW_LAST;
    return 0;
}

/* One comma-separated item: '*', '?', a, a-b, each with an optional /step;
 * L in day-of-month and w#n in day-of-week (recorded in out). */
static int parse_item(const parse_ctx_t *px, const char *item, int fi, uint64_t *bits,
                      schedule_t *out)
{
    const field_spec_t *f = &fields[fi];
    const char *p = item;
    long lo, hi, step = 1;
    bool range = false, star = false;

    if (*p == '\0')
        return fail(px, "empty list item in %s field", f->name);
    if (fi == F_DOM && strcasecmp(item, "l") == 0) {
        out->dom_last = true;
        return 0;
    }
    if (fi == F_DOW && strchr(item, '#') != NULL)
        return parse_nth(px, item, out);
    if (fi == F_DOW && (item[0] == 'L' || item[0] == 'l') && item[1] != '\0')
        return parse_last_weekday(px, item, out);
    if (*p == '*' || *p == '?') {
        if (*p == '?' && fi != F_DOM && fi != F_DOW)
            return fail(px, "'?' is only allowed in day-of-month and day-of-week");
        lo = f->min;
        hi = f->max;
        range = star = true;
        p++;
    } else {
        if (parse_value(&p, fi, &lo) < 0) {
            if ((fi == F_DOM || fi == F_DOW) && unsupported_syntax(item))
                return fail(px, UNSUPPORTED_MSG, item, f->name);
            return fail(px, "bad value '%s' in %s field", item, f->name);
        }
        hi = lo;
        if (*p == '-') {
            p++;
            if (parse_value(&p, fi, &hi) < 0)
                return fail(px, "bad range '%s' in %s field", item, f->name);
            range = true;
        }
    }
    if (*p == '/') {
        p++;
        if (!isdigit((unsigned char)*p))
            return fail(px, "bad step '%s' in %s field", item, f->name);
        step = 0;
        while (isdigit((unsigned char)*p)) {
            if (step < 100000)
                step = step * 10 + (*p - '0');
            p++;
        }
        if (step == 0)
            return fail(px, "step 0 in %s field", f->name);
        if (!range) /* "a/n" is "a-max/n" */
            hi = f->max;
    } else if (star && fi == F_DOW) {
        hi = 6; /* plain '*' in day-of-week: 0-6 (7 is 0 again) */
    }
    if (*p != '\0') {
        if ((fi == F_DOM || fi == F_DOW) && unsupported_syntax(item))
            return fail(px, UNSUPPORTED_MSG, item, f->name);
        return fail(px, "bad value '%s' in %s field", item, f->name);
    }

    if (lo < f->min || lo > f->max)
        return fail(px, "%s %ld out of range %d-%d", f->name, lo, f->min, f->max);
    if (hi < f->min || hi > f->max)
        return fail(px, "%s %ld out of range %d-%d", f->name, hi, f->min, f->max);
    if (lo > hi) {
        if (fi == F_DOW && hi == 0)
            hi = 7; /* "FRI-SUN" is 5-7 */
        else
            return fail(px, "%s range %ld-%ld starts after it ends", f->name, lo, hi);
    }
    for (long v = lo; v <= hi; v += step) {
        long bit = (fi == F_DOW && v == 7) ? 0 : v;
        *bits |= UINT64_C(1) << bit;
    }
    return 0;
}

static int parse_field(const parse_ctx_t *px, const char *field, int fi, uint64_t *bits,
                       schedule_t *out)
{
    char item[64];
    const char *p = field;
    *bits = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n >= sizeof(item))
            return fail(px, "%s field item too long", fields[fi].name);
        memcpy(item, p, n);
        item[n] = '\0';
        if (parse_item(px, item, fi, bits, out) < 0)
            return -1;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

static const struct {
    const char *name;
    const char *expr;
} presets[] = {
    {"@hourly", "0 * * * *"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"}, {"@monthly", "0 0 1 * *"},  {"@quarterly", "0 0 1 */3 *"},
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
};

/* Longest fixed interval accepted: 100 years, far from overflowing. */
#define DELTA_MAX_SEC (INT64_C(100) * 366 * 86400)

/*
 * A fixed interval: one or more <digits><unit> groups, units w d h m s
 * (case-insensitive), as "30m", "1d", "1h30m". Returns 1 and fills *sec when
 * text has that shape, 0 when it does not look like an interval at all.
 */
static int parse_delta(const char *text, int64_t *sec)
{
    const char *p = text;
    int64_t total = 0;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (*p != '\0') {
        int64_t v = 0, mul;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p)) {
            if (v < DELTA_MAX_SEC)
                v = v * 10 + (*p - '0');
            p++;
        }
        switch (tolower((unsigned char)*p)) {
        case 'w':
            mul = 7 * 86400;
            break;
        case 'd':
            mul = 86400;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'm':
            mul = 60;
            break;
        case 's':
            mul = 1;
            break;
        default:
            return 0;
        }
        p++;
        if (v > DELTA_MAX_SEC)
            v = DELTA_MAX_SEC + 1;
        total += v * mul;
        if (total > DELTA_MAX_SEC)
            total = DELTA_MAX_SEC + 1;
    }
    *sec = total;
    return 1;
}

char *schedule_format_delta(int64_t seconds, char *buf, size_t len)
{
    static const struct {
        int64_t sec;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    size_t used = 0;
    if (buf == NULL || len < 24 || seconds <= 0)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        int64_t n = seconds / units[i].sec;
        seconds %= units[i].sec;
        if (n > 0)
            used += (size_t)snprintf(buf + used, len - used, "%lld%c", (long long)n, units[i].unit);
    }
    return buf;
}

int schedule_parse(const char *text, schedule_t *out, char *err, size_t errlen)
{
    char buf[CRON_MAX_TEXT + 1];
    char *fv[F_COUNT + 1];
    uint64_t bits[F_COUNT];
    parse_ctx_t px = {text, err, errlen};
    int nf = 0;
    int64_t delta;

    memset(out, 0, sizeof(*out));
    out->kind = SCHEDULE_NONE;
    out->tz = NULL;
    if (text == NULL)
        return 0;
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    if (len > CRON_MAX_TEXT) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "invalid cron expression: longer than %d characters",
                     CRON_MAX_TEXT);
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    px.text = buf;
    if (len == 0 || strcasecmp(buf, "none") == 0 || strcasecmp(buf, "null") == 0 ||
        strcmp(buf, "~") == 0)
        return 0;
    if (strcasecmp(buf, "@once") == 0) {
        out->kind = SCHEDULE_ONCE;
        return 0;
    }
    if (strcasecmp(buf, "@continuous") == 0) {
        out->kind = SCHEDULE_CONTINUOUS;
        return 0;
    }
    if (parse_delta(buf, &delta)) {
        if (delta <= 0) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "invalid schedule interval '%s': must be positive", buf);
            return -1;
        }
        if (delta > DELTA_MAX_SEC) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "invalid schedule interval '%s': longer than 100 years", buf);
            return -1;
        }
        out->kind = SCHEDULE_DELTA;
        out->delta_us = delta * TS_US_PER_SEC;
        return 0;
    }

    char work[CRON_MAX_TEXT + 1];
    const char *expr = buf;
    if (buf[0] == '@') {
        expr = NULL;
        for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
            if (strcasecmp(buf, presets[i].name) == 0)
                expr = presets[i].expr;
        if (expr == NULL)
            return fail(&px, "unknown preset (use @once, @continuous, @hourly, @daily, "
                             "@midnight, @weekly, @monthly, @quarterly, @yearly or @annually)");
    }
    snprintf(work, sizeof(work), "%s", expr);
    for (char *save = NULL, *tok = strtok_r(work, " \t\r\n\v\f", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n\v\f", &save)) {
        if (nf == F_COUNT)
            return fail(&px, "expected 5 fields (minute hour day-of-month month day-of-week), "
                             "found more");
        fv[nf++] = tok;
    }
    if (nf != F_COUNT)
        return fail(&px, "expected 5 fields (minute hour day-of-month month day-of-week), found %d",
                    nf);
    for (int i = 0; i < F_COUNT; i++)
        if (parse_field(&px, fv[i], i, &bits[i], out) < 0)
            return -1;

    bool any_nth = false;
    for (int w = 0; w < 7; w++)
        any_nth = any_nth || out->dow_nth[w] != 0;
    out->kind = SCHEDULE_CRON;
    out->minute = bits[F_MINUTE];
    out->hour = (uint32_t)bits[F_HOUR];
    out->dom = (uint32_t)bits[F_DOM];
    out->month = (uint16_t)bits[F_MONTH];
    out->dow = (uint8_t)bits[F_DOW];
    /* croniter: a field that covers every value counts as '*' */
    out->dom_star = out->dom == 0xFFFFFFFEu;
    out->dow_star = out->dow == 0x7Fu && !any_nth;
    if (never_fires(out))
        return fail(&px, "it can never fire: no month of the month field has a day of the "
                         "day-of-month field (as February 30 or April 31)");
    return 0;
}

/* ---- time zones -------------------------------------------------------- */

#define TZ_FILE_MAX (256 * 1024)
#define TZ_NAME_MAX 255
#define TZ_MAX_TIMES 4096
#define TZ_MAX_TYPES 256

/* A POSIX TZ rule date: Jn (kind 'J'), n (kind 'n') or Mm.w.d (kind 'M'),
 * plus the local time of day in seconds (may be negative or past 24h). */
typedef struct tz_rule_date {
    char kind;
    int day, month, week, wday;
    int32_t secs;
} tz_rule_date_t;

struct schedule_tz {
    size_t n_times;
    int64_t *times;    /* UTC seconds of each transition, ascending */
    int32_t *offs;     /* UTC offset from times[i] on */
    int32_t first_off; /* before the first transition */
    bool has_rule;     /* the footer rule applies after the last transition */
    bool rule_dst;     /* the rule has daylight saving time */
    int32_t std_off, dst_off;
    tz_rule_date_t start, end;
};

void schedule_tz_free(schedule_tz_t *tz)
{
    if (tz == NULL)
        return;
    free(tz->times);
    free(tz->offs);
    free(tz);
}

static int32_t be32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)(uint32_t)be32(p) << 32 | (uint32_t)be32(p + 4));
}

/* POSIX TZ parsing: a zone abbreviation ("EST" or "<+03>"). */
static const char *rule_name(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q && q - p >= 2 ? q + 1 : NULL;
    }
    const char *q = p;
    while (isalpha((unsigned char)*q))
        q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]], hh up to 167; *out in seconds. */
static const char *rule_hms(const char *p, int32_t *out)
{
    int sign = 1, part[3] = {0, 0, 0};
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*p != ':')
                break;
            p++;
        }
        if (!isdigit((unsigned char)*p))
            return NULL;
        int v = 0;
        while (isdigit((unsigned char)*p) && v < 1000)
            v = v * 10 + (*p++ - '0');
        if ((i == 0 && v > 167) || (i > 0 && v > 59))
            return NULL;
        part[i] = v;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return p;
}

static const char *rule_num(const char *p, int lo, int hi, int *out)
{
    int v = 0;
    if (!isdigit((unsigned char)*p))
        return NULL;
    while (isdigit((unsigned char)*p) && v <= hi)
        v = v * 10 + (*p++ - '0');
    if (v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

static const char *rule_date(const char *p, tz_rule_date_t *d)
{
    memset(d, 0, sizeof(*d));
    d->secs = 7200;
    if (*p == 'M') {
        d->kind = 'M';
        if (!(p = rule_num(p + 1, 1, 12, &d->month)) || *p++ != '.' ||
            !(p = rule_num(p, 1, 5, &d->week)) || *p++ != '.' || !(p = rule_num(p, 0, 6, &d->wday)))
            return NULL;
    } else if (*p == 'J') {
        d->kind = 'J';
        if (!(p = rule_num(p + 1, 1, 365, &d->day)))
            return NULL;
    } else {
        d->kind = 'n';
        if (!(p = rule_num(p, 0, 365, &d->day)))
            return NULL;
    }
    if (*p == '/')
        p = rule_hms(p + 1, &d->secs);
    return p;
}

/* Parses the footer TZ string; 0 or -1 (then the file's table is used alone). */
static int parse_rule(const char *p, schedule_tz_t *tz)
{
    int32_t off;
    if (!(p = rule_name(p)) || !(p = rule_hms(p, &off)))
        return -1;
    tz->std_off = -off;
    tz->dst_off = tz->std_off + 3600;
    if (*p == '\0') {
        tz->has_rule = true;
        return 0;
    }
    if (!(p = rule_name(p)))
        return -1;
    if (*p != ',' && *p != '\0') {
        if (!(p = rule_hms(p, &off)))
            return -1;
        tz->dst_off = -off;
    }
    if (*p != ',' || !(p = rule_date(p + 1, &tz->start)) || *p != ',' ||
        !(p = rule_date(p + 1, &tz->end)) || *p != '\0')
        return -1;
    tz->has_rule = tz->rule_dst = true;
    return 0;
}

/* Day number (days since 1970-01-01) of a rule date in year y. */
static int64_t rule_day(const tz_rule_date_t *d, int y)
{
    if (d->kind == 'J')
        return ts_days_from_civil(y, 1, 1) + d->day - 1 + (ts_is_leap_year(y) && d->day >= 60);
    if (d->kind == 'n')
        return ts_days_from_civil(y, 1, 1) + d->day;
    int64_t first = ts_days_from_civil(y, d->month, 1);
    int w1 = ts_weekday(first);
    int day = 1 + (int)((d->wday - w1 + 7) % 7) + (d->week - 1) * 7;
    while (day > ts_days_in_month(y, d->month))
        day -= 7;
    return first + day - 1;
}

static int32_t rule_offset(const schedule_tz_t *tz, int64_t t)
{
    if (!tz->rule_dst)
        return tz->std_off;
    int64_t year;
    int m, d;
    ts_civil_from_days(floor_div(t + tz->std_off, 86400), &year, &m, &d);
    int y = (int)year;
    /* start is given in standard time, end in daylight time */
    int64_t start = rule_day(&tz->start, y) * 86400 + tz->start.secs - tz->std_off;
    int64_t end = rule_day(&tz->end, y) * 86400 + tz->end.secs - tz->dst_off;
    bool dst = start < end ? (t >= start && t < end) : (t < end || t >= start);
    return dst ? tz->dst_off : tz->std_off;
}

static int32_t offset_at(const schedule_tz_t *tz, int64_t t)
{
    if (tz == NULL)
        return 0;
    if (tz->n_times == 0 || t < tz->times[0])
        return tz->n_times == 0 && tz->has_rule ? rule_offset(tz, t) : tz->first_off;
    if (t >= tz->times[tz->n_times - 1] && tz->has_rule)
        return rule_offset(tz, t);
    size_t lo = 0, hi = tz->n_times; /* times[lo] <= t < times[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->times[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->offs[lo];
}

int32_t schedule_tz_offset(const schedule_tz_t *tz, ts_us_t t)
{
    return offset_at(tz, floor_div(t, TS_US_PER_SEC));
}

/* Reads a TZif image. 0 or -1. */
static int parse_tzif(const unsigned char *b, size_t n, schedule_tz_t *tz)
{
    const unsigned char *p = b, *end = b + n;
    int version;
    if (n < 44 || memcmp(b, "TZif", 4) != 0)
        return -1;
    version = b[4] ? b[4] - '0' : 1;
    for (int pass = 0; pass < 2; pass++) {
        if (end - p < 44 || memcmp(p, "TZif", 4) != 0)
            return -1;
        int64_t isutcnt = be32(p + 20), isstdcnt = be32(p + 24), leapcnt = be32(p + 28),
                timecnt = be32(p + 32), typecnt = be32(p + 36), charcnt = be32(p + 40);
        int tsize = pass == 0 ? 4 : 8;
        if (isutcnt < 0 || isstdcnt < 0 || leapcnt < 0 || timecnt < 0 || timecnt > TZ_MAX_TIMES ||
            typecnt < 1 || typecnt > TZ_MAX_TYPES || charcnt < 0 || charcnt > 4096 ||
            leapcnt > 4096 || isutcnt > typecnt || isstdcnt > typecnt)
            return -1;
        int64_t size = timecnt * tsize + timecnt + typecnt * 6 + charcnt + leapcnt * (tsize + 4) +
                       isstdcnt + isutcnt;
        p += 44;
        if (end - p < size)
            return -1;
        if (pass == 0 && version >= 2) {
            p += size; /* skip the 32-bit block */
            continue;
        }
        const unsigned char *tt = p, *ti = p + timecnt * tsize, *ty = ti + timecnt;
        int32_t offs[TZ_MAX_TYPES];
        bool isdst[TZ_MAX_TYPES];
        for (int64_t i = 0; i < typecnt; i++) {
            offs[i] = be32(ty + 6 * i);
            isdst[i] = ty[6 * i + 4] != 0;
            if (offs[i] <= -26 * 3600 || offs[i] >= 26 * 3600)
                return -1;
        }
        tz->times = malloc((size_t)(timecnt ? timecnt : 1) * sizeof(*tz->times));
        tz->offs = malloc((size_t)(timecnt ? timecnt : 1) * sizeof(*tz->offs));
        if (tz->times == NULL || tz->offs == NULL)
            return -1;
        for (int64_t i = 0; i < timecnt; i++) {
            int64_t t = tsize == 4 ? be32(tt + 4 * i) : be64(tt + 8 * i);
            if (ti[i] >= typecnt || (i > 0 && t <= tz->times[i - 1]))
                return -1;
            tz->times[i] = t;
            tz->offs[i] = offs[ti[i]];
        }
        tz->n_times = (size_t)timecnt;
        /* RFC 8536: local time before the first transition is type 0 */
        tz->first_off = offs[0];
        (void)isdst;
        p += size;
        break;
    }
    if (version >= 2 && p < end && *p == '\n') {
        const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        char rule[128];
        if (nl != NULL && (size_t)(nl - p - 1) < sizeof(rule) && nl > p + 1) {
            memcpy(rule, p + 1, (size_t)(nl - p - 1));
            rule[nl - p - 1] = '\0';
            if (parse_rule(rule, tz) < 0)
                tz->has_rule = false;
        }
    }
    return 0;
}

static bool is_utc_name(const char *name)
{
    return strcasecmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "Z") == 0 ||
           strcmp(name, "Etc/GMT") == 0 || strcmp(name, "GMT") == 0 ||
           strcmp(name, "+00:00") == 0 || strcmp(name, "-00:00") == 0 || strcmp(name, "+0000") == 0;
}

/* "+02:00", "-0530", "+05": a fixed offset in seconds. 0 or -1. */
static int parse_fixed_offset(const char *name, int32_t *off)
{
    int sign, h, m = 0;
    if ((name[0] != '+' && name[0] != '-') || !isdigit((unsigned char)name[1]) ||
        !isdigit((unsigned char)name[2]))
        return -1;
    sign = name[0] == '-' ? -1 : 1;
    h = (name[1] - '0') * 10 + (name[2] - '0');
    const char *p = name + 3;
    if (*p == ':')
        p++;
    if (*p != '\0') {
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != '\0')
            return -1;
        m = (p[0] - '0') * 10 + (p[1] - '0');
    }
    if (h > 23 || m > 59)
        return -1;
    *off = sign * (h * 3600 + m * 60);
    return 0;
}

/* An IANA name: [A-Za-z0-9_+-] components separated by '/', no "." parts. */
static bool valid_zone_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
        return false;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '+' && *p != '/')
            return false;
        if (*p == '/' && p[1] == '/')
            return false;
    }
    return true;
}

int schedule_tz_load(const char *name, schedule_tz_t **out, char *err, size_t errlen)
{
    char path[4096];
    unsigned char *buf = NULL;
    FILE *f = NULL;
    schedule_tz_t *tz = NULL;
    int32_t fixed;
    int rc = -1;

    *out = NULL;
    if (name == NULL || is_utc_name(name))
        return 0;
    if (parse_fixed_offset(name, &fixed) == 0) {
        if (fixed == 0)
            return 0;
        if (!(tz = calloc(1, sizeof(*tz))))
            goto oom;
        tz->first_off = tz->std_off = fixed;
        tz->has_rule = true;
        *out = tz;
        return 0;
    }
    if (!valid_zone_name(name)) {
        snprintf(err, errlen, "unknown time zone '%.100s'", name);
        return -1;
    }
    const char *dir = getenv("TZDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/usr/share/zoneinfo";
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "rb"))) {
        if (errno == ENOENT || errno == ENOTDIR)
            snprintf(err, errlen, "unknown time zone '%.100s'", name);
        else
            snprintf(err, errlen, "cannot read time zone '%.100s': %s", name, strerror(errno));
        return -1;
    }
    if (!(buf = malloc(TZ_FILE_MAX)))
        goto oom;
    size_t n = fread(buf, 1, TZ_FILE_MAX, f);
    if (!(tz = calloc(1, sizeof(*tz))))
        goto oom;
    if (n == TZ_FILE_MAX || parse_tzif(buf, n, tz) < 0) {
        snprintf(err, errlen, "unknown time zone '%.100s' (not a TZif file)", name);
        goto out;
    }
    *out = tz;
    tz = NULL;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory loading time zone '%.100s'", name);
out:
    if (f)
        fclose(f);
    free(buf);
    schedule_tz_free(tz);
    return rc;
}

/* The naive local wall-clock time of instant t (Airflow's make_naive). */
static ts_us_t to_local(const schedule_tz_t *tz, ts_us_t t)
{
    return t + (ts_us_t)offset_at(tz, floor_div(t, TS_US_PER_SEC)) * TS_US_PER_SEC;
}

ts_us_t schedule_tz_from_local(const schedule_tz_t *tz, ts_us_t local)
{
    if (tz == NULL)
        return local;
    int64_t sec = floor_div(local, TS_US_PER_SEC);
    /* offsets a day either side; zones change at most once in two days */
    int32_t before = offset_at(tz, sec - 86400), after = offset_at(tz, sec + 86400);
    ts_us_t ua = local - (ts_us_t)before * TS_US_PER_SEC;
    ts_us_t ub = local - (ts_us_t)after * TS_US_PER_SEC;
    bool va = offset_at(tz, floor_div(ua, TS_US_PER_SEC)) == before;
    bool vb = offset_at(tz, floor_div(ub, TS_US_PER_SEC)) == after;
    if (va && vb)
        return ua > ub ? ua : ub; /* repeated: the second occurrence (fold=1) */
    if (vb)
        return ub;
    if (va)
        return ua;
    /* skipped: wall time + gap, read with the new offset = local - before */
    return ua;
}

/* ---- fire times in a zone ---------------------------------------------- */

/* croniter normalises a full hour field to '*'; Airflow then steps in
 * elapsed time (_covers_every_hour). */
static bool covers_every_hour(const schedule_t *s)
{
    return s->hour == 0xFFFFFFu;
}

/* Airflow's _get_next: first fire strictly after t. */
static int get_next(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (s == NULL || t == TS_NONE)
        return -1;
    if (s->kind == SCHEDULE_DELTA) {
        if (t > ts_max() - s->delta_us)
            return -1;
        *out = t + s->delta_us;
        return 0;
    }
    if (s->kind != SCHEDULE_CRON || t < ts_min() || t > ts_max())
        return -1;
    ts_us_t naive = to_local(s->tz, t), next;
    if (naive_next(s, naive, &next) < 0)
        return -1;
    *out = covers_every_hour(s) ? t + (next - naive) : schedule_tz_from_local(s->tz, next);
    return 0;
}

/* Airflow's _get_prev: last fire strictly before t. */
static int get_prev(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (s == NULL || t == TS_NONE)
        return -1;
    if (s->kind == SCHEDULE_DELTA) {
        if (t < ts_min() + s->delta_us)
            return -1;
        *out = t - s->delta_us;
        return 0;
    }
    if (s->kind != SCHEDULE_CRON || t <= ts_min() || t > ts_max())
        return -1;
    ts_us_t naive = to_local(s->tz, t), prev;
    if (naive <= ts_min() || naive_prev(s, naive - 1, &prev) < 0)
        return -1;
    *out = covers_every_hour(s) ? t - (naive - prev) : schedule_tz_from_local(s->tz, prev);
    return 0;
}

int schedule_next_fire(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    return get_next(s, t, out);
}

int schedule_prev_fire(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (s == NULL || s->kind != SCHEDULE_CRON || t == TS_NONE || t >= ts_max())
        return -1;
    return get_prev(s, t + 1, out);
}

/* ---- Airflow data intervals -------------------------------------------- */

/* Airflow's _align_to_next: t itself when it is on the schedule, else the
 * next fire. Identity for fixed intervals. */
static int align_to_next(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    ts_us_t next, back;
    if (s->kind == SCHEDULE_DELTA) {
        *out = t;
        return 0;
    }
    if (get_next(s, t, &next) < 0)
        return -1;
    *out = get_prev(s, next, &back) == 0 && back == t ? t : next;
    return 0;
}

/* Airflow's _align_to_prev: t itself when it is on the schedule, else the
 * previous fire. */
static int align_to_prev(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    ts_us_t prev, fwd;
    if (s->kind == SCHEDULE_DELTA) {
        *out = t;
        return 0;
    }
    if (get_prev(s, t, &prev) < 0)
        return -1;
    *out = get_next(s, prev, &fwd) == 0 && fwd == t ? t : prev;
    return 0;
}

/* CronDataIntervalTimetable._skip_to_latest (the default branch,
 * catchup_false_no_dagrun_airflow_2_fix off): the start of the latest
 * interval that is complete at now, but never before the aligned
 * start_date. */
static int skip_to_latest_cron(const schedule_t *s, ts_us_t earliest, ts_us_t now, ts_us_t *out)
{
    ts_us_t aligned, last_start, next_start, new_start;
    if (align_to_next(s, earliest, &aligned) < 0)
        return -1;
    if (get_prev(s, now, &last_start) < 0 || get_next(s, last_start, &next_start) < 0) {
        /* nothing fired before now: the first interval is the latest */
        *out = aligned;
        return 0;
    }
    if (next_start == now) {
        new_start = last_start; /* now is on a boundary */
    } else if (get_prev(s, last_start, &new_start) < 0) {
        *out = aligned;
        return 0;
    }
    *out = new_start > aligned ? new_start : aligned;
    return 0;
}

/* DeltaDataIntervalTimetable._skip_to_latest: now rounded down to a
 * multiple of the interval (counted from the epoch), one interval back,
 * never before start_date. */
static int skip_to_latest_delta(const schedule_t *s, ts_us_t earliest, ts_us_t now, ts_us_t *out)
{
    ts_us_t rounded = now - (now - floor_div(now, s->delta_us) * s->delta_us);
    ts_us_t start = rounded - s->delta_us;
    *out = start > earliest ? start : earliest;
    return 0;
}

/* ContinuousTimetable.next_dagrun_info. */
static int continuous_interval(ts_us_t last_start, ts_us_t last_end, ts_us_t start_date,
                               ts_us_t end_date, ts_us_t now, ts_us_t *istart, ts_us_t *iend)
{
    ts_us_t start, end;
    if (start_date == TS_NONE)
        return 0;
    if (last_start != TS_NONE && last_end != TS_NONE) {
        if (last_end > now) { /* start_date moved into the future */
            start = start_date;
            end = start + (last_end - last_start);
        } else {
            start = last_end;
            end = now;
        }
    } else {
        start = start_date;
        end = start_date > now ? start_date : now;
    }
    if (end_date != TS_NONE && end > end_date)
        return 0;
    *istart = start;
    *iend = end;
    return 1;
}

int schedule_next_interval(const schedule_t *s, ts_us_t last_start, ts_us_t last_end,
                           ts_us_t start_date, ts_us_t end_date, ts_us_t now, bool catchup,
                           ts_us_t *istart, ts_us_t *iend)
{
    ts_us_t earliest, start, end;
    if (s == NULL || s->kind == SCHEDULE_NONE || start_date == TS_NONE)
        return 0;
    if (s->kind == SCHEDULE_ONCE) {
        /* OnceTimetable: one run at start_date whatever catchup says */
        if (last_start != TS_NONE)
            return 0;
        if (end_date != TS_NONE && start_date > end_date)
            return 0;
        *istart = *iend = start_date;
        return 1;
    }
    if (s->kind == SCHEDULE_CONTINUOUS)
        return continuous_interval(last_start, last_end, start_date, end_date, now, istart, iend);
    if (!catchup) {
        int rc = s->kind == SCHEDULE_DELTA ? skip_to_latest_delta(s, start_date, now, &earliest)
                                           : skip_to_latest_cron(s, start_date, now, &earliest);
        if (rc < 0)
            return 0;
    } else if (align_to_next(s, start_date, &earliest) < 0) {
        return 0;
    }
    if (last_start == TS_NONE) {
        start = earliest;
    } else {
        ts_us_t aligned_end;
        if (last_end == TS_NONE && get_next(s, last_start, &last_end) < 0)
            return 0;
        /* alignment matters when the schedule changed since that run */
        if (align_to_prev(s, last_end, &aligned_end) < 0)
            return 0;
        start = aligned_end > earliest ? aligned_end : earliest;
    }
    if (end_date != TS_NONE && start > end_date)
        return 0;
    if (get_next(s, start, &end) < 0)
        return 0;
    *istart = start;
    *iend = end;
    return 1;
}

void schedule_manual_interval(const schedule_t *s, ts_us_t run_after, ts_us_t *istart,
                              ts_us_t *iend)
{
    ts_us_t start, end;
    *istart = *iend = run_after;
    if (s == NULL || (s->kind != SCHEDULE_CRON && s->kind != SCHEDULE_DELTA))
        return;
    if (align_to_prev(s, run_after, &end) < 0 || get_prev(s, end, &start) < 0)
        return;
    *istart = start;
    *iend = end;
}

int schedule_following_interval(const schedule_t *s, ts_us_t last_start, ts_us_t last_end,
                                ts_us_t *istart, ts_us_t *iend)
{
    ts_us_t start, end;
    if (s == NULL || (s->kind != SCHEDULE_CRON && s->kind != SCHEDULE_DELTA) ||
        last_start == TS_NONE)
        return 0;
    if (last_end == TS_NONE && get_next(s, last_start, &last_end) < 0)
        return 0;
    if (align_to_prev(s, last_end, &start) < 0 || get_next(s, start, &end) < 0)
        return 0;
    *istart = start;
    *iend = end;
    return 1;
}
