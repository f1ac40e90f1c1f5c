/* Unit tests for the pure parts of store/dagrun.c: run ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/dagrun.h"

static void test_run_id_is_type_and_logical_date(void **state)
{
    (void)state;
    char buf[DAGRUN_ID_MAX + 1];
    ts_us_t t;
    assert_int_equal(ts_parse("2024-01-01T00:00:00Z", &t), 0);
    dagrun_make_run_id(DAGRUN_MANUAL, t, buf, sizeof(buf));
    assert_string_equal(buf, "manual__2024-01-01T00:00:00+00:00");
    dagrun_make_run_id(DAGRUN_SCHEDULED, t, buf, sizeof(buf));
    assert_string_equal(buf, "scheduled__2024-01-01T00:00:00+00:00");
    dagrun_make_run_id(DAGRUN_BACKFILL, t, buf, sizeof(buf));
    assert_string_equal(buf, "backfill__2024-01-01T00:00:00+00:00");
    /* Microseconds appear only when there are some, as Python's isoformat(). */
    dagrun_make_run_id(DAGRUN_MANUAL, t + 123456, buf, sizeof(buf));
    assert_string_equal(buf, "manual__2024-01-01T00:00:00.123456+00:00");
    /* Every generated id is a valid one. */
    assert_true(dagrun_run_id_valid(buf));
}

static void test_make_run_id_truncates(void **state)
{
    (void)state;
    char buf[10];
    memset(buf, 'x', sizeof(buf));
    dagrun_make_run_id(DAGRUN_MANUAL, 0, buf, sizeof(buf));
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    assert_memory_equal(buf, "manual__1", 9);
}

static void test_run_id_validity(void **state)
{
    (void)state;
    char big[DAGRUN_ID_MAX + 2];
    assert_true(dagrun_run_id_valid("manual__2024-01-01T00:00:00+00:00"));
    assert_true(dagrun_run_id_valid("my_run.1~a"));
    assert_false(dagrun_run_id_valid(NULL));
    assert_false(dagrun_run_id_valid(""));
    assert_false(dagrun_run_id_valid("has space"));
    assert_false(dagrun_run_id_valid("slash/bad"));
    assert_false(dagrun_run_id_valid("quote'"));
    assert_false(dagrun_run_id_valid("ünicode"));
    memset(big, 'a', DAGRUN_ID_MAX);
    big[DAGRUN_ID_MAX] = '\0';
    assert_true(dagrun_run_id_valid(big));
    big[DAGRUN_ID_MAX] = 'a';
    big[DAGRUN_ID_MAX + 1] = '\0';
    assert_false(dagrun_run_id_valid(big));
}

static void test_run_type_names(void **state)
{
    (void)state;
    assert_string_equal(dagrun_type_name(DAGRUN_SCHEDULED), "scheduled");
    assert_string_equal(dagrun_type_name(DAGRUN_MANUAL), "manual");
    assert_string_equal(dagrun_type_name(DAGRUN_BACKFILL), "backfill");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_id_is_type_and_logical_date),
        cmocka_unit_test(test_make_run_id_truncates),
        cmocka_unit_test(test_run_id_validity),
        cmocka_unit_test(test_run_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
