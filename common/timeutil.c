/*
 * timeutil.c - see timeutil.h. Calendar math is done with timegm/gmtime_r so
 * that no table of month lengths or leap years is written here.
 */
#include "common/timeutil.h"

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

char *ts_format_iso(ts_us_t t, char *buf)
{
    time_t sec;
    long us;
    struct tm tm;
    split(t, &sec, &us);
    gmtime_r(&sec, &tm);
    snprintf(buf, TS_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
    return buf;
}

char *ts_format_iso_sec(ts_us_t t, char *buf)
{
    time_t sec;
    long us;
    struct tm tm;
    split(t, &sec, &us);
    gmtime_r(&sec, &tm);
    snprintf(buf, TS_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
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
    *out = ((ts_us_t)t - off) * TS_US_PER_SEC + us;
    return 0;
}
