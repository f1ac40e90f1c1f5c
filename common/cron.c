/*
 * cron.c - cron expressions, presets, and Airflow 2 data intervals.
 *
 * A parsed expression is five bit sets (see cron.h). Fire times are found by
 * walking a broken-down UTC calendar time field by field, coarsest first:
 * a month that does not match jumps to the next (or previous) month, a day
 * to the next day, an hour to the next matching hour, and only the last
 * step looks at minutes. A search therefore costs at most a few hundred
 * steps per year searched. The only expressions that can never fire
 * (day-of-month restricted, day-of-week '*', and no listed month has such a
 * day, as "0 0 30 2 *") are recognised before searching; every other
 * expression fires at least once every 8 years (Feb 29 across a century
 * year), so the search is also capped at a fixed number of years.
 *
 * Calendar arithmetic uses the proleptic Gregorian day-number formulas
 * (days_from_civil / civil_from_days), valid for the years 1..9999 that we
 * accept, without going through time_t.
 *
 * Semantics follow croniter, which Airflow uses:
 * - a field "is *" when it covers every value (so "*", "*\/1", "0-6" in
 *   day-of-week); when day-of-month and day-of-week are both restricted a
 *   day matches if either matches (OR), otherwise both must (AND);
 * - "a/n" means a-max/n; in day-of-week "*" and "a/n" run to 7 (= Sunday),
 *   and a range ending in Sunday may be written "FRI-SUN" (= 5-7);
 * - next fire is strictly after t; previous fire is at or before t (the
 *   "strictly before" that Airflow's _get_prev needs is prev(t - 1us)).
 */
#include "common/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
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

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* 0 = Sunday. 1970-01-01 was a Thursday. */
static int weekday(const cal_t *c)
{
    int64_t w = (days_from_civil(c->y, c->mo, c->d) + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static ts_us_t ts_min(void)
{
    return days_from_civil(YEAR_MIN, 1, 1) * MIN_PER_DAY * US_PER_MIN;
}

static ts_us_t ts_max(void)
{
    return days_from_civil(YEAR_MAX + 1, 1, 1) * MIN_PER_DAY * US_PER_MIN - 1;
}

static void cal_from_minutes(int64_t minutes, cal_t *c)
{
    int64_t days = floor_div(minutes, MIN_PER_DAY);
    int64_t rem = minutes - days * MIN_PER_DAY;
    civil_from_days(days, &c->y, &c->mo, &c->d);
    c->h = (int)(rem / 60);
    c->mi = (int)(rem % 60);
}

static ts_us_t cal_to_ts(const cal_t *c)
{
    int64_t days = days_from_civil(c->y, c->mo, c->d);
    return ((days * 24 + c->h) * 60 + c->mi) * US_PER_MIN;
}

/* Moves to 00:00 of the next day / 23:59 of the previous day. */
static void next_day(cal_t *c)
{
    c->h = 0;
    c->mi = 0;
    if (++c->d > days_in_month(c->y, c->mo)) {
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
        c->d = days_in_month(c->y, c->mo);
    }
}

/* ---- matching ---------------------------------------------------------- */

static bool day_matches(const schedule_t *s, const cal_t *c)
{
    bool dom_ok = (s->dom >> c->d) & 1u;
    bool dow_ok = (s->dow >> weekday(c)) & 1u;
    if (s->dom_star || s->dow_star)
        return dom_ok && dow_ok;
    return dom_ok || dow_ok;
}

/* True when no listed month has any listed day (only possible in AND mode
 * with day-of-week '*'). */
static bool never_fires(const schedule_t *s)
{
    if (s->dom_star || !s->dow_star)
        return false;
    for (int m = 1; m <= 12; m++) {
        if (!((s->month >> m) & 1u))
            continue;
        int maxd = m == 2 ? 29 : days_in_month(2001, m);
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

int schedule_next_fire(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (s == NULL || s->kind != SCHEDULE_CRON || t == TS_NONE)
        return -1;
    if (t < ts_min() || t > ts_max() || never_fires(s))
        return -1;
    cal_t c;
    cal_from_minutes(floor_div(t, US_PER_MIN) + 1, &c);
    int last_year = c.y + SEARCH_YEARS;
    for (;;) {
        if (c.y > last_year || c.y > YEAR_MAX)
            return -1;
        if (!((s->month >> c.mo) & 1u)) {
            c.d = days_in_month(c.y, c.mo);
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

int schedule_prev_fire(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (s == NULL || s->kind != SCHEDULE_CRON || t == TS_NONE)
        return -1;
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

/* One comma-separated item: '*', '?', a, a-b, each with an optional /step. */
static int parse_item(const parse_ctx_t *px, const char *item, int fi, uint64_t *bits)
{
    const field_spec_t *f = &fields[fi];
    const char *p = item;
    long lo, hi, step = 1;
    bool range = false, star = false;

    if (*p == '\0')
        return fail(px, "empty list item in %s field", f->name);
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
                return fail(px,
                            "unsupported syntax '%s' in %s field (L, W and # are not supported)",
                            item, f->name);
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
            return fail(px, "unsupported syntax '%s' in %s field (L, W and # are not supported)",
                        item, f->name);
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

static int parse_field(const parse_ctx_t *px, const char *field, int fi, uint64_t *bits)
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
        if (parse_item(px, item, fi, bits) < 0)
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
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

int schedule_parse(const char *text, schedule_t *out, char *err, size_t errlen)
{
    char buf[CRON_MAX_TEXT + 1];
    char *fv[F_COUNT + 1];
    uint64_t bits[F_COUNT];
    parse_ctx_t px = {text, err, errlen};
    int nf = 0;

    memset(out, 0, sizeof(*out));
    out->kind = SCHEDULE_NONE;
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

    char work[CRON_MAX_TEXT + 1];
    const char *expr = buf;
    if (buf[0] == '@') {
        expr = NULL;
        for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
            if (strcasecmp(buf, presets[i].name) == 0)
                expr = presets[i].expr;
        if (expr == NULL)
            return fail(&px, "unknown preset (use @once, @hourly, @daily, @midnight, @weekly, "
                             "@monthly, @yearly or @annually)");
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
        if (parse_field(&px, fv[i], i, &bits[i]) < 0)
            return -1;

    out->kind = SCHEDULE_CRON;
    out->minute = bits[F_MINUTE];
    out->hour = (uint32_t)bits[F_HOUR];
    out->dom = (uint32_t)bits[F_DOM];
    out->month = (uint16_t)bits[F_MONTH];
    out->dow = (uint8_t)bits[F_DOW];
    /* croniter: a field that covers every value counts as '*' */
    out->dom_star = out->dom == 0xFFFFFFFEu;
    out->dow_star = out->dow == 0x7Fu;
    return 0;
}

/* ---- Airflow data intervals -------------------------------------------- */

/* Airflow's _get_next: first fire strictly after t. */
static int get_next(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    return schedule_next_fire(s, t, out);
}

/* Airflow's _get_prev: last fire strictly before t. */
static int get_prev(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (t == TS_NONE || t <= ts_min())
        return -1;
    return schedule_prev_fire(s, t - 1, out);
}

/* Airflow's _align_to_next: t itself when it is a fire time, else the next
 * fire (equivalently, the first fire at or after t). */
static int align_to_next(const schedule_t *s, ts_us_t t, ts_us_t *out)
{
    if (t == TS_NONE || t <= ts_min())
        return -1;
    return schedule_next_fire(s, t - 1, out);
}

/* Airflow's CronDataIntervalTimetable._skip_to_latest (the default branch,
 * catchup_false_no_dagrun_airflow_2_fix off): the start of the latest
 * interval that is complete at now, but never before the aligned
 * start_date. */
static int skip_to_latest(const schedule_t *s, ts_us_t earliest, ts_us_t now, ts_us_t *out)
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

int schedule_next_interval(const schedule_t *s, ts_us_t last_start, ts_us_t start_date,
                           ts_us_t end_date, ts_us_t now, bool catchup, ts_us_t *istart,
                           ts_us_t *iend)
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
    if (!catchup) {
        if (skip_to_latest(s, start_date, now, &earliest) < 0)
            return 0;
    } else if (align_to_next(s, start_date, &earliest) < 0) {
        return 0;
    }
    if (last_start == TS_NONE) {
        start = earliest;
    } else {
        /* The last interval ended at the next fire after its start (already
         * aligned, so _align_to_prev leaves it as is). */
        ts_us_t last_end;
        if (get_next(s, last_start, &last_end) < 0)
            return 0;
        start = last_end > earliest ? last_end : earliest;
    }
    if (end_date != TS_NONE && start > end_date)
        return 0;
    if (get_next(s, start, &end) < 0)
        return 0;
    *istart = start;
    *iend = end;
    return 1;
}
