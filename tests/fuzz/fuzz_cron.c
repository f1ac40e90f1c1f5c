/*
 * fuzz_cron.c - schedule_parse on arbitrary bytes (cron with L and #,
 * presets, fixed intervals), then fire-time and interval queries at a few
 * fixed and input-derived times, in UTC and, when the input selects one, in
 * a DST zone or a fixed offset. Checks the invariants: next > t, prev <= t,
 * next(prev(t)) > prev(t), interval end >= start, a manual run's interval
 * ending at or before its date, and that an error
 * message is always a terminated string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[512];
    char err[128];
    schedule_t s;
    schedule_tz_t *tz = NULL;
    uint64_t seed = 0;
    static const char *const zones[] = {NULL, "America/New_York", "Europe/London",
                                        "Australia/Lord_Howe", "+05:45"};

    if (size > sizeof(text) - 1)
        size = sizeof(text) - 1;
    memcpy(text, data, size);
    text[size] = '\0';
    for (size_t i = 0; i < size; i++)
        seed = seed * 131 + data[i];

    memset(err, 'x', sizeof(err));
    if (schedule_parse(text, &s, err, sizeof(err)) != 0) {
        if (memchr(err, '\0', sizeof(err)) == NULL)
            abort();
        return 0;
    }
    /* zone loading failures (no tzdata) just leave UTC */
    if (schedule_tz_load(zones[seed % 5], &tz, err, sizeof(err)) == 0)
        s.tz = tz;

    /* 2024-01-01, 1970-01-01, year 1 and 9999 edges, and an input-derived
     * time within 1900..2100 */
    const ts_us_t times[] = {
        INT64_C(1704067200000000),
        0,
        INT64_C(-62135596800000000),
        INT64_C(253402300740000000),
        INT64_C(-2208988800000000) + (ts_us_t)(seed % UINT64_C(6311390400000000)),
    };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        ts_us_t t = times[i], next, prev, again;
        if (schedule_next_fire(&s, t, &next) == 0 && next <= t)
            abort();
        if (schedule_prev_fire(&s, t, &prev) == 0) {
            if (prev > t)
                abort();
            if (schedule_next_fire(&s, prev, &again) == 0 && again <= prev)
                abort();
        }
        ts_us_t a, b, c, d;
        if (schedule_next_interval(&s, TS_NONE, TS_NONE, t, TS_NONE, times[0], (seed & 1) != 0, &a,
                                   &b) == 1) {
            if (b < a)
                abort();
            if (schedule_following_interval(&s, a, b, &c, &d) == 1 && d < c)
                abort();
        }
        /* a manual run's interval ends at or before its logical date */
        schedule_manual_interval(&s, t, &a, &b);
        if (b < a || b > t)
            abort();
    }
    schedule_tz_free(tz);
    return 0;
}
