/*
 * Unit tests for store/uiquery.c's readers of binary result fields (the
 * grid's task instances arrive in Postgres's binary format): integers of
 * each width and sign, timestamps from Postgres's 2000-01-01 epoch, SQL
 * NULL, and fields that are not what they should be. The PGresult is
 * built with libpq's own constructors, no server needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/uiquery.h"

/* One row of binary fields; a NULL value is SQL NULL. */
typedef struct field {
    const unsigned char *bytes;
    int len;
} field_t;

static PGresult *binary_row(const field_t *fields, int n, int format)
{
    PGresAttDesc attrs[8];
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

    assert_non_null(r);
    assert_true(n <= 8);
    for (int i = 0; i < n; i++)
        attrs[i] = (PGresAttDesc){.name = (char *)"f", .format = format, .typlen = -1};
    assert_int_equal(PQsetResultAttrs(r, n, attrs), 1);
    for (int i = 0; i < n; i++)
        assert_int_equal(
            PQsetvalue(r, 0, i, (char *)fields[i].bytes, fields[i].bytes ? fields[i].len : -1), 1);
    return r;
}

static void test_integers_of_each_width_and_sign_are_read(void **state)
{
    (void)state;
    static const unsigned char i2[] = {0xff, 0xfe}, i4[] = {0x00, 0x00, 0x01, 0x00},
                               i8[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xa0},
                               neg8[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    field_t f[] = {{i2, 2}, {i4, 4}, {i8, 8}, {neg8, 8}, {NULL, 0}};
    PGresult *r = binary_row(f, 5, 1);
    int64_t v = 42;

    assert_true(uiq_field_int(r, 0, 0, &v));
    assert_int_equal(v, -2);
    assert_true(uiq_field_int(r, 0, 1, &v));
    assert_int_equal(v, 256);
    assert_true(uiq_field_int(r, 0, 2, &v));
    assert_int_equal(v, 100000);
    assert_true(uiq_field_int(r, 0, 3, &v));
    assert_int_equal(v, -1);
    v = 42;
    assert_false(uiq_field_int(r, 0, 4, &v)); /* SQL NULL */
    assert_int_equal(v, 42);
    PQclear(r);
}

static void test_fields_that_are_not_binary_integers_are_refused(void **state)
{
    (void)state;
    static const unsigned char three[] = {1, 2, 3}, text[] = "12345678";
    field_t odd[] = {{three, 3}};
    field_t as_text[] = {{text, 8}};
    PGresult *r = binary_row(odd, 1, 1);
    int64_t v = 7;

    assert_false(uiq_field_int(r, 0, 0, &v)); /* no integer is 3 bytes */
    PQclear(r);
    r = binary_row(as_text, 1, 0); /* a text column, 8 bytes long */
    assert_false(uiq_field_int(r, 0, 0, &v));
    assert_int_equal(v, 7);
    PQclear(r);
}

static void test_timestamps_count_from_postgres_epoch(void **state)
{
    (void)state;
    /* 0: 2000-01-01T00:00:00Z; 0x00020c49ba5e353f = 576460752303423 us after it;
     * -1 us: 1999-12-31T23:59:59.999999Z */
    static const unsigned char zero[8] = {0},
                               later[] = {0x00, 0x02, 0x0c, 0x49, 0xba, 0x5e, 0x35, 0x3f},
                               before[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                               infinity[] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                               four[] = {0, 0, 0, 1};
    field_t f[] = {{zero, 8}, {later, 8}, {before, 8}, {NULL, 0}, {infinity, 8}, {four, 4}};
    PGresult *r = binary_row(f, 6, 1);

    assert_int_equal(uiq_field_ts(r, 0, 0), INT64_C(946684800000000));
    assert_int_equal(uiq_field_ts(r, 0, 1), INT64_C(946684800000000) + INT64_C(576460752303423));
    assert_int_equal(uiq_field_ts(r, 0, 2), INT64_C(946684799999999));
    assert_int_equal(uiq_field_ts(r, 0, 3), TS_NONE); /* SQL NULL */
    assert_int_equal(uiq_field_ts(r, 0, 4), TS_NONE); /* past what epoch microseconds hold */
    assert_int_equal(uiq_field_ts(r, 0, 5), TS_NONE); /* not 8 bytes */
    PQclear(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_of_each_width_and_sign_are_read),
        cmocka_unit_test(test_fields_that_are_not_binary_integers_are_refused),
        cmocka_unit_test(test_timestamps_count_from_postgres_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
