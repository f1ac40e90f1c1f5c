/*
 * Unit tests for scheduler/planner.c. The scheduler's objects are not in
 * libupdraft.a, so the module under test is compiled into this program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "model/planner.h"

static ti_state_t decide(const char *rule, const ti_state_t *states, size_t n)
{
    planner_upstream_t u;
    planner_upstream_init(&u);
    for (size_t i = 0; i < n; i++)
        planner_upstream_add(&u, states[i]);
    return planner_decide(rule, &u);
}

static void test_state_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < TI_STATE_COUNT; i++) {
        ti_state_t s;
        assert_int_equal(planner_state_parse(planner_state_name((ti_state_t)i), &s), 0);
        assert_int_equal(s, i);
    }
    ti_state_t s = TI_SUCCESS;
    assert_int_equal(planner_state_parse("bogus", &s), -1);
    assert_int_equal(planner_state_parse(NULL, &s), -1);
    assert_int_equal(s, TI_SUCCESS);
    assert_true(planner_state_finished(TI_UPSTREAM_FAILED));
    assert_true(planner_state_finished(TI_REMOVED));
    assert_false(planner_state_finished(TI_UP_FOR_RETRY));
    assert_false(planner_state_finished(TI_QUEUED));
}

static void test_no_upstream_is_ready(void **state)
{
    (void)state;
    assert_int_equal(decide("all_success", NULL, 0), TI_SCHEDULED);
    assert_int_equal(decide("all_failed", NULL, 0), TI_SCHEDULED);
    assert_int_equal(decide(NULL, NULL, 0), TI_SCHEDULED);
}

static void test_all_success_waits_for_every_upstream(void **state)
{
    (void)state;
    const ti_state_t ok2[] = {TI_SUCCESS, TI_SUCCESS};
    const ti_state_t waiting[] = {TI_SUCCESS, TI_RUNNING};
    const ti_state_t retrying[] = {TI_SUCCESS, TI_UP_FOR_RETRY};
    const ti_state_t failed[] = {TI_FAILED, TI_RUNNING};
    const ti_state_t upfailed[] = {TI_SUCCESS, TI_UPSTREAM_FAILED};
    const ti_state_t skipped[] = {TI_SKIPPED, TI_SUCCESS};
    const ti_state_t removed[] = {TI_SUCCESS, TI_REMOVED};
    assert_int_equal(decide("all_success", ok2, 2), TI_SCHEDULED);
    assert_int_equal(decide("all_success", waiting, 2), TI_NONE);
    assert_int_equal(decide("all_success", retrying, 2), TI_NONE);
    /* A failure settles the task without waiting for the rest. */
    assert_int_equal(decide("all_success", failed, 2), TI_UPSTREAM_FAILED);
    assert_int_equal(decide("all_success", upfailed, 2), TI_UPSTREAM_FAILED);
    assert_int_equal(decide("all_success", skipped, 2), TI_SKIPPED);
    assert_int_equal(decide("all_success", removed, 2), TI_SCHEDULED);
    /* Unknown rules behave as all_success. */
    assert_int_equal(decide("whatever", failed, 2), TI_UPSTREAM_FAILED);
    assert_int_equal(decide(NULL, ok2, 2), TI_SCHEDULED);
    assert_false(planner_trigger_rule_known("whatever"));
    assert_true(planner_trigger_rule_known("none_failed_min_one_success"));
}

static void test_other_trigger_rules_decide_like_airflow(void **state)
{
    (void)state;
    const ti_state_t mixed[] = {TI_SUCCESS, TI_FAILED};
    const ti_state_t part[] = {TI_FAILED, TI_RUNNING};
    const ti_state_t fails[] = {TI_FAILED, TI_UPSTREAM_FAILED};
    const ti_state_t skips[] = {TI_SKIPPED, TI_SKIPPED};
    const ti_state_t okskip[] = {TI_SUCCESS, TI_SKIPPED};

    assert_int_equal(decide("all_done", mixed, 2), TI_SCHEDULED);
    assert_int_equal(decide("all_done", part, 2), TI_NONE);
    assert_int_equal(decide("all_failed", fails, 2), TI_SCHEDULED);
    assert_int_equal(decide("all_failed", mixed, 2), TI_SKIPPED);
    assert_int_equal(decide("all_failed", part, 2), TI_NONE);
    assert_int_equal(decide("one_success", mixed, 2), TI_SCHEDULED);
    assert_int_equal(decide("one_success", fails, 2), TI_UPSTREAM_FAILED);
    assert_int_equal(decide("one_success", skips, 2), TI_SKIPPED);
    assert_int_equal(decide("one_failed", part, 2), TI_SCHEDULED);
    assert_int_equal(decide("one_failed", okskip, 2), TI_SKIPPED);
    assert_int_equal(decide("none_failed", okskip, 2), TI_SCHEDULED);
    assert_int_equal(decide("none_failed", mixed, 2), TI_UPSTREAM_FAILED);
    assert_int_equal(decide("none_failed_min_one_success", skips, 2), TI_SKIPPED);
    assert_int_equal(decide("none_failed_min_one_success", okskip, 2), TI_SCHEDULED);
    assert_int_equal(decide("none_skipped", okskip, 2), TI_SKIPPED);
    assert_int_equal(decide("none_skipped", mixed, 2), TI_SCHEDULED);
    assert_int_equal(decide("all_skipped", skips, 2), TI_SCHEDULED);
    assert_int_equal(decide("all_skipped", okskip, 2), TI_SKIPPED);
    assert_int_equal(decide("always", part, 2), TI_SCHEDULED);
}

static void test_run_verdict_from_task_states(void **state)
{
    (void)state;
    size_t c[TI_STATE_COUNT] = {0};
    assert_int_equal(planner_run_verdict(c), RUN_SUCCESS);
    c[TI_SUCCESS] = 3;
    c[TI_SKIPPED] = 1;
    assert_int_equal(planner_run_verdict(c), RUN_SUCCESS);
    c[TI_UP_FOR_RETRY] = 1;
    assert_int_equal(planner_run_verdict(c), RUN_KEEP_RUNNING);
    c[TI_UP_FOR_RETRY] = 0;
    c[TI_UPSTREAM_FAILED] = 1;
    assert_int_equal(planner_run_verdict(c), RUN_FAILED);
    c[TI_UPSTREAM_FAILED] = 0;
    c[TI_FAILED] = 1;
    c[TI_QUEUED] = 1;
    assert_int_equal(planner_run_verdict(c), RUN_KEEP_RUNNING);
    c[TI_QUEUED] = 0;
    assert_int_equal(planner_run_verdict(c), RUN_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names_round_trip),
        cmocka_unit_test(test_no_upstream_is_ready),
        cmocka_unit_test(test_all_success_waits_for_every_upstream),
        cmocka_unit_test(test_other_trigger_rules_decide_like_airflow),
        cmocka_unit_test(test_run_verdict_from_task_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
