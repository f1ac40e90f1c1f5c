/* Weight rules: effective priorities computed at parse time, and their round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdbool.h>
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

/* ---- against a search from every task ---------------------------------- */

/*
 * The definition, searched from every task (what the loader did before it
 * computed weights in topological passes): own weight plus each distinct
 * task reachable in the rule's direction, summed in 64 bits, clamped.
 */
static int reference_total(const dag_t *g, size_t i)
{
    const dag_task_t *t = &g->tasks[i];
    size_t n = g->n_tasks, sp = 0;
    bool *seen = calloc(n, sizeof *seen);
    size_t *stack = calloc(n, sizeof *stack);
    long long sum = t->priority_weight;

    assert_non_null(seen);
    assert_non_null(stack);
    if (t->weight_rule != DAG_WEIGHT_ABSOLUTE) {
        bool down = t->weight_rule == DAG_WEIGHT_DOWNSTREAM;
        seen[i] = true;
        stack[sp++] = i;
        while (sp > 0) {
            const dag_task_t *u = &g->tasks[stack[--sp]];
            char **rel = down ? u->downstream : u->upstream;
            size_t nrel = down ? u->n_downstream : u->n_upstream;
            for (size_t k = 0; k < nrel; k++) {
                int j = dag_find_task(g, rel[k]);
                assert_true(j >= 0);
                if (seen[j])
                    continue;
                seen[j] = true;
                stack[sp++] = (size_t)j;
                sum += g->tasks[j].priority_weight;
            }
        }
    }
    free(seen);
    free(stack);
    return sum > INT_MAX ? INT_MAX : sum < INT_MIN ? INT_MIN : (int)sum;
}

static void assert_matches_reference(const dag_t *g)
{
    for (size_t i = 0; i < g->n_tasks; i++) {
        int want = reference_total(g, i);
        if (g->tasks[i].priority_weight_total != want)
            fail_msg("task %s (%s): priority %d, the search from it gives %d", g->tasks[i].task_id,
                     dag_weight_rule_name(g->tasks[i].weight_rule),
                     g->tasks[i].priority_weight_total, want);
    }
}

/* Loads one DAG from YAML text that must be clean. */
static dag_t *load_one(dag_list_t *l, const char *yaml)
{
    dag_diags_t d;
    int rc = ut_load_yaml("p.yaml", yaml, l, &d);
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

/* A small deterministic generator, so that a failure repeats. */
static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/*
 * Random DAGs of up to 14 tasks, dense enough for diamonds, nested
 * diamonds and joins of joins, with weights from -5 to 20 (zero and
 * negatives included) and a random rule per task.
 */
static void test_weights_match_a_search_from_every_task_on_random_dags(void **state)
{
    (void)state;
    static const char *const rules[] = {"downstream", "upstream", "absolute"};
    unsigned seed = 14;
    char *y = malloc(16384);
    assert_non_null(y);

    for (int round = 0; round < 600; round++) {
        int n = 1 + (int)(next_rand(&seed) % 14), density = 1 + (int)(next_rand(&seed) % 6);
        size_t len = (size_t)snprintf(y, 16384, "p:\n  tasks:\n");
        for (int i = 0; i < n; i++) {
            len +=
                (size_t)snprintf(y + len, 16384 - len,
                                 "    - {task_id: t%d, operator: bash, bash_command: x, "
                                 "priority_weight: %d, weight_rule: %s, dependencies: [",
                                 i, (int)(next_rand(&seed) % 26) - 5, rules[next_rand(&seed) % 3]);
            bool first = true;
            for (int j = 0; j < i; j++)
                if ((int)(next_rand(&seed) % 10) < density) {
                    len += (size_t)snprintf(y + len, 16384 - len, "%st%d", first ? "" : ", ", j);
                    first = false;
                }
            len += (size_t)snprintf(y + len, 16384 - len, "]}\n");
        }
        dag_list_t l;
        assert_matches_reference(load_one(&l, y));
        dag_list_free(&l);
    }
    free(y);
}

/*
 * Shapes where summing along edges counts a task twice: a diamond under a
 * diamond, a ladder (every task feeds the next two), a fan-out joined
 * again and followed by a chain, a join of joins; in both directions.
 */
static void test_weights_count_shared_tasks_once(void **state)
{
    (void)state;
    static const char *const shapes[] = {
        /* diamonds stacked: a -> b, c -> d -> e, f -> g */
        "a: []\nb: [a]\nc: [a]\nd: [b, c]\ne: [d]\nf: [d]\ng: [e, f]\n",
        /* ladder */
        "l0: []\nl1: [l0]\nl2: [l0, l1]\nl3: [l1, l2]\nl4: [l2, l3]\nl5: [l3, l4]\n",
        /* fan-out, join, chain after the join */
        "s: []\nx1: [s]\nx2: [s]\nx3: [s]\nj: [x1, x2, x3]\nc1: [j]\nc2: [c1]\nc3: [c2]\n",
        /* joins of joins, with a bypass edge */
        "r: []\np: [r]\nq: [r]\nj1: [p, q]\nj2: [p, q, r]\nz: [j1, j2, r]\n",
    };
    static const char *const rules[] = {"downstream", "upstream"};
    char y[2048];

    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t r = 0; r < 2; r++) {
            size_t len = (size_t)snprintf(
                y, sizeof y, "p:\n  default_args:\n    weight_rule: %s\n  tasks:\n", rules[r]);
            int w = 1;
            for (const char *line = shapes[s]; *line; w *= 2) {
                const char *colon = strchr(line, ':'), *eol = strchr(line, '\n');
                len += (size_t)snprintf(y + len, sizeof y - len,
                                        "    %.*s: {operator: bash, bash_command: x, "
                                        "priority_weight: %d, dependencies: %.*s}\n",
                                        (int)(colon - line), line, w, (int)(eol - colon - 2),
                                        colon + 2);
                line = eol + 1;
            }
            dag_list_t l;
            assert_matches_reference(load_one(&l, y));
            dag_list_free(&l);
        }
}

/* A sum past the int range is clamped once finished, as Airflow does. */
static void test_weight_sums_clamp_to_the_int_range(void **state)
{
    (void)state;
    dag_list_t l;
    const dag_t *g = load_one(&l, "p:\n  tasks:\n"
                                  "    a: {operator: bash, bash_command: x, priority_weight: "
                                  "2000000000}\n"
                                  "    b: {operator: bash, bash_command: x, priority_weight: "
                                  "2000000000, dependencies: [a]}\n"
                                  "    c: {operator: bash, bash_command: x, priority_weight: "
                                  "-2000000000, dependencies: [b]}\n");
    assert_int_equal(g->tasks[dag_find_task(g, "a")].priority_weight_total, 2000000000);
    assert_int_equal(g->tasks[dag_find_task(g, "b")].priority_weight_total, 0);
    dag_list_free(&l);
}

/* Appends a chain (or a ladder: each task after the next two) of n tasks. */
static char *long_dag_yaml(int n, bool ladder)
{
    size_t cap = (size_t)n * 96 + 64, len;
    char *y = malloc(cap);
    assert_non_null(y);
    len = (size_t)snprintf(y, cap, "long:\n  tasks:\n");
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(y + len, cap - len, "    t%d: {operator: bash, bash_command: x", i);
        if (i >= 2 && ladder)
            len += (size_t)snprintf(y + len, cap - len, ", dependencies: [t%d, t%d]", i - 2, i - 1);
        else if (i >= 1)
            len += (size_t)snprintf(y + len, cap - len, ", dependencies: [t%d]", i - 1);
        len += (size_t)snprintf(y + len, cap - len, "}\n");
    }
    return y;
}

/*
 * A 20,000-task chain and a 20,000-task ladder load, with the right
 * weights at both ends (each took tens of seconds when every task
 * searched all of its descendants).
 */
static void test_a_20000_task_chain_and_ladder_load(void **state)
{
    (void)state;
    for (int ladder = 0; ladder < 2; ladder++) {
        char *y = long_dag_yaml(20000, ladder);
        dag_list_t l;
        const dag_t *g = load_one(&l, y);
        assert_int_equal(g->n_tasks, 20000);
        assert_int_equal(g->tasks[dag_find_task(g, "t0")].priority_weight_total, 20000);
        assert_int_equal(g->tasks[dag_find_task(g, "t10000")].priority_weight_total, 10000);
        assert_int_equal(g->tasks[dag_find_task(g, "t19999")].priority_weight_total, 1);
        dag_list_free(&l);
        free(y);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_downstream_weight_sums_descendants),
        cmocka_unit_test(test_upstream_weight_sums_ancestors),
        cmocka_unit_test(test_absolute_weight_is_own_and_round_trips),
        cmocka_unit_test(test_unknown_weight_rule_is_refused),
        cmocka_unit_test(test_weights_match_a_search_from_every_task_on_random_dags),
        cmocka_unit_test(test_weights_count_shared_tasks_once),
        cmocka_unit_test(test_weight_sums_clamp_to_the_int_range),
        cmocka_unit_test(test_a_20000_task_chain_and_ladder_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
