/*
 * test_roles.c - the permission table of Airflow's five roles: the roles
 * nest, each role holds what Airflow gives it and nothing of the next,
 * names parse case-insensitively.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/roles.h"

static void test_every_permission_is_held_from_its_role_up_and_never_below(void **state)
{
    (void)state;
    size_t n;
    const perm_t *t = roles_table(&n);

    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].min_role > ROLE_PUBLIC && t[i].min_role < ROLE__COUNT);
        for (int r = ROLE_PUBLIC; r < ROLE__COUNT; r++)
            assert_int_equal(roles_allow(ROLE_BIT(r), t[i].action, t[i].resource),
                             r >= (int)t[i].min_role);
        assert_int_equal(roles_min_role(t[i].action, t[i].resource), t[i].min_role);
    }
}

static void test_each_role_holds_every_permission_of_the_roles_below(void **state)
{
    (void)state;
    for (int lo = ROLE_PUBLIC; lo < ROLE__COUNT; lo++)
        for (int hi = lo + 1; hi < ROLE__COUNT; hi++)
            for (int a = ACT_READ; a < ACT__COUNT; a++)
                for (int res = RES_DAGS; res < RES__COUNT; res++)
                    if (roles_allow(ROLE_BIT(lo), (perm_action_t)a, (perm_resource_t)res))
                        assert_true(
                            roles_allow(ROLE_BIT(hi), (perm_action_t)a, (perm_resource_t)res));
}

static void test_viewer_reads_dags_and_runs_but_changes_nothing(void **state)
{
    (void)state;
    role_mask_t v = ROLE_BIT(ROLE_VIEWER);

    assert_true(roles_allow(v, ACT_READ, RES_DAGS));
    assert_true(roles_allow(v, ACT_READ, RES_DAG_RUNS));
    assert_true(roles_allow(v, ACT_READ, RES_TASK_LOGS));
    assert_true(roles_allow(v, ACT_READ, RES_AUDIT_LOGS));
    assert_false(roles_allow(v, ACT_EDIT, RES_DAGS));
    assert_false(roles_allow(v, ACT_CREATE, RES_DAG_RUNS));
    assert_false(roles_allow(v, ACT_EDIT, RES_TASK_INSTANCES));
    assert_false(roles_allow(v, ACT_READ, RES_VARIABLES));
}

static void test_op_reads_connections_and_user_does_not(void **state)
{
    (void)state;
    assert_true(roles_allow(ROLE_BIT(ROLE_USER), ACT_CREATE, RES_DAG_RUNS));
    assert_true(roles_allow(ROLE_BIT(ROLE_USER), ACT_EDIT, RES_DAGS));
    assert_false(roles_allow(ROLE_BIT(ROLE_USER), ACT_READ, RES_CONNECTIONS));
    assert_false(roles_allow(ROLE_BIT(ROLE_USER), ACT_READ, RES_CONFIG));
    assert_true(roles_allow(ROLE_BIT(ROLE_OP), ACT_READ, RES_CONNECTIONS));
    assert_true(roles_allow(ROLE_BIT(ROLE_OP), ACT_EDIT, RES_VARIABLES));
    assert_true(roles_allow(ROLE_BIT(ROLE_OP), ACT_READ, RES_CONFIG));
    assert_false(roles_allow(ROLE_BIT(ROLE_OP), ACT_READ, RES_USERS));
}

static void test_admin_manages_users_and_roles(void **state)
{
    (void)state;
    role_mask_t a = ROLE_BIT(ROLE_ADMIN);

    for (int act = ACT_READ; act < ACT__COUNT; act++)
        assert_true(roles_allow(a, (perm_action_t)act, RES_USERS));
    assert_true(roles_allow(a, ACT_READ, RES_ROLES));
    assert_true(roles_allow(a, ACT_READ, RES_PERMISSIONS));
    /* Several roles: the union. */
    assert_true(roles_allow(ROLE_BIT(ROLE_VIEWER) | a, ACT_DELETE, RES_USERS));
}

static void test_public_and_no_role_hold_nothing_but_the_open_routes(void **state)
{
    (void)state;
    for (int act = ACT_READ; act < ACT__COUNT; act++)
        for (int res = RES_NONE; res < RES__COUNT; res++) {
            assert_false(
                roles_allow(ROLE_BIT(ROLE_PUBLIC), (perm_action_t)act, (perm_resource_t)res));
            assert_false(roles_allow(0, (perm_action_t)act, (perm_resource_t)res));
        }
    assert_true(roles_allow(0, ACT_NONE, RES_NONE));
    assert_int_equal(roles_min_role(ACT_NONE, RES_DAGS), ROLE_PUBLIC);
    /* A pair nobody holds. */
    assert_int_equal(roles_min_role(ACT_DELETE, RES_CONFIG), ROLE__COUNT);
    assert_false(roles_allow(ROLE_BIT(ROLE_ADMIN), ACT_DELETE, RES_CONFIG));
}

static void test_role_names_parse_case_insensitively_and_unknown_is_minus_one(void **state)
{
    (void)state;
    for (int r = ROLE_PUBLIC; r < ROLE__COUNT; r++)
        assert_int_equal(roles_parse(roles_name((role_t)r)), r);
    assert_int_equal(roles_parse("admin"), ROLE_ADMIN);
    assert_int_equal(roles_parse("ADMIN"), ROLE_ADMIN);
    assert_int_equal(roles_parse("vIeWeR"), ROLE_VIEWER);
    assert_int_equal(roles_parse("op"), ROLE_OP);
    assert_int_equal(roles_parse("Superuser"), -1);
    assert_int_equal(roles_parse(""), -1);
    assert_int_equal(roles_parse("Admin "), -1);
    assert_int_equal(roles_parse(NULL), -1);
    assert_string_equal(roles_name(ROLE_ADMIN), "Admin");
    assert_string_equal(roles_action_name(ACT_READ), "can_read");
    assert_string_equal(roles_resource_name(RES_DAG_RUNS), "DAG Runs");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_permission_is_held_from_its_role_up_and_never_below),
        cmocka_unit_test(test_each_role_holds_every_permission_of_the_roles_below),
        cmocka_unit_test(test_viewer_reads_dags_and_runs_but_changes_nothing),
        cmocka_unit_test(test_op_reads_connections_and_user_does_not),
        cmocka_unit_test(test_admin_manages_users_and_roles),
        cmocka_unit_test(test_public_and_no_role_hold_nothing_but_the_open_routes),
        cmocka_unit_test(test_role_names_parse_case_insensitively_and_unknown_is_minus_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
