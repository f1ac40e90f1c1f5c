/*
 * test_ratelimit.c - the failed-login allowances of the webserver
 * (webserver/ratelimit.h), on a clock the test moves: a burst, then the
 * wait it announces, refill over the window, keys kept apart, and a flood
 * of new names that cannot push a held name out of the fixed-size table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "webserver/ratelimit.h"

#define SEC INT64_C(1000000)

static void test_burst_then_held_with_the_wait(void **state)
{
    ratelimit_t *rl = ratelimit_new(5, 300);
    int64_t t = 1000 * SEC;
    (void)state;

    assert_non_null(rl);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ratelimit_check(rl, "u:admin", t), 0);
        ratelimit_fail(rl, "u:admin", t);
    }
    /* empty: one failure refills in 300 / 5 = 60 seconds */
    assert_in_range(ratelimit_check(rl, "u:admin", t), 59, 61);
    assert_in_range(ratelimit_check(rl, "u:admin", t + 30 * SEC), 29, 31);
    assert_int_equal(ratelimit_check(rl, "u:admin", t + 61 * SEC), 0);
    ratelimit_free(rl);
}

static void test_keys_are_apart(void **state)
{
    ratelimit_t *rl = ratelimit_new(2, 60);
    int64_t t = 5 * SEC;
    (void)state;

    ratelimit_fail(rl, "u:a", t);
    ratelimit_fail(rl, "u:a", t);
    assert_true(ratelimit_check(rl, "u:a", t) > 0);
    assert_int_equal(ratelimit_check(rl, "u:b", t), 0);
    assert_int_equal(ratelimit_check(rl, "a:127.0.0.1", t), 0);
    ratelimit_free(rl);
}

static void test_refill_is_capped_at_the_burst(void **state)
{
    ratelimit_t *rl = ratelimit_new(3, 30);
    int64_t t = 0;
    (void)state;

    ratelimit_fail(rl, "k", t);
    t += 3600 * SEC; /* an hour later: full again, but never more than 3 */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ratelimit_check(rl, "k", t), 0);
        ratelimit_fail(rl, "k", t);
    }
    assert_true(ratelimit_check(rl, "k", t) > 0);
    ratelimit_free(rl);
}

static void test_a_held_key_survives_a_flood_of_new_names(void **state)
{
    ratelimit_t *rl = ratelimit_new(2, 600);
    int64_t t = 10 * SEC;
    char name[32];
    int held = 0;
    (void)state;

    ratelimit_fail(rl, "u:victim", t);
    ratelimit_fail(rl, "u:victim", t);
    /* New names take the most refilled place of their pair: a fresh
     * entry (one failure) never pushes out one that is empty. */
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof(name), "u:n%d", i);
        ratelimit_fail(rl, name, t);
    }
    held = ratelimit_check(rl, "u:victim", t) > 0;
    assert_true(held);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_held_with_the_wait),
        cmocka_unit_test(test_keys_are_apart),
        cmocka_unit_test(test_refill_is_capped_at_the_burst),
        cmocka_unit_test(test_a_held_key_survives_a_flood_of_new_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
