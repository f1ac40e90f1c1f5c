/* Unit tests for the pure parts of sched/clear.c and sched/backfill.c:
 * task selection with upstream/downstream, backfill intervals, a
 * backfill's plan of existing runs, the progress line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/backfill.h"
#include "sched/clear.h"
#include "model/cron.h"
#include "model/dag.h"

#include "helpers.h"

/* a -> b -> c, a -> d, e alone */
static const char DAG_YAML[] =
    "g:\n"
    "  tasks:\n"
    "    - {task_id: a, operator: bash, bash_command: 'true'}\n"
    "    - {task_id: b, operator: bash, bash_command: 'true', dependencies: [a]}\n"
    "    - {task_id: c, operator: bash, bash_command: 'true', dependencies: [b]}\n"
    "    - {task_id: d, operator: bash, bash_command: 'true', dependencies: [a]}\n"
    "    - {task_id: e_extra, operator: bash, bash_command: 'true'}\n";

static dag_t *load(dag_list_t *l)
{
    dag_diags_t d;
    assert_int_equal(ut_load_yaml("g.yaml", DAG_YAML, l, &d), 0);
    dag_diags_free(&d);
    assert_int_equal(l->n, 1);
    return l->items[0];
}

/* The selected task ids, sorted, joined by ','. */
static void selected_ids(const dag_t *dag, const bool *sel, char *buf, size_t len)
{
    const char *names[] = {"a", "b", "c", "d", "e_extra"};
    buf[0] = '\0';
    for (size_t k = 0; k < 5; k++) {
        int i = dag_find_task(dag, names[k]);
        assert_true(i >= 0);
        if (sel[i]) {
            if (buf[0])
                strncat(buf, ",", len - strlen(buf) - 1);
            strncat(buf, names[k], len - strlen(buf) - 1);
        }
    }
}

static void test_clear_selects_tasks_by_regex_and_relatives(void **state)
{
    (void)state;
    dag_list_t l;
    dag_t *dag = load(&l);
    bool sel[5];
    char err[128], ids[64];
    assert_int_equal(clear_select_tasks(dag, NULL, false, false, sel, err, sizeof(err)), 5);
    assert_int_equal(clear_select_tasks(dag, "^b$", false, false, sel, err, sizeof(err)), 1);
    selected_ids(dag, sel, ids, sizeof(ids));
    assert_string_equal(ids, "b");
    assert_int_equal(clear_select_tasks(dag, "^b$", false, true, sel, err, sizeof(err)), 2);
    selected_ids(dag, sel, ids, sizeof(ids));
    assert_string_equal(ids, "b,c");
    assert_int_equal(clear_select_tasks(dag, "^b$", true, false, sel, err, sizeof(err)), 2);
    selected_ids(dag, sel, ids, sizeof(ids));
    assert_string_equal(ids, "a,b");
    /* upstream of c is b and a (transitively), but not a's other branch d */
    assert_int_equal(clear_select_tasks(dag, "^c$", true, false, sel, err, sizeof(err)), 3);
    selected_ids(dag, sel, ids, sizeof(ids));
    assert_string_equal(ids, "a,b,c");
    /* downstream of a: the whole tree below it */
    assert_int_equal(clear_select_tasks(dag, "^a$", false, true, sel, err, sizeof(err)), 4);
    selected_ids(dag, sel, ids, sizeof(ids));
    assert_string_equal(ids, "a,b,c,d");
    /* a regex is searched, as Python's re.search */
    assert_int_equal(clear_select_tasks(dag, "extra", true, true, sel, err, sizeof(err)), 1);
    selected_ids(dag, sel, ids, sizeof(ids));
    assert_string_equal(ids, "e_extra");
    assert_int_equal(clear_select_tasks(dag, "zzz", true, true, sel, err, sizeof(err)), 0);
    assert_int_equal(clear_select_tasks(dag, "(", false, false, sel, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid task regex"));
    dag_list_free(&l);
}

static ts_us_t T(const char *s)
{
    ts_us_t t;
    assert_int_equal(ts_parse(s, &t), 0);
    return t;
}

static void test_backfill_daily_intervals_cover_the_range(void **state)
{
    (void)state;
    schedule_t s;
    char err[128];
    backfill_interval_t *iv = NULL;
    size_t n = 0;
    assert_int_equal(schedule_parse("@daily", &s, err, sizeof(err)), 0);
    assert_int_equal(
        backfill_intervals(&s, T("2024-03-01"), T("2024-03-07"), 100, &iv, &n, err, sizeof(err)),
        0);
    assert_int_equal(n, 7);
    assert_true(iv[0].start == T("2024-03-01") && iv[0].end == T("2024-03-02"));
    assert_true(iv[6].start == T("2024-03-07") && iv[6].end == T("2024-03-08"));
    free(iv);
    /* an unaligned start rounds up to the next fire time; end is inclusive */
    assert_int_equal(backfill_intervals(&s, T("2024-02-28T12:00:00Z"), T("2024-03-01"), 100, &iv,
                                        &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 2); /* Feb 29 (leap year) and Mar 1 */
    assert_true(iv[0].start == T("2024-02-29"));
    assert_true(iv[1].start == T("2024-03-01"));
    free(iv);
    /* limit */
    assert_int_equal(
        backfill_intervals(&s, T("2024-01-01"), T("2024-12-31"), 10, &iv, &n, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "more than 10"));
    assert_int_equal(
        backfill_intervals(&s, T("2024-03-02"), T("2024-03-01"), 10, &iv, &n, err, sizeof(err)),
        -1);
}

static void test_backfill_intervals_for_deltas_and_crons(void **state)
{
    (void)state;
    schedule_t s;
    char err[128];
    backfill_interval_t *iv = NULL;
    size_t n = 0;
    assert_int_equal(schedule_parse("6h", &s, err, sizeof(err)), 0);
    assert_int_equal(backfill_intervals(&s, T("2024-03-01T01:00:00Z"), T("2024-03-01T23:00:00Z"),
                                        100, &iv, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 4); /* a fixed interval starts exactly at the start */
    assert_true(iv[0].start == T("2024-03-01T01:00:00Z") && iv[0].end == T("2024-03-01T07:00:00Z"));
    free(iv);
    assert_int_equal(schedule_parse("@once", &s, err, sizeof(err)), 0);
    assert_int_equal(
        backfill_intervals(&s, T("2024-03-01"), T("2024-03-09"), 100, &iv, &n, err, sizeof(err)),
        0);
    assert_int_equal(n, 1);
    assert_true(iv[0].start == T("2024-03-01"));
    free(iv);
    assert_int_equal(schedule_parse(NULL, &s, err, sizeof(err)), 0);
    assert_int_equal(
        backfill_intervals(&s, T("2024-03-01"), T("2024-03-09"), 100, &iv, &n, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "manual only"));
}

static void test_backfill_intervals_follow_the_dag_timezone(void **state)
{
    (void)state;
    schedule_t s;
    schedule_tz_t *tz = NULL;
    char err[128];
    backfill_interval_t *iv = NULL;
    size_t n = 0;
    assert_int_equal(schedule_parse("0 0 * * *", &s, err, sizeof(err)), 0);
    assert_int_equal(schedule_tz_load("Europe/London", &tz, err, sizeof(err)), 0);
    s.tz = tz;
    /* across the spring-forward day: midnight local is 00:00Z then 23:00Z */
    assert_int_equal(backfill_intervals(&s, T("2024-03-30T00:00:00Z"), T("2024-04-01T00:00:00Z"),
                                        100, &iv, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    assert_true(iv[0].start == T("2024-03-30T00:00:00Z"));
    assert_true(iv[1].start == T("2024-03-31T00:00:00Z"));
    assert_true(iv[1].end == T("2024-03-31T23:00:00Z"));
    assert_true(iv[2].start == T("2024-03-31T23:00:00Z"));
    free(iv);
    schedule_tz_free(tz);
}

static void test_backfill_progress_line_shows_counts_and_eta(void **state)
{
    (void)state;
    char buf[256];
    backfill_format_progress(buf, sizeof(buf), 0, 4, 0, 0, 8);
    assert_string_equal(buf, "[........] 0/4 runs done, 0 failed, ETA --:--");
    /* 1 run in 10 s: 3 left, 30 s */
    backfill_format_progress(buf, sizeof(buf), 1, 4, 1, 10 * TS_US_PER_SEC, 8);
    assert_string_equal(buf, "[##......] 1/4 runs done, 1 failed, ETA 0:30");
    backfill_format_progress(buf, sizeof(buf), 1, 3, 0, 3600 * TS_US_PER_SEC, 3);
    assert_string_equal(buf, "[#..] 1/3 runs done, 0 failed, ETA 2:00:00");
    backfill_format_progress(buf, sizeof(buf), 4, 4, 0, 5 * TS_US_PER_SEC, 4);
    assert_string_equal(buf, "[####] 4/4 runs done, 0 failed, ETA 0:00");
}

/* Five daily intervals from Mar 1; Mar 2 has a successful run, Mar 3 a
 * failed one, Mar 4 a running one. */
static const struct plan_case {
    const char *name;
    backfill_reprocess_t rp;
    bool only_failed, backwards;
    backfill_action_t want[5]; /* in start order */
    const char *first;         /* the first item's logical date */
} plan_cases[] = {
    {"none leaves every existing run alone",
     BACKFILL_REPROCESS_NONE,
     false,
     false,
     {BACKFILL_CREATE, BACKFILL_SKIP, BACKFILL_SKIP, BACKFILL_SKIP, BACKFILL_CREATE},
     "2024-03-01"},
    {"failed clears the failed run only",
     BACKFILL_REPROCESS_FAILED,
     false,
     false,
     {BACKFILL_CREATE, BACKFILL_SKIP, BACKFILL_CLEAR, BACKFILL_SKIP, BACKFILL_CREATE},
     "2024-03-01"},
    {"completed clears failed and successful runs, never a running one",
     BACKFILL_REPROCESS_COMPLETED,
     false,
     false,
     {BACKFILL_CREATE, BACKFILL_CLEAR, BACKFILL_CLEAR, BACKFILL_SKIP, BACKFILL_CREATE},
     "2024-03-01"},
    {"--rerun-failed-tasks clears only the failed tasks of the failed run",
     BACKFILL_REPROCESS_FAILED,
     true,
     false,
     {BACKFILL_CREATE, BACKFILL_SKIP, BACKFILL_CLEAR_FAILED, BACKFILL_SKIP, BACKFILL_CREATE},
     "2024-03-01"},
    {"backwards starts from the newest date",
     BACKFILL_REPROCESS_NONE,
     false,
     true,
     {BACKFILL_CREATE, BACKFILL_SKIP, BACKFILL_SKIP, BACKFILL_SKIP, BACKFILL_CREATE},
     "2024-03-05"},
};

static void test_backfill_plan_treats_existing_runs_by_reprocess_behavior(void **state)
{
    (void)state;
    backfill_interval_t iv[5];
    for (int i = 0; i < 5; i++) {
        iv[i].start = T("2024-03-01") + (int64_t)i * 86400 * TS_US_PER_SEC;
        iv[i].end = iv[i].start + 86400 * TS_US_PER_SEC;
    }
    dagrun_ref_t runs[3] = {
        {.id = 12, .run_id = "scheduled__x", .state = "running", .logical_date = iv[3].start},
        {.id = 10, .run_id = "manual__y", .state = "success", .logical_date = iv[1].start},
        {.id = 11, .run_id = "backfill__z", .state = "failed", .logical_date = iv[2].start},
    };
    for (size_t c = 0; c < sizeof(plan_cases) / sizeof(plan_cases[0]); c++) {
        const struct plan_case *pc = &plan_cases[c];
        backfill_item_t *items = NULL;
        assert_int_equal(
            backfill_plan(iv, 5, runs, 3, pc->rp, pc->only_failed, pc->backwards, &items), 0);
        assert_true(items[0].iv.start == T(pc->first));
        for (int i = 0; i < 5; i++) {
            int k = pc->backwards ? 4 - i : i; /* the date's index */
            if (items[i].act != pc->want[k])
                printf("# %s: date %d: action %d, want %d\n", pc->name, k, items[i].act,
                       pc->want[k]);
            assert_int_equal(items[i].act, pc->want[k]);
            if (k == 3)
                assert_string_equal(items[i].reason, BACKFILL_REASON_IN_FLIGHT);
            else if (items[i].act == BACKFILL_SKIP)
                assert_string_equal(items[i].reason, BACKFILL_REASON_EXISTS);
            else
                assert_null(items[i].reason);
            if (k == 0)
                assert_string_equal(items[i].run_id, "backfill__2024-03-01T00:00:00+00:00");
            if (k == 2) {
                assert_int_equal(items[i].run_pk, 11);
                assert_string_equal(items[i].old_state, "failed");
            }
        }
        free(items);
    }
    backfill_reprocess_t rp;
    assert_int_equal(backfill_reprocess_parse("completed", &rp), 0);
    assert_int_equal(rp, BACKFILL_REPROCESS_COMPLETED);
    assert_int_equal(backfill_reprocess_parse("all", &rp), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clear_selects_tasks_by_regex_and_relatives),
        cmocka_unit_test(test_backfill_daily_intervals_cover_the_range),
        cmocka_unit_test(test_backfill_intervals_for_deltas_and_crons),
        cmocka_unit_test(test_backfill_plan_treats_existing_runs_by_reprocess_behavior),
        cmocka_unit_test(test_backfill_intervals_follow_the_dag_timezone),
        cmocka_unit_test(test_backfill_progress_line_shows_counts_and_eta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
