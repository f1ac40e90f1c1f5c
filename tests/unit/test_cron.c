/*
 * test_cron.c - cron parsing, fire times and Airflow data intervals.
 *
 * Expected times are written out in ISO form; they were worked out by hand
 * from the calendar (weekdays checked against a calendar) and agree with
 * what croniter and Airflow 2's CronDataIntervalTimetable produce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/cron.h"
#include "common/timeutil.h"

static ts_us_t T(const char *iso)
{
    ts_us_t t = 0;
    if (ts_parse(iso, &t) != 0)
        fail_msg("bad timestamp in test: %s", iso);
    return t;
}

static void parse_ok(const char *expr, schedule_t *s)
{
    char err[256] = "";
    if (schedule_parse(expr, s, err, sizeof(err)) != 0)
        fail_msg("parse '%s' failed: %s", expr, err);
}

static void check_next(const char *expr, const char *from, const char *want)
{
    schedule_t s;
    ts_us_t got;
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    parse_ok(expr, &s);
    if (schedule_next_fire(&s, T(from), &got) != 0)
        fail_msg("next('%s', %s): none, want %s", expr, from, want);
    if (got != T(want))
        fail_msg("next('%s', %s) = %s, want %s", expr, from, ts_format_iso_sec(got, a),
                 ts_format_iso_sec(T(want), b));
}

static void check_prev(const char *expr, const char *from, const char *want)
{
    schedule_t s;
    ts_us_t got;
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    parse_ok(expr, &s);
    if (schedule_prev_fire(&s, T(from), &got) != 0)
        fail_msg("prev('%s', %s): none, want %s", expr, from, want);
    if (got != T(want))
        fail_msg("prev('%s', %s) = %s, want %s", expr, from, ts_format_iso_sec(got, a),
                 ts_format_iso_sec(T(want), b));
}

static void check_error(const char *expr, const char *want_substring)
{
    schedule_t s;
    char err[256] = "";
    assert_int_equal(schedule_parse(expr, &s, err, sizeof(err)), -1);
    if (strstr(err, want_substring) == NULL)
        fail_msg("error for '%s' is '%s', want it to contain '%s'", expr, err, want_substring);
}

static void test_parse_errors(void **state)
{
    (void)state;
    schedule_t s;
    char err[256] = "";
    assert_int_equal(schedule_parse("61 * * * *", &s, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid cron expression '61 * * * *': minute 61 out of range 0-59");

    check_error("* * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week), found 4");
    check_error("* * * * * *", "expected 5 fields");
    check_error("* 24 * * *", "hour 24 out of range 0-23");
    check_error("* * 0 * *", "day-of-month 0 out of range 1-31");
    check_error("* * 32 * *", "day-of-month 32 out of range 1-31");
    check_error("* * * 13 *", "month 13 out of range 1-12");
    check_error("* * * * 8", "day-of-week 8 out of range 0-7");
    check_error("*/0 * * * *", "step 0 in minute field");
    check_error("30-10 * * * *", "minute range 30-10 starts after it ends");
    check_error("* * * FOO *", "bad value 'FOO' in month field");
    check_error("* * * * MON-XYZ", "bad range 'MON-XYZ' in day-of-week field");
    check_error("* * * * JAN", "bad value 'JAN' in day-of-week field");
    check_error("1,,2 * * * *", "empty list item in minute field");
    check_error("1x * * * *", "bad value '1x' in minute field");
    check_error("*/x * * * *", "bad step");
    check_error("? * * * *", "'?' is only allowed");
    check_error("* * L * *", "unsupported syntax");
    check_error("* * * * 5#2", "unsupported syntax");
    check_error("@fortnightly", "invalid cron expression '@fortnightly': unknown preset");
    check_error("-1 * * * *", "bad value '-1' in minute field");
    check_error("99999999999999999999 * * * *", "out of range 0-59");
}

static void test_parse_kinds(void **state)
{
    (void)state;
    schedule_t s;
    char err[64];
    const char *none[] = {NULL, "", "   ", "None", "null", "NULL"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        assert_int_equal(schedule_parse(none[i], &s, err, sizeof(err)), 0);
        assert_int_equal(s.kind, SCHEDULE_NONE);
    }
    parse_ok("@once", &s);
    assert_int_equal(s.kind, SCHEDULE_ONCE);

    parse_ok("@daily", &s);
    assert_int_equal(s.kind, SCHEDULE_CRON);
    assert_true(s.minute == 1u && s.hour == 1u);
    assert_true(s.dom_star && s.dow_star);

    parse_ok(" 0 0 * * 7 ", &s); /* 7 is Sunday */
    assert_int_equal(s.dow, 1u);
    assert_false(s.dow_star);

    parse_ok("*/1 * 1-31 * 0-6", &s); /* full ranges count as '*' (croniter) */
    assert_true(s.dom_star && s.dow_star);
    parse_ok("0 0 */2 * *", &s);
    assert_false(s.dom_star);

    parse_ok("10/20 * * * *", &s); /* a/n is a-59/n */
    assert_true(s.minute == ((UINT64_C(1) << 10) | (UINT64_C(1) << 30) | (UINT64_C(1) << 50)));
    parse_ok("0 0 * * FRI-SUN", &s); /* ends in Sunday: 5-7 */
    assert_int_equal(s.dow, (1u << 5) | (1u << 6) | 1u);
    parse_ok("0 0 * * 1/2", &s); /* 1-7/2: Mon Wed Fri Sun */
    assert_int_equal(s.dow, (1u << 1) | (1u << 3) | (1u << 5) | 1u);
    parse_ok("0 0 ? jan,Jul *", &s);
    assert_int_equal(s.month, (1u << 1) | (1u << 7));
}

static void test_next_fire_basic(void **state)
{
    (void)state;
    check_next("* * * * *", "2024-03-10T10:00:00Z", "2024-03-10T10:01:00Z"); /* strictly after */
    check_next("* * * * *", "2024-03-10T10:00:30.5Z", "2024-03-10T10:01:00Z");
    check_next("*/15 * * * *", "2024-03-10T10:07:00Z", "2024-03-10T10:15:00Z");
    check_next("*/15 * * * *", "2024-03-10T23:45:00Z", "2024-03-11T00:00:00Z");
    check_next("5-20/5 * * * *", "2024-03-10T10:20:00Z", "2024-03-10T11:05:00Z");
    check_next("10/20 * * * *", "2024-03-10T10:31:00Z", "2024-03-10T10:50:00Z");
    check_next("0 9-17/4 * * *", "2024-03-10T13:00:00Z", "2024-03-10T17:00:00Z");
    check_next("0 9-17/4 * * *", "2024-03-10T17:00:00Z", "2024-03-11T09:00:00Z");
    check_next("@hourly", "2024-03-10T10:59:59Z", "2024-03-10T11:00:00Z");
    check_next("@weekly", "2024-03-10T00:00:00Z", "2024-03-17T00:00:00Z"); /* 10th is Sunday */
}

static void test_next_fire_calendar(void **state)
{
    (void)state;
    /* month ends */
    check_next("0 0 * * *", "2024-01-31T12:00:00Z", "2024-02-01T00:00:00Z");
    check_next("0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z");
    check_next("30 12 30 * *", "2024-01-30T12:30:00Z", "2024-03-30T12:30:00Z"); /* no Feb 30 */
    check_next("@monthly", "2024-02-29T23:59:00Z", "2024-03-01T00:00:00Z");
    /* Feb 29 only in leap years; 2100 is not one */
    check_next("0 0 29 2 *", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z");
    check_next("0 0 29 2 *", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z");
    check_next("0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
    check_next("0 0 28-29 2 *", "2023-02-28T00:00:00Z", "2024-02-28T00:00:00Z");
    /* year end */
    check_next("59 23 31 12 *", "2023-12-31T23:59:00Z", "2024-12-31T23:59:00Z");
    check_next("@yearly", "2023-12-31T23:59:30Z", "2024-01-01T00:00:00Z");
    check_next("0 0 * 1 *", "2023-02-01T00:00:00Z", "2024-01-01T00:00:00Z");
    /* names, case-insensitive; 2024-07-01 is a Monday */
    check_next("0 9 * JAN,jul mon-FRI", "2024-02-10T00:00:00Z", "2024-07-01T09:00:00Z");
    check_next("0 9 * JAN,jul mon-FRI", "2024-07-05T09:00:00Z", "2024-07-08T09:00:00Z");
    /* 7 = Sunday; 2024-09-02 is a Monday */
    check_next("0 0 * * 7", "2024-09-02T00:00:00Z", "2024-09-08T00:00:00Z");
    check_next("0 0 * * sat-sun", "2024-09-02T00:00:00Z", "2024-09-07T00:00:00Z");
}

static void test_dom_dow_or(void **state)
{
    (void)state;
    /* both restricted: the 13th OR any Friday. 2024-09-01 is a Sunday, so
     * Fridays are 6, 13 (also the 13th), 20, 27; October 4, 11 then the
     * 13th (a Sunday). */
    check_next("0 0 13 * 5", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z");
    check_next("0 0 13 * 5", "2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z");
    check_next("0 0 13 * 5", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z");
    check_next("0 0 13 * 5", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z");
    check_prev("0 0 13 * 5", "2024-10-12T23:59:00Z", "2024-10-11T00:00:00Z");
    /* only day-of-week restricted: Fridays only (AND with '*') */
    check_next("0 0 * * 5", "2024-10-11T00:00:00Z", "2024-10-18T00:00:00Z");
    /* only day-of-month restricted */
    check_next("0 0 13 * *", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z");
    /* a stepped day-of-month is restricted too (croniter): the odd days OR Mondays;
     * after 2024-09-01 (Sun) comes Monday the 2nd */
    check_next("0 0 */2 * 1", "2024-09-01T00:00:00Z", "2024-09-02T00:00:00Z");
    check_next("0 0 */2 * *", "2024-09-01T00:00:00Z", "2024-09-03T00:00:00Z");
}

static void test_prev_fire(void **state)
{
    (void)state;
    check_prev("0 * * * *", "2024-03-10T10:00:00Z", "2024-03-10T10:00:00Z"); /* at or before */
    check_prev("0 * * * *", "2024-03-10T10:00:00.000001Z", "2024-03-10T10:00:00Z");
    check_prev("0 * * * *", "2024-03-10T09:59:59Z", "2024-03-10T09:00:00Z");
    check_prev("*/15 * * * *", "2024-03-11T00:14:00Z", "2024-03-11T00:00:00Z");
    check_prev("*/15 * * * *", "2024-03-10T23:59:00Z", "2024-03-10T23:45:00Z");
    check_prev("0 12 31 * *", "2024-05-01T00:00:00Z", "2024-03-31T12:00:00Z");
    check_prev("0 0 29 2 *", "2024-02-28T00:00:00Z", "2020-02-29T00:00:00Z");
    check_prev("0 0 29 2 *", "2104-02-28T00:00:00Z", "2096-02-29T00:00:00Z");
    check_prev("@yearly", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z");
    check_prev("@yearly", "2023-12-31T23:59:59Z", "2023-01-01T00:00:00Z");
    check_prev("0 0 1 * *", "2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z");
    check_prev("45 23 * * 0", "2024-09-02T00:00:00Z", "2024-09-01T23:45:00Z");
}

static void test_never_fires(void **state)
{
    (void)state;
    schedule_t s;
    ts_us_t out = 0;
    const char *never[] = {"0 0 30 2 *", "0 0 31 2,4,6,9,11 *", "* * 30-31 feb *"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        parse_ok(never[i], &s);
        assert_int_equal(schedule_next_fire(&s, T("2024-01-01T00:00:00Z"), &out), -1);
        assert_int_equal(schedule_prev_fire(&s, T("2024-01-01T00:00:00Z"), &out), -1);
    }
    /* with day-of-week also restricted it fires on those weekdays of the
     * listed months (OR): February 2025 starts on a Saturday */
    check_next("0 0 30 2 1", "2024-09-01T00:00:00Z", "2025-02-03T00:00:00Z");
    /* none and @once have no fire times; out-of-range times have none */
    parse_ok("@once", &s);
    assert_int_equal(schedule_next_fire(&s, 0, &out), -1);
    parse_ok("* * * * *", &s);
    assert_int_equal(schedule_next_fire(&s, TS_NONE, &out), -1);
    assert_int_equal(schedule_next_fire(&s, INT64_MAX, &out), -1);
    assert_int_equal(schedule_prev_fire(&s, INT64_MIN + 1, &out), -1);
    assert_int_equal(schedule_next_fire(&s, T("9999-12-31T23:59:00Z"), &out), -1);
}

typedef struct interval_case {
    const char *expr;
    const char *last_start; /* NULL = none */
    const char *start_date; /* NULL = none */
    const char *end_date;   /* NULL = open */
    const char *now;
    bool catchup;
    const char *want_start; /* NULL = no next run */
    const char *want_end;
} interval_case_t;

static ts_us_t opt(const char *iso)
{
    return iso ? T(iso) : TS_NONE;
}

static void run_interval_case(const interval_case_t *c)
{
    schedule_t s;
    ts_us_t a = 0, b = 0;
    char x[TS_ISO_LEN], y[TS_ISO_LEN];
    parse_ok(c->expr, &s);
    int rc = schedule_next_interval(&s, opt(c->last_start), opt(c->start_date), opt(c->end_date),
                                    T(c->now), c->catchup, &a, &b);
    if (c->want_start == NULL) {
        if (rc != 0)
            fail_msg("%s last=%s: got [%s, %s), want none", c->expr,
                     c->last_start ? c->last_start : "-", ts_format_iso_sec(a, x),
                     ts_format_iso_sec(b, y));
        return;
    }
    if (rc != 1)
        fail_msg("%s last=%s catchup=%d: got none, want [%s, %s)", c->expr,
                 c->last_start ? c->last_start : "-", c->catchup, c->want_start, c->want_end);
    if (a != T(c->want_start) || b != T(c->want_end))
        fail_msg("%s last=%s catchup=%d now=%s: got [%s, %s), want [%s, %s)", c->expr,
                 c->last_start ? c->last_start : "-", c->catchup, c->now, ts_format_iso_sec(a, x),
                 ts_format_iso_sec(b, y), c->want_start, c->want_end);
}

static void test_next_interval(void **state)
{
    (void)state;
    static const interval_case_t cases[] = {
        /* catchup: the first run starts at start_date aligned forward */
        {"0 0 * * *", NULL, "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z", true,
         "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"},
        {"0 0 * * *", NULL, "2024-01-01T06:00:00Z", NULL, "2024-01-05T10:00:00Z", true,
         "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"},
        /* a later run starts where the last one ended */
        {"0 0 * * *", "2024-01-03T00:00:00Z", "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z",
         true, "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"},
        /* ...and may lie in the future (the caller waits for its end) */
        {"0 0 * * *", "2024-01-04T00:00:00Z", "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z",
         true, "2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z"},
        /* no catchup: the latest complete interval before now */
        {"0 0 * * *", NULL, "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z", false,
         "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"},
        /* no catchup, now exactly on a boundary: the interval ending now */
        {"0 0 * * *", NULL, "2024-01-01T00:00:00Z", NULL, "2024-01-05T00:00:00Z", false,
         "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"},
        /* no catchup skips over old runs but not past the next one */
        {"0 0 * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z",
         false, "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"},
        {"0 0 * * *", "2024-01-04T00:00:00Z", "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z",
         false, "2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z"},
        /* no catchup never goes before the (aligned) start_date */
        {"0 0 * * *", NULL, "2024-02-01T06:00:00Z", NULL, "2024-01-05T10:00:00Z", false,
         "2024-02-02T00:00:00Z", "2024-02-03T00:00:00Z"},
        /* hourly across Feb 29 */
        {"0 * * * *", NULL, "2024-02-28T23:30:00Z", NULL, "2024-03-05T00:00:00Z", true,
         "2024-02-29T00:00:00Z", "2024-02-29T01:00:00Z"},
        {"0 * * * *", "2024-02-29T23:00:00Z", "2024-02-28T23:30:00Z", NULL, "2024-03-05T00:00:00Z",
         true, "2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"},
        /* monthly, start_date on the 31st */
        {"@monthly", NULL, "2024-01-31T00:00:00Z", NULL, "2024-06-01T00:00:00Z", true,
         "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
        {"@monthly", NULL, "2024-01-31T00:00:00Z", NULL, "2024-06-15T00:00:00Z", false,
         "2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"},
        /* end_date: a start after it ends scheduling; a start equal to it does not */
        {"0 0 * * *", "2024-01-03T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-03T12:00:00Z",
         "2024-01-05T10:00:00Z", true, NULL, NULL},
        {"0 0 * * *", "2024-01-03T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z",
         "2024-01-05T10:00:00Z", true, "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"},
        /* no start_date, manual only */
        {"0 0 * * *", NULL, NULL, NULL, "2024-01-05T10:00:00Z", true, NULL, NULL},
        {"None", NULL, "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z", true, NULL, NULL},
        /* @once: one run at start_date, catchup or not */
        {"@once", NULL, "2024-01-01T06:00:00Z", NULL, "2024-01-05T10:00:00Z", false,
         "2024-01-01T06:00:00Z", "2024-01-01T06:00:00Z"},
        {"@once", "2024-01-01T06:00:00Z", "2024-01-01T06:00:00Z", NULL, "2024-01-05T10:00:00Z",
         true, NULL, NULL},
        {"@once", NULL, "2024-01-01T06:00:00Z", "2024-01-01T00:00:00Z", "2024-01-05T10:00:00Z",
         true, NULL, NULL},
        {"@once", NULL, NULL, NULL, "2024-01-05T10:00:00Z", true, NULL, NULL},
        /* never fires */
        {"0 0 30 2 *", NULL, "2024-01-01T00:00:00Z", NULL, "2024-01-05T10:00:00Z", true, NULL,
         NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_interval_case(&cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),    cmocka_unit_test(test_parse_kinds),
        cmocka_unit_test(test_next_fire_basic), cmocka_unit_test(test_next_fire_calendar),
        cmocka_unit_test(test_dom_dow_or),      cmocka_unit_test(test_prev_fire),
        cmocka_unit_test(test_never_fires),     cmocka_unit_test(test_next_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
