/*
 * timeutil.c - see timeutil.h. Formatting and parsing go through
 * timegm/gmtime_r; the day-number functions use the proleptic Gregorian
 * formulas (days_from_civil / civil_from_days) for callers that work
 * outside time_t's comfortable range or count in days.
 */
#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

ts_us_t ts_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (ts_us_t)ts.tv_sec * TS_US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t ts_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void split(ts_us_t t, time_t *sec, long *us)
{
    int64_t s = t / TS_US_PER_SEC, u = t % TS_US_PER_SEC;
    if (u < 0) {
        u += TS_US_PER_SEC;
        s -= 1;
    }
    *sec = (time_t)s;
    *us = (long)u;
}

/* ISO 8601 in UTC, with or without the microseconds; buf holds TS_ISO_LEN bytes. */
static char *format_iso(ts_us_t t, char *buf, bool with_us)
{
    time_t sec;
    long us;
    struct tm tm;
    char frac[16] = "";

    split(t, &sec, &us);
    gmtime_r(&sec, &tm);
    if (with_us)
        snprintf(frac, sizeof(frac), ".%06ld", us);
    snprintf(buf, TS_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%s+00:00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

char *ts_format_iso(ts_us_t t, char *buf)
{
    return format_iso(t, buf, true);
}

char *ts_format_iso_sec(ts_us_t t, char *buf)
{
    return format_iso(t, buf, false);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int ts_parse(const char *s, ts_us_t *out)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, se = 0;
    long us = 0;
    int off = 0;

    if (!s)
        return -1;
    while (isspace((unsigned char)*p))
        p++;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        while (*p == ' ')
            p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &se))
                return -1;
            if (*p == '.' || *p == ',') {
                p++;
                long scale = 100000;
                if (!isdigit((unsigned char)*p))
                    return -1;
                while (isdigit((unsigned char)*p)) {
                    us += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
        while (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            p++;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 3600 + om * 60);
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != d && se < 60) /* 2024-02-30 */
        return -1;
    ts_us_t v = ((ts_us_t)t - off) * TS_US_PER_SEC + us;
    /* Years 1 to 9999 only: Postgres has no year 0, and ISO 8601 text has four digits. */
    if (v < ts_days_from_civil(1, 1, 1) * 86400 * TS_US_PER_SEC ||
        v >= ts_days_from_civil(10000, 1, 1) * 86400 * TS_US_PER_SEC)
        return -1;
    *out = v;
    return 0;
}

int64_t ts_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ts_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

bool ts_is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int ts_days_in_month(int64_t year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && ts_is_leap_year(year) ? 29 : dim[month - 1];
}

int ts_weekday(int64_t days)
{
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}
