/*
 * test_opexec.c - the pure rules of the operator runner and the worker's
 * branch/short-circuit/mapping handling (worker/opsem.c), and how a mapped
 * instance's expand values are applied (worker/wrender.c), linked from
 * libworker. Expected
 * poke intervals were computed with Airflow's BaseSensorOperator.
 * _get_next_poke_interval formula in Python.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "worker/logbuf.h"
#include "worker/opsem.h"
#include "worker/wrender.h"
#include "worker/wtry.h"

static void test_branch_target_matches_tasks_and_groups(void **state)
{
    (void)state;
    cJSON *d = cJSON_Parse("[\"a\", \"grp.x\", \"grp.inner.y\", \"ab\"]");
    assert_non_null(d);
    assert_true(opsem_branch_target(d, "a", 1));
    assert_true(opsem_branch_target(d, "ab", 2));
    assert_true(opsem_branch_target(d, "grp", 3));       /* a task group */
    assert_true(opsem_branch_target(d, "grp.inner", 9)); /* a nested group */
    assert_true(opsem_branch_target(d, "grp.x", 5));
    assert_false(opsem_branch_target(d, "gr", 2)); /* not a whole component */
    assert_false(opsem_branch_target(d, "b", 1));
    assert_false(opsem_branch_target(d, "", 0));
    assert_false(opsem_branch_target(d, "grp.", 4));
    assert_true(opsem_branch_target(d, "abc", 1)); /* only len bytes count */
    assert_false(opsem_branch_target(NULL, "a", 1));
    cJSON_Delete(d);
}

static void test_last_line_falsy_values_like_python(void **state)
{
    (void)state;
    const char *falsy[] = {"",     "   ",  "0",  "false", "False", "FALSE", "no",      "off",
                           "None", "null", "[]", "{}",    "\"\"",  "''",    " false ", NULL};
    const char *truthy[] = {"1", "true", "yes", "x", "[0]", "0.0", "nope", "'a'", NULL};
    for (size_t i = 0; falsy[i]; i++)
        assert_true(opsem_line_falsy(falsy[i], strlen(falsy[i])));
    for (size_t i = 0; truthy[i]; i++)
        assert_false(opsem_line_falsy(truthy[i], strlen(truthy[i])));
}

static void test_map_index_picks_with_last_key_fastest(void **state)
{
    (void)state;
    size_t lens[] = {2, 3}, picks[2];
    /* Airflow: the last key varies fastest. */
    assert_int_equal(opsem_map_pick(lens, 2, 0, picks), 0);
    assert_int_equal(picks[0], 0);
    assert_int_equal(picks[1], 0);
    assert_int_equal(opsem_map_pick(lens, 2, 1, picks), 0);
    assert_int_equal(picks[0], 0);
    assert_int_equal(picks[1], 1);
    assert_int_equal(opsem_map_pick(lens, 2, 4, picks), 0);
    assert_int_equal(picks[0], 1);
    assert_int_equal(picks[1], 1);
    assert_int_equal(opsem_map_pick(lens, 2, 5, picks), 0);
    assert_int_equal(picks[0], 1);
    assert_int_equal(picks[1], 2);
    assert_int_equal(opsem_map_pick(lens, 2, 6, picks), -1); /* out of range */
    assert_int_equal(opsem_map_pick(lens, 2, -1, picks), -1);
    size_t one[] = {4};
    assert_int_equal(opsem_map_pick(one, 1, 3, picks), 0);
    assert_int_equal(picks[0], 3);
    size_t zero[] = {0};
    assert_int_equal(opsem_map_pick(zero, 1, 0, picks), -1);
}

static void test_poke_interval_backs_off_within_timeout(void **state)
{
    (void)state;
    const char *start = "2024-01-01 00:00:00+00:00";
    opsem_sensor_t s = {.poke_interval = 60, .timeout = 604800};
    assert_true(opsem_next_poke_interval(&s, "d", "t", start, 10, 3) == 60); /* no backoff */
    s.exponential_backoff = true;
    assert_true(opsem_next_poke_interval(&s, "d", "t", start, 0, 1) == 41);
    assert_true(opsem_next_poke_interval(&s, "d", "t", start, 10, 3) == 198);
    assert_true(opsem_next_poke_interval(&s, "d", "t", start, 10, 20) == 604790);
    s.max_wait = 3600;
    assert_true(opsem_next_poke_interval(&s, "d", "t", start, 10, 20) == 3600);
    s.max_wait = 0;
    s.timeout = 100;
    assert_true(opsem_next_poke_interval(&s, "d", "t", start, 50, 5) == 50);
    /* reschedule mode replays the series from the elapsed time */
    opsem_sensor_t r = {
        .poke_interval = 5, .timeout = 604800, .exponential_backoff = true, .reschedule = true};
    assert_true(opsem_next_poke_interval(&r, "d", "t", start, 100, 1) == 77);
    /* a huge backoff is capped by the timeout, never negative */
    opsem_sensor_t h = {.poke_interval = 1, .timeout = 604800, .exponential_backoff = true};
    assert_true(opsem_next_poke_interval(&h, "dag", "task", "12.5", 0, 60) == 604800);
    h.timeout = 5;
    assert_true(opsem_next_poke_interval(&h, "dag", "task", "12.5", 10, 60) == 0);
}

static void test_python_datetime_format(void **state)
{
    (void)state;
    char buf[TS_ISO_LEN];
    ts_us_t t;
    assert_int_equal(ts_parse("2024-03-05T10:11:12Z", &t), 0);
    assert_string_equal(opsem_python_datetime(t, buf), "2024-03-05 10:11:12+00:00");
    assert_string_equal(opsem_python_datetime(t + 250000, buf), "2024-03-05 10:11:12.250000+00:00");
}

/* A try of op with the given args/expand (JSON text) and map index. */
static wtry_t *mapped_try(dag_operator_t op, const char *args, const char *expand, int map_index)
{
    wtry_t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->op = op;
    t->task_id = strdup("m");
    t->map_index = map_index;
    t->args = args ? cJSON_Parse(args) : NULL;
    t->expand = cJSON_Parse(expand);
    assert_non_null(t->expand);
    return t;
}

static const char *env_of(const wtry_t *t, const char *name)
{
    for (size_t i = 0; i < t->n_env; i++)
        if (!strcmp(t->env[i].name, name))
            return t->env[i].value;
    return NULL;
}

static void test_mapped_arguments_apply_to_the_try(void **state)
{
    (void)state;
    char err[512];
    /* two keys: the last varies fastest; env merged, bash_command as JSON text */
    wtry_t *t = mapped_try(DAG_OP_BASH, NULL,
                           "{\"env\": [{\"A\": \"1\"}, {\"A\": \"2\"}],"
                           " \"bash_command\": [\"echo x\", {\"k\": 1}, 7]}",
                           4);
    t->bash_command = strdup("partial");
    t->env = calloc(1, sizeof(*t->env));
    t->env[0].name = strdup("KEEP");
    t->env[0].value = strdup("yes");
    t->n_env = 1;
    assert_int_equal(wrender_apply_map(NULL, t, err, sizeof(err)), 0);
    assert_string_equal(t->bash_command, "{\"k\":1}");
    assert_string_equal(env_of(t, "A"), "2");
    assert_string_equal(env_of(t, "KEEP"), "yes");
    assert_true(t->has_env);
    wtry_free(t);

    /* op_args: a scalar becomes [value]; op_kwargs merged over partial's */
    t = mapped_try(DAG_OP_PYTHON, "{\"op_kwargs\": {\"a\": 1, \"b\": 2}}",
                   "{\"op_args\": [10, [20, 21]], \"op_kwargs\": [{\"b\": 3}]}", 0);
    assert_int_equal(wrender_apply_map(NULL, t, err, sizeof(err)), 0);
    char *a = cJSON_PrintUnformatted(t->args);
    assert_string_equal(a, "{\"op_kwargs\":{\"a\":1,\"b\":3},\"op_args\":[10]}");
    free(a);
    wtry_free(t);
    t = mapped_try(DAG_OP_PYTHON, NULL, "{\"op_args\": [10, [20, 21]]}", 1);
    assert_int_equal(wrender_apply_map(NULL, t, err, sizeof(err)), 0);
    a = cJSON_PrintUnformatted(t->args);
    assert_string_equal(a, "{\"op_args\":[20,21]}");
    free(a);
    wtry_free(t);

    /* any other argument is replaced */
    t = mapped_try(DAG_OP_HTTP, "{\"endpoint\": \"x\", \"method\": \"GET\"}",
                   "{\"endpoint\": [\"a\", \"b\"]}", 1);
    assert_int_equal(wrender_apply_map(NULL, t, err, sizeof(err)), 0);
    assert_string_equal(cJSON_GetObjectItem(t->args, "endpoint")->valuestring, "b");
    assert_string_equal(cJSON_GetObjectItem(t->args, "method")->valuestring, "GET");
    wtry_free(t);

    /* out of range, and an instance that was never expanded */
    t = mapped_try(DAG_OP_HTTP, NULL, "{\"endpoint\": [\"a\", \"b\"]}", 2);
    assert_int_equal(wrender_apply_map(NULL, t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "map index 2 of task m is out of range: expand gives 2"));
    wtry_free(t);
    t = mapped_try(DAG_OP_HTTP, NULL, "{\"endpoint\": [\"a\"]}", -1);
    assert_int_equal(wrender_apply_map(NULL, t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no map index"));
    wtry_free(t);
    /* a mapped env element must be a mapping */
    t = mapped_try(DAG_OP_BASH, NULL, "{\"env\": [\"A=1\"]}", 0);
    assert_int_equal(wrender_apply_map(NULL, t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "mapped env must be a mapping"));
    wtry_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_branch_target_matches_tasks_and_groups),
        cmocka_unit_test(test_last_line_falsy_values_like_python),
        cmocka_unit_test(test_map_index_picks_with_last_key_fastest),
        cmocka_unit_test(test_poke_interval_backs_off_within_timeout),
        cmocka_unit_test(test_python_datetime_format),
        cmocka_unit_test(test_mapped_arguments_apply_to_the_try),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
