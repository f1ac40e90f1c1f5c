/*
 * backfill.c - see backfill.h.
 */
#include "sched/backfill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int backfill_intervals(const schedule_t *s, ts_us_t start, ts_us_t end, size_t max,
                       backfill_interval_t **out, size_t *n, char *err, size_t errlen)
{
    backfill_interval_t *v = NULL;
    size_t cnt = 0, cap = 0;
    *out = NULL;
    *n = 0;
    if (s->kind == SCHEDULE_NONE || s->kind == SCHEDULE_CONTINUOUS) {
        snprintf(err, errlen, "the DAG's schedule (%s) has no data intervals to backfill",
                 s->kind == SCHEDULE_NONE ? "manual only" : "@continuous");
        return -1;
    }
    if (end < start) {
        snprintf(err, errlen, "the end date is before the start date");
        return -1;
    }
    ts_us_t last_start = TS_NONE, last_end = TS_NONE, a, b;
    /* now only matters without catchup, which a backfill never uses */
    while (schedule_next_interval(s, last_start, last_end, start, end, ts_now(), true, &a, &b) ==
           1) {
        if (last_start != TS_NONE && a <= last_start)
            break; /* no progress: stop rather than loop */
        if (cnt == max) {
            snprintf(err, errlen, "the range holds more than %zu runs: use a shorter range", max);
            free(v);
            return -1;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            backfill_interval_t *nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                snprintf(err, errlen, "out of memory");
                free(v);
                return -1;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt].start = a;
        v[cnt].end = b;
        cnt++;
        last_start = a;
        last_end = b;
        if (s->kind == SCHEDULE_ONCE)
            break;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static void format_duration(char *buf, size_t len, int64_t secs)
{
    if (secs >= 3600)
        snprintf(buf, len, "%lld:%02lld:%02lld", (long long)(secs / 3600),
                 (long long)(secs / 60 % 60), (long long)(secs % 60));
    else
        snprintf(buf, len, "%lld:%02lld", (long long)(secs / 60), (long long)(secs % 60));
}

char *backfill_format_progress(char *buf, size_t len, size_t done, size_t total, size_t failed,
                               int64_t elapsed_us, int bar_width)
{
    char bar[256], eta[32];
    if (bar_width < 1)
        bar_width = 1;
    if (bar_width > (int)sizeof(bar) - 1)
        bar_width = (int)sizeof(bar) - 1;
    if (done > total)
        done = total;
    int filled = total ? (int)((double)done / (double)total * bar_width) : bar_width;
    for (int i = 0; i < bar_width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[bar_width] = '\0';
    if (done == total)
        snprintf(eta, sizeof(eta), "0:00");
    else if (done == 0 || elapsed_us <= 0)
        snprintf(eta, sizeof(eta), "--:--");
    else
        format_duration(eta, sizeof(eta),
                        (int64_t)((double)elapsed_us / (double)done * (double)(total - done) /
                                      (double)TS_US_PER_SEC +
                                  0.5));
    snprintf(buf, len, "[%s] %zu/%zu runs done, %zu failed, ETA %s", bar, done, total, failed, eta);
    return buf;
}
