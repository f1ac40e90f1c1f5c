/*
 * test_run_semantics.c - run and try semantics shared by the scheduler and
 * the workers: a run's final state from its leaves, the
 * all_done_min_one_success trigger rule, Airflow 2's retry backoff, and the
 * DAG and task keys that drive them (dagrun_timeout,
 * max_consecutive_failed_dag_runs, skip_on_exit_code,
 * retry_exponential_backoff, max_retry_delay) through the loader and the
 * serialized form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/dag.h"
#include "model/planner.h"

#include "helpers.h"

static ti_state_t decide(const char *rule, int n, const ti_state_t *states)
{
    planner_upstream_t up;
    planner_upstream_init(&up);
    for (int i = 0; i < n; i++)
        planner_upstream_add(&up, states[i]);
    return planner_decide(rule, &up);
}

static void test_all_done_min_one_success(void **state)
{
    (void)state;
    const char *r = "all_done_min_one_success";
    assert_true(planner_trigger_rule_known(r));
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_SUCCESS, TI_FAILED}), TI_SCHEDULED);
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_SUCCESS, TI_UPSTREAM_FAILED}), TI_SCHEDULED);
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_FAILED, TI_UPSTREAM_FAILED}),
                     TI_UPSTREAM_FAILED);
    /* A skipped upstream skips it at once (Airflow 3.1), even with another still running. */
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_SKIPPED, TI_SUCCESS}), TI_SKIPPED);
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_SKIPPED, TI_RUNNING}), TI_SKIPPED);
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_SUCCESS, TI_RUNNING}), TI_NONE);
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_FAILED, TI_UP_FOR_RETRY}), TI_NONE);
    assert_int_equal(decide(r, 2, (ti_state_t[]){TI_REMOVED, TI_SUCCESS}), TI_SCHEDULED);
}

static void test_run_verdict_from_leaves(void **state)
{
    (void)state;
    size_t all[TI_STATE_COUNT] = {0}, leaves[TI_STATE_COUNT] = {0};
    /* a failed, its all_done cleanup leaf succeeded: the run succeeds */
    all[TI_FAILED] = 1;
    all[TI_SUCCESS] = 1;
    leaves[TI_SUCCESS] = 1;
    assert_int_equal(planner_run_verdict_leaves(all, leaves), RUN_SUCCESS);
    /* the old rule (any failed task) still answers failed for the same counts */
    assert_int_equal(planner_run_verdict(all), RUN_FAILED);
    /* a leaf upstream_failed fails it */
    all[TI_UPSTREAM_FAILED] = 1;
    leaves[TI_UPSTREAM_FAILED] = 1;
    assert_int_equal(planner_run_verdict_leaves(all, leaves), RUN_FAILED);
    /* anything unfinished keeps it running, leaves or not */
    memset(all, 0, sizeof(all));
    memset(leaves, 0, sizeof(leaves));
    all[TI_FAILED] = 1;
    leaves[TI_FAILED] = 1;
    all[TI_UP_FOR_RETRY] = 1;
    assert_int_equal(planner_run_verdict_leaves(all, leaves), RUN_KEEP_RUNNING);
    /* skipped and removed leaves are fine */
    memset(all, 0, sizeof(all));
    memset(leaves, 0, sizeof(leaves));
    all[TI_SKIPPED] = leaves[TI_SKIPPED] = 1;
    all[TI_REMOVED] = leaves[TI_REMOVED] = 1;
    all[TI_SUCCESS] = 2;
    assert_int_equal(planner_run_verdict_leaves(all, leaves), RUN_SUCCESS);
    /* no task at all */
    memset(all, 0, sizeof(all));
    memset(leaves, 0, sizeof(leaves));
    assert_int_equal(planner_run_verdict_leaves(all, leaves), RUN_SUCCESS);
}

/* Expected values computed with Airflow 2's TaskInstance.next_retry_datetime formula
 * (hashlib.sha1 of "dag#task#logical_date#try"). */
static void test_retry_delay_matches_airflow(void **state)
{
    (void)state;
    const char *ld = "2024-01-01T00:00:00+00:00";
    static const long long etl[] = {332, 852, 1733, 4353, 9390};
    for (int t = 1; t <= 5; t++)
        assert_int_equal(planner_retry_delay_sec(300, true, 0, "etl", "load", ld, t), etl[t - 1]);
    /* capped by max_retry_delay */
    static const long long flap[] = {1, 3, 3};
    for (int t = 1; t <= 3; t++)
        assert_int_equal(planner_retry_delay_sec(1, true, 3, "rs_backoff", "flap", ld, t),
                         flap[t - 1]);
    /* at least one second; microseconds in the date; one day at most */
    assert_int_equal(planner_retry_delay_sec(0, true, 0, "a", "b", "None", 1), 1);
    assert_int_equal(
        planner_retry_delay_sec(10, true, 0, "a", "b", "2024-03-10T11:00:00.123456+00:00", 3), 68);
    assert_int_equal(planner_retry_delay_sec(7, true, 0, "a", "b", ld, 40), 86400);
    /* without backoff: retry_delay as is, whatever the try */
    assert_int_equal(planner_retry_delay_sec(300, false, 10, "etl", "load", ld, 4), 300);
}

static const char YAML[] =
    "sem:\n"
    "  schedule: null\n"
    "  start_date: 2024-01-01\n"
    "  dagrun_timeout: {__type__: datetime.timedelta, minutes: 5, seconds: 3}\n"
    "  max_consecutive_failed_dag_runs: 3\n"
    "  default_args:\n"
    "    retry_exponential_backoff: true\n"
    "  tasks:\n"
    "    - task_id: dflt\n"
    "      operator: bash\n"
    "      bash_command: 'true'\n"
    "      retry_exponential_backoff: false\n"
    "    - task_id: codes\n"
    "      operator: bash\n"
    "      bash_command: 'true'\n"
    "      skip_on_exit_code: [2, 3]\n"
    "      retry_delay: {__type__: datetime.timedelta, seconds: 30}\n"
    "      max_retry_delay: {__type__: datetime.timedelta, hours: 1}\n"
    "    - task_id: none\n"
    "      operator: bash\n"
    "      bash_command: 'true'\n"
    "      skip_on_exit_code: null\n"
    "      max_retry_delay_sec: 60\n"
    "    - task_id: one\n"
    "      operator: bash\n"
    "      bash_command: 'true'\n"
    "      skip_on_exit_code: 7\n";

static const dag_task_t *task_of(const dag_t *d, const char *id)
{
    int i = dag_find_task(d, id);
    assert_true(i >= 0);
    return &d->tasks[i];
}

static void check_sem_dag(const dag_t *d)
{
    assert_int_equal(d->dagrun_timeout_sec, 303);
    assert_int_equal(d->max_consecutive_failed_dag_runs, 3);
    const dag_task_t *t = task_of(d, "dflt");
    assert_false(t->retry_exponential_backoff);
    assert_int_equal(t->n_skip_on_exit_code, 1);
    assert_int_equal(t->skip_on_exit_code[0], 99);
    assert_int_equal(t->max_retry_delay_sec, 0);
    t = task_of(d, "codes");
    assert_true(t->retry_exponential_backoff);
    assert_int_equal(t->n_skip_on_exit_code, 2);
    assert_int_equal(t->skip_on_exit_code[0], 2);
    assert_int_equal(t->skip_on_exit_code[1], 3);
    assert_int_equal(t->retry_delay_sec, 30);
    assert_int_equal(t->max_retry_delay_sec, 3600);
    t = task_of(d, "none");
    assert_int_equal(t->n_skip_on_exit_code, 0);
    assert_int_equal(t->max_retry_delay_sec, 60);
    t = task_of(d, "one");
    assert_int_equal(t->n_skip_on_exit_code, 1);
    assert_int_equal(t->skip_on_exit_code[0], 7);
}

static void test_run_semantics_keys_load_and_round_trip(void **state)
{
    (void)state;
    dag_list_t dags;
    dag_diags_t diags;
    char err[256];
    int rc = ut_load_yaml("sem.yaml", YAML, &dags, &diags);
    char *all = dag_diags_format(&diags, true);
    assert_non_null(all);
    assert_string_equal(all, ""); /* no "ignored key" warnings any more */
    assert_int_equal(rc, 0);
    assert_int_equal(dags.n, 1);
    check_sem_dag(dags.items[0]);

    cJSON *j = dag_to_json(dags.items[0]);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "dagrun_timeout_sec")->valueint, 303);
    /* default values stay out of the document, so older DAGs keep their hash */
    const cJSON *tasks = cJSON_GetObjectItem(j, "tasks");
    const cJSON *dflt = cJSON_GetObjectItem(tasks, "dflt");
    assert_null(cJSON_GetObjectItem(dflt, "skip_on_exit_code"));
    assert_null(cJSON_GetObjectItem(dflt, "retry_exponential_backoff"));
    assert_null(cJSON_GetObjectItem(dflt, "max_retry_delay_sec"));
    assert_true(cJSON_IsArray(
        cJSON_GetObjectItem(cJSON_GetObjectItem(tasks, "none"), "skip_on_exit_code")));
    dag_t *back = dag_from_json(j, err, sizeof(err));
    assert_non_null(back);
    check_sem_dag(back);
    dag_free(back);
    cJSON_Delete(j);
    free(all);
    dag_list_free(&dags);
    dag_diags_free(&diags);
}

static void test_bad_run_semantics_values_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "b:\n  tasks:\n    - {task_id: t, operator: bash, bash_command: x, skip_on_exit_code: "
        "300}\n",
        "b:\n  tasks:\n    - {task_id: t, operator: bash, bash_command: x, skip_on_exit_code: [1, "
        "x]}\n",
        "b:\n  dagrun_timeout: {__type__: datetime.timedelta, fortnights: 1}\n  tasks:\n"
        "    - {task_id: t, operator: bash, bash_command: x}\n",
        "b:\n  max_consecutive_failed_dag_runs: -1\n  tasks:\n"
        "    - {task_id: t, operator: bash, bash_command: x}\n",
        "b:\n  tasks:\n    - {task_id: t, operator: bash, bash_command: x, "
        "retry_exponential_backoff: maybe}\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dag_list_t dags;
        dag_diags_t diags;
        int rc = ut_load_yaml("b.yaml", bad[i], &dags, &diags);
        assert_true(rc > 0);
        assert_int_equal(dags.n, 0);
        dag_list_free(&dags);
        dag_diags_free(&diags);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_done_min_one_success),
        cmocka_unit_test(test_run_verdict_from_leaves),
        cmocka_unit_test(test_retry_delay_matches_airflow),
        cmocka_unit_test(test_run_semantics_keys_load_and_round_trip),
        cmocka_unit_test(test_bad_run_semantics_values_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
