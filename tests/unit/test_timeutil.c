/* Unit tests for core/timeutil.c: ISO 8601 parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/timeutil.h"

static ts_us_t parse_ok(const char *s)
{
    ts_us_t t = 0;
    assert_int_equal(ts_parse(s, &t), 0);
    return t;
}

static void test_timestamp_forms_parse(void **state)
{
    (void)state;
    char buf[TS_ISO_LEN];
    /* 2024-01-01T00:00:00Z = 1704067200 */
    assert_int_equal(parse_ok("2024-01-01"), INT64_C(1704067200) * TS_US_PER_SEC);
    assert_int_equal(parse_ok("2024-01-01T00:00:00Z"), INT64_C(1704067200) * TS_US_PER_SEC);
    assert_int_equal(parse_ok("2024-01-01 10:00:00"), INT64_C(1704103200) * TS_US_PER_SEC);
    assert_int_equal(parse_ok("2024-01-01T12:00:00+02:00"), INT64_C(1704103200) * TS_US_PER_SEC);
    assert_int_equal(parse_ok("2024-01-01 10:00:00.5+00"), INT64_C(1704103200500000));
    assert_int_equal(parse_ok("2024-01-01T10:00"), INT64_C(1704103200) * TS_US_PER_SEC);
    assert_string_equal(ts_format_iso(parse_ok("2024-02-29T23:59:59.000001-01:30"), buf),
                        "2024-03-01T01:29:59.000001+00:00");
}

static void test_bad_timestamps_are_refused(void **state)
{
    (void)state;
    ts_us_t t = 42;
    assert_int_equal(ts_parse("2023-02-29", &t), -1); /* not a leap year */
    assert_int_equal(ts_parse("2024-13-01", &t), -1);
    assert_int_equal(ts_parse("2024-01-01T25:00:00", &t), -1);
    assert_int_equal(ts_parse("yesterday", &t), -1);
    assert_int_equal(ts_parse("2024-01-01T10:00:00+0x", &t), -1);
    assert_int_equal(ts_parse("", &t), -1);
    assert_int_equal(ts_parse(NULL, &t), -1);
    assert_int_equal(t, 42);
}

static void test_dates_outside_years_1_to_9999_are_refused(void **state)
{
    (void)state;
    ts_us_t t = 42;
    char buf[TS_ISO_LEN];
    /* Postgres has no year 0: taking it answered 500 from the API. */
    assert_int_equal(ts_parse("0000-01-01T00:00:00+00:00", &t), -1);
    assert_int_equal(ts_parse("0000-12-31", &t), -1);
    /* an offset that moves the instant before year 1 in UTC */
    assert_int_equal(ts_parse("0001-01-01T00:30:00+01:00", &t), -1);
    assert_int_equal(ts_parse("9999-12-31T23:00:00-02:00", &t), -1);
    assert_int_equal(t, 42);
    assert_string_equal(ts_format_iso(parse_ok("0001-01-01T00:00:00Z"), buf),
                        "0001-01-01T00:00:00.000000+00:00");
    assert_string_equal(ts_format_iso(parse_ok("9999-12-31T23:59:59.999999Z"), buf),
                        "9999-12-31T23:59:59.999999+00:00");
}

static void test_timestamps_format_as_iso(void **state)
{
    (void)state;
    char buf[TS_ISO_LEN];
    assert_string_equal(ts_format_iso(INT64_C(1710068400123456), buf),
                        "2024-03-10T11:00:00.123456+00:00");
    assert_string_equal(ts_format_iso_sec(INT64_C(1710068400123456), buf),
                        "2024-03-10T11:00:00+00:00");
    /* before the epoch the microseconds still count forward */
    assert_string_equal(ts_format_iso(-1, buf), "1969-12-31T23:59:59.999999+00:00");
}

static void test_civil_day_conversions_round_trip(void **state)
{
    (void)state;
    int64_t y;
    int m, d;
    assert_int_equal(ts_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ts_days_from_civil(2024, 2, 29), 19782); /* 1709164800 / 86400 */
    assert_int_equal(ts_days_from_civil(1969, 12, 31), -1);
    ts_civil_from_days(19782, &y, &m, &d);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    ts_civil_from_days(-719468, &y, &m, &d); /* 0000-03-01 */
    assert_int_equal(y, 0);
    assert_int_equal(m, 3);
    assert_int_equal(d, 1);
    assert_true(ts_is_leap_year(2000));
    assert_false(ts_is_leap_year(2100));
    assert_true(ts_is_leap_year(2024));
    assert_int_equal(ts_days_in_month(2024, 2), 29);
    assert_int_equal(ts_days_in_month(2023, 2), 28);
    assert_int_equal(ts_days_in_month(2023, 4), 30);
    assert_int_equal(ts_weekday(0), 4);     /* 1970-01-01 was a Thursday */
    assert_int_equal(ts_weekday(19782), 4); /* 2024-02-29 too */
    assert_int_equal(ts_weekday(-1), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp_forms_parse),
        cmocka_unit_test(test_bad_timestamps_are_refused),
        cmocka_unit_test(test_dates_outside_years_1_to_9999_are_refused),
        cmocka_unit_test(test_timestamps_format_as_iso),
        cmocka_unit_test(test_civil_day_conversions_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
