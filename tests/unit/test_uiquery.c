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
#include <stdio.h>
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

/* Collects what uiq_grid_unpack hands over; stops (returns 99) at the stop-th row when set. */
typedef struct seen {
    int n, stop;
    uiq_grid_ti_t ti[4];
    char ids[4][32], states[4][32];
} seen_t;

static int collect(const uiq_grid_ti_t *ti, void *arg)
{
    seen_t *s = arg;

    if (s->n == 4)
        return -1;
    s->ti[s->n] = *ti;
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", ti->task_id);
    snprintf(s->states[s->n], sizeof(s->states[0]), "%s", ti->state);
    s->n++;
    return s->stop && s->n == s->stop ? 99 : 0;
}

/* Appends one packed instance (and the separator before it when not first) to b at *n. */
static void pack(unsigned char *b, size_t *n, int32_t try_n, int64_t start, int64_t end,
                 const char *state, const char *task_id)
{
    if (*n)
        b[(*n)++] = 0;
    for (int i = 3; i >= 0; i--)
        b[(*n)++] = (unsigned char)((uint32_t)try_n >> (8 * i));
    for (int i = 7; i >= 0; i--)
        b[(*n)++] = (unsigned char)((uint64_t)start >> (8 * i));
    for (int i = 7; i >= 0; i--)
        b[(*n)++] = (unsigned char)((uint64_t)end >> (8 * i));
    memcpy(b + *n, state, strlen(state) + 1);
    *n += strlen(state) + 1;
    memcpy(b + *n, task_id, strlen(task_id));
    *n += strlen(task_id);
    b[*n] = 0; /* as libpq ends every value */
}

static void test_packed_instances_of_a_run_are_unpacked(void **state)
{
    unsigned char b[256];
    size_t n = 0;
    seen_t s = {0};
    (void)state;

    /* start 0: 2000-01-01T00:00:00Z; end -infinity: unset; a time holding zero bytes */
    pack(b, &n, 2, 0, INT64_MIN, "success", "t1");
    pack(b, &n, 1, 1000000, 0x0100000000LL, "failed", "grp.t2");
    assert_int_equal(uiq_grid_unpack((const char *)b, n, 7, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ti[0].run, 7);
    assert_string_equal(s.ids[0], "t1");
    assert_string_equal(s.states[0], "success");
    assert_int_equal(s.ti[0].try_number, 2);
    assert_int_equal(s.ti[0].start_date, INT64_C(946684800000000));
    assert_int_equal(s.ti[0].end_date, TS_NONE);
    assert_int_equal(s.ti[0].count, 0);
    assert_string_equal(s.ids[1], "grp.t2");
    assert_string_equal(s.states[1], "failed");
    assert_int_equal(s.ti[1].try_number, 1);
    assert_int_equal(s.ti[1].start_date, INT64_C(946684801000000));
    assert_int_equal(s.ti[1].end_date, INT64_C(946684800000000) + INT64_C(0x0100000000));
}

static void test_a_packing_that_does_not_parse_is_refused(void **state)
{
    unsigned char b[256];
    size_t n = 0;
    seen_t s = {0};
    (void)state;

    pack(b, &n, 1, 0, 0, "success", "t1");
    /* cut inside the fixed fields of the instance */
    assert_int_equal(uiq_grid_unpack((const char *)b, 10, 1, collect, &s), UPDRAFT_EDB);
    assert_int_equal(s.n, 0);
    /* no NUL after the state: the value ends inside it */
    b[20 + 3] = 0;
    assert_int_equal(uiq_grid_unpack((const char *)b, 23, 1, collect, &s), UPDRAFT_EDB);
    /* an empty task id */
    n = 0;
    pack(b, &n, 1, 0, 0, "success", "");
    assert_int_equal(uiq_grid_unpack((const char *)b, n, 1, collect, &s), UPDRAFT_EDB);
    assert_int_equal(uiq_grid_unpack("", 0, 1, collect, &s), 0); /* nothing: nothing handed */
    assert_int_equal(s.n, 0);
}

static void test_unpacking_stops_where_the_callback_says(void **state)
{
    unsigned char b[256];
    size_t n = 0;
    seen_t s = {.stop = 1};
    (void)state;

    pack(b, &n, 1, 0, 0, "success", "a");
    pack(b, &n, 1, 0, 0, "success", "b");
    assert_int_equal(uiq_grid_unpack((const char *)b, n, 1, collect, &s), 99);
    assert_int_equal(s.n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_of_each_width_and_sign_are_read),
        cmocka_unit_test(test_fields_that_are_not_binary_integers_are_refused),
        cmocka_unit_test(test_timestamps_count_from_postgres_epoch),
        cmocka_unit_test(test_packed_instances_of_a_run_are_unpacked),
        cmocka_unit_test(test_a_packing_that_does_not_parse_is_refused),
        cmocka_unit_test(test_unpacking_stops_where_the_callback_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
