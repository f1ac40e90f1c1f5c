/* Weight rules: effective priorities computed at parse time, and their round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/dag.h"

#include "helpers.h"

/* a -> b -> d, a -> c -> d, weights 1, 2, 4, 8 (a diamond: d counts once). */
static dag_t *load(dag_list_t *l, const char *rule)
{
    char y[1024];
    snprintf(y, sizeof y,
             "p:\n  default_args:\n    weight_rule: %s\n  tasks:\n"
             "    - {task_id: a, operator: bash, bash_command: x, priority_weight: 1}\n"
             "    - {task_id: b, operator: bash, bash_command: x, priority_weight: 2, "
             "dependencies: [a]}\n"
             "    - {task_id: c, operator: bash, bash_command: x, priority_weight: 4, "
             "dependencies: [a]}\n"
             "    - {task_id: d, operator: bash, bash_command: x, priority_weight: 8,"
             " dependencies: [b, c], max_active_tis_per_dag: 3}\n",
             rule);
    dag_diags_t d;
    int rc = ut_load_yaml("p.yaml", y, l, &d);
    if (rc != 0) {
        char *msg = dag_diags_format(&d, true);
        print_error("%s\n", msg ? msg : "?");
        free(msg);
    }
    dag_diags_free(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(l->n, 1);
    return l->items[0];
}

static int total(const dag_t *g, const char *id)
{
    int i = dag_find_task(g, id);
    assert_true(i >= 0);
    return g->tasks[i].priority_weight_total;
}

static void test_downstream_weight_sums_descendants(void **state)
{
    (void)state;
    dag_list_t l;
    dag_t *g = load(&l, "downstream");
    assert_int_equal(total(g, "a"), 15);
    assert_int_equal(total(g, "b"), 10);
    assert_int_equal(total(g, "c"), 12);
    assert_int_equal(total(g, "d"), 8);
    dag_list_free(&l);
}

static void test_upstream_weight_sums_ancestors(void **state)
{
    (void)state;
    dag_list_t l;
    dag_t *g = load(&l, "upstream");
    assert_int_equal(total(g, "a"), 1);
    assert_int_equal(total(g, "b"), 3);
    assert_int_equal(total(g, "d"), 15);
    dag_list_free(&l);
}

static void test_absolute_weight_is_own_and_round_trips(void **state)
{
    (void)state;
    dag_list_t l;
    dag_t *g = load(&l, "absolute");
    assert_int_equal(total(g, "a"), 1);
    assert_int_equal(total(g, "d"), 8);
    dag_list_free(&l);

    g = load(&l, "downstream");
    cJSON *j = dag_to_json(g);
    assert_non_null(j);
    char err[256];
    dag_t *back = dag_from_json(j, err, sizeof err);
    assert_non_null(back);
    int a = dag_find_task(back, "a"), d = dag_find_task(back, "d");
    assert_int_equal(back->tasks[a].priority_weight, 1);
    assert_int_equal(back->tasks[a].priority_weight_total, 15);
    assert_int_equal(back->tasks[a].weight_rule, DAG_WEIGHT_DOWNSTREAM);
    assert_int_equal(back->tasks[d].max_active_tis_per_dag, 3);
    dag_free(back);
    cJSON_Delete(j);
    dag_list_free(&l);
}

static void test_unknown_weight_rule_is_refused(void **state)
{
    (void)state;
    const char *y = "p:\n  tasks:\n    - {task_id: a, operator: bash, bash_command: x,"
                    " weight_rule: sideways}\n";
    dag_list_t l;
    dag_diags_t d;
    assert_true(ut_load_yaml("p.yaml", y, &l, &d) > 0);
    assert_int_equal(l.n, 0);
    dag_diags_free(&d);
    dag_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_downstream_weight_sums_descendants),
        cmocka_unit_test(test_upstream_weight_sums_ancestors),
        cmocka_unit_test(test_absolute_weight_is_own_and_round_trips),
        cmocka_unit_test(test_unknown_weight_rule_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
