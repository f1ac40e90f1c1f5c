/*
 * test_wmetrics.c - what the worker records (worker/wmetrics.h), read back
 * through the Prometheus exposition: ti.finish by state, ti_successes and
 * ti_failures as Airflow counts them, the queued duration from the
 * database's two timestamps, hop latency only when its start is known.
 *
 * The registry is one per process and never emptied: each test uses a
 * DAG id of its own, and reads the unlabelled counters as differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/timeutil.h"
#include "worker/wmetrics.h"

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render_prometheus(&text, &len), 0);
    assert_non_null(text);
    return text;
}

/*
 * The value of the first series of name whose labels contain every one of
 * the label pairs in want ("" for any), or -1 when there is none.
 */
static double value_of(const char *text, const char *name, const char *want1, const char *want2)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || (p[n] != '{' && p[n] != ' '))
            continue;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        if (len >= sizeof(line))
            continue;
        memcpy(line, p, len);
        line[len] = '\0';
        if ((want1 && !strstr(line, want1)) || (want2 && !strstr(line, want2)))
            continue;
        const char *sp = strrchr(line, ' ');
        return sp ? strtod(sp + 1, NULL) : -1;
    }
    return -1;
}

static wtry_t try_of(char *dag, char *task)
{
    wtry_t t;
    memset(&t, 0, sizeof(t));
    t.dag_id = dag;
    t.task_id = task;
    t.queued_at = TS_NONE;
    t.start_date = TS_NONE;
    snprintf(t.delivery.queue, sizeof(t.delivery.queue), "default");
    return t;
}

static void test_failures_count_retries_and_fails_and_skips_count_neither(void **state)
{
    (void)state;
    char dag[] = "wm_states", task[] = "t";
    wtry_t t = try_of(dag, task);
    char *before = render();
    double succ0 = value_of(before, "updraft_ti_successes_total", NULL, NULL);
    double fail0 = value_of(before, "updraft_ti_failures_total", NULL, NULL);
    free(before);

    const char *states[] = {"success",           "failed",      "up_for_retry", "skipped",
                            "up_for_reschedule", "up_for_retry"};
    for (size_t i = 0; i < sizeof(states) / sizeof(*states); i++)
        wmetrics_finished(&t, states[i], 0.25);

    char *text = render();
    assert_true(value_of(text, "updraft_ti_finish_total", "dag_id=\"wm_states\"",
                         "state=\"up_for_retry\"") == 2);
    assert_true(value_of(text, "updraft_ti_finish_total", "dag_id=\"wm_states\"",
                         "state=\"skipped\"") == 1);
    assert_true(value_of(text, "updraft_ti_finish_total", "dag_id=\"wm_states\"",
                         "state=\"up_for_reschedule\"") == 1);
    assert_true(
        value_of(text, "updraft_ti_successes_total", NULL, NULL) - (succ0 < 0 ? 0 : succ0) == 1);
    assert_true(value_of(text, "updraft_ti_failures_total", NULL, NULL) - (fail0 < 0 ? 0 : fail0) ==
                3);
    assert_true(
        value_of(text, "updraft_task_duration_seconds_count", "dag_id=\"wm_states\"", NULL) == 6);
    assert_true(value_of(text, "updraft_task_duration_seconds_sum", "dag_id=\"wm_states\"", NULL) ==
                1.5);
    free(text);
}

static void test_queued_duration_is_start_date_less_queued_at_when_both_are_known(void **state)
{
    (void)state;
    char dag[] = "wm_queued", task[] = "t";
    wtry_t t = try_of(dag, task);
    wmetrics_claimed(&t); /* neither known: ti.start only */
    t.queued_at = 1700000000 * TS_US_PER_SEC;
    t.start_date = t.queued_at + 2 * TS_US_PER_SEC;
    wmetrics_claimed(&t);
    t.start_date = t.queued_at - 1; /* clocks disagree: not recorded */
    wmetrics_claimed(&t);

    char *text = render();
    assert_true(value_of(text, "updraft_ti_start_total", "dag_id=\"wm_queued\"", NULL) == 3);
    assert_true(value_of(text, "updraft_task_queued_duration_seconds_count", "dag_id=\"wm_queued\"",
                         NULL) == 1);
    assert_true(value_of(text, "updraft_task_queued_duration_seconds_sum", "dag_id=\"wm_queued\"",
                         NULL) == 2);
    free(text);
}

static void test_hop_is_recorded_only_when_its_start_is_known(void **state)
{
    (void)state;
    char dag[] = "wm_hop", task[] = "t";
    wtry_t t = try_of(dag, task);
    snprintf(t.delivery.queue, sizeof(t.delivery.queue), "wm_hop_q");
    wmetrics_hop(&t, 0, ts_mono_us());  /* from a queue, no enqueue time: nothing */
    wmetrics_hop(&t, 1000000, 1500000); /* direct: 0.5 s */
    t.delivery.msg.enqueued_us = ts_now() + 3600 * TS_US_PER_SEC; /* a clock ahead: 0 */
    wmetrics_hop(&t, 0, ts_mono_us());

    char *text = render();
    assert_true(value_of(text, "updraft_hop_latency_seconds_count", "queue=\"wm_hop_q\"", NULL) ==
                2);
    assert_true(value_of(text, "updraft_hop_latency_seconds_sum", "queue=\"wm_hop_q\"", NULL) ==
                0.5);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failures_count_retries_and_fails_and_skips_count_neither),
        cmocka_unit_test(test_queued_duration_is_start_date_less_queued_at_when_both_are_known),
        cmocka_unit_test(test_hop_is_recorded_only_when_its_start_is_known),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
