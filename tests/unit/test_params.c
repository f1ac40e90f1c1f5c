/* Unit tests for DAG params and run conf: the `params` key of a DAG file
 * (plain values and Airflow's Param form), its serialized form, the
 * effective conf (dag_params_resolve), the conf in the task environment
 * (taskenv_add_conf), conf parsing (dagrun_conf_parse) and clearing by
 * exact task ids (clear_select_task_ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/clear.h"
#include "model/dag.h"
#include "store/dagrun.h"
#include "model/taskenv.h"

#include "helpers.h"

static const char PARAMS_YAML[] = "p:\n"
                                  "  schedule: '@daily'\n"
                                  "  start_date: 2024-01-01\n"
                                  "  params:\n"
                                  "    batch_size: 100\n"
                                  "    ratio: 0.5\n"
                                  "    label: hello\n"
                                  "    quoted: '42'\n"
                                  "    flag: yes\n"
                                  "    nothing: ~\n"
                                  "    tables: [a, b]\n"
                                  "    mode:\n"
                                  "      __type__: airflow.models.param.Param\n"
                                  "      default: fast\n"
                                  "      type: string\n"
                                  "      enum: [fast, slow]\n"
                                  "      description: how to run\n"
                                  "    retries:\n"
                                  "      __type__: airflow.models.param.Param\n"
                                  "      __args__: [3, number of retries]\n"
                                  "      type: integer\n"
                                  "  tasks:\n"
                                  "    - {task_id: t, operator: bash, bash_command: 'true'}\n";

static dag_t *load_one(const char *yaml, dag_list_t *l, size_t *errors)
{
    dag_diags_t d;
    int rc = ut_load_yaml("p.yaml", yaml, l, &d);
    *errors = dag_diags_errors(&d);
    dag_diags_free(&d);
    (void)rc;
    return l->n == 1 ? l->items[0] : NULL;
}

static char *print(const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    assert_non_null(s);
    return s;
}

static void test_params_are_parsed_with_schemas(void **state)
{
    (void)state;
    dag_list_t l;
    size_t errors;
    dag_t *dag = load_one(PARAMS_YAML, &l, &errors);
    assert_int_equal(errors, 0);
    assert_non_null(dag);
    assert_non_null(dag->params);
    char *s = print(dag->params);
    assert_string_equal(s,
                        "{\"batch_size\":{\"default\":100,\"description\":null,\"schema\":{}},"
                        "\"ratio\":{\"default\":0.5,\"description\":null,\"schema\":{}},"
                        "\"label\":{\"default\":\"hello\",\"description\":null,\"schema\":{}},"
                        "\"quoted\":{\"default\":\"42\",\"description\":null,\"schema\":{}},"
                        "\"flag\":{\"default\":true,\"description\":null,\"schema\":{}},"
                        "\"nothing\":{\"default\":null,\"description\":null,\"schema\":{}},"
                        "\"tables\":{\"default\":[\"a\",\"b\"],\"description\":null,\"schema\":{}},"
                        "\"mode\":{\"default\":\"fast\",\"description\":\"how to run\","
                        "\"schema\":{\"type\":\"string\",\"enum\":[\"fast\",\"slow\"]}},"
                        "\"retries\":{\"default\":3,\"description\":\"number of retries\","
                        "\"schema\":{\"type\":\"integer\"}}}");
    cJSON_free(s);

    /* Serialized and read back unchanged. */
    cJSON *j = dag_to_json(dag);
    assert_non_null(j);
    char err[256];
    dag_t *back = dag_from_json(j, err, sizeof(err));
    assert_non_null(back);
    assert_true(cJSON_Compare(back->params, dag->params, true));
    dag_free(back);
    cJSON_Delete(j);
    dag_list_free(&l);
}

static void test_no_params_not_serialized(void **state)
{
    (void)state;
    static const char yaml[] = "q:\n  tasks:\n    - {task_id: t, operator: bash, "
                               "bash_command: 'true'}\n";
    dag_list_t l;
    size_t errors;
    dag_t *dag = load_one(yaml, &l, &errors);
    assert_non_null(dag);
    assert_null(dag->params);
    cJSON *j = dag_to_json(dag);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "params"));
    cJSON_Delete(j);
    dag_list_free(&l);
}

static void test_scheduled_required_param_refused(void **state)
{
    (void)state;
    static const char sched[] =
        "r:\n  schedule: '@daily'\n  start_date: 2024-01-01\n  params:\n"
        "    who: {__type__: airflow.models.param.Param, type: string}\n"
        "  tasks:\n    - {task_id: t, operator: bash, bash_command: 'true'}\n";
    static const char manual[] =
        "r:\n  params:\n"
        "    who: {__type__: airflow.models.param.Param, type: string}\n"
        "  tasks:\n    - {task_id: t, operator: bash, bash_command: 'true'}\n";
    static const char bad_default[] =
        "r:\n  schedule: '@daily'\n  params:\n"
        "    n: {__type__: airflow.models.param.Param, default: abc, type: integer}\n"
        "  tasks:\n    - {task_id: t, operator: bash, bash_command: 'true'}\n";
    dag_list_t l;
    size_t errors;
    assert_null(load_one(sched, &l, &errors));
    assert_int_equal(errors, 1);
    dag_list_free(&l);
    assert_non_null(load_one(manual, &l, &errors));
    assert_int_equal(errors, 0);
    dag_list_free(&l);
    assert_null(load_one(bad_default, &l, &errors));
    assert_int_equal(errors, 1);
    dag_list_free(&l);
}

static void test_params_must_be_a_mapping(void **state)
{
    (void)state;
    static const char yaml[] = "s:\n  params: [1, 2]\n  tasks:\n    - {task_id: t, operator: "
                               "bash, bash_command: 'true'}\n";
    dag_list_t l;
    size_t errors;
    assert_null(load_one(yaml, &l, &errors));
    assert_int_equal(errors, 1);
    dag_list_free(&l);
}

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

static void test_param_defaults_fill_under_the_conf_and_conf_wins(void **state)
{
    (void)state;
    cJSON *params =
        parse("{\"a\":{\"default\":1,\"description\":null,\"schema\":{}},"
              "\"b\":{\"default\":\"x\",\"description\":null,"
              "\"schema\":{\"type\":[\"string\",\"null\"],\"enum\":[\"x\",\"y\",null]}},"
              "\"req\":{\"description\":null,\"schema\":{\"type\":\"integer\"}}}");
    cJSON *out = NULL, *conf;
    char err[256];
    char *s;

    /* Defaults under the conf; extra conf keys kept; conf wins. */
    conf = parse("{\"req\":7,\"b\":\"y\",\"extra\":{\"k\":[1]}}");
    assert_int_equal(dag_params_resolve(params, conf, &out, err, sizeof(err)), 0);
    s = print(out);
    assert_string_equal(s, "{\"req\":7,\"b\":\"y\",\"extra\":{\"k\":[1]},\"a\":1}");
    cJSON_free(s);
    cJSON_Delete(out);
    cJSON_Delete(conf);

    /* A required param missing. */
    assert_int_equal(dag_params_resolve(params, NULL, &out, err, sizeof(err)), -1);
    assert_null(out);
    assert_non_null(strstr(err, "'req' is required"));

    /* Type and enum. */
    conf = parse("{\"req\":1.5}");
    assert_int_equal(dag_params_resolve(params, conf, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not of type"));
    cJSON_Delete(conf);
    conf = parse("{\"req\":2,\"b\":\"z\"}");
    assert_int_equal(dag_params_resolve(params, conf, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "enum"));
    cJSON_Delete(conf);
    conf = parse("{\"req\":2,\"b\":null}");
    assert_int_equal(dag_params_resolve(params, conf, &out, err, sizeof(err)), 0);
    cJSON_Delete(out);
    cJSON_Delete(conf);

    /* Not an object. */
    conf = parse("[1]");
    assert_int_equal(dag_params_resolve(params, conf, &out, err, sizeof(err)), -1);
    cJSON_Delete(conf);

    /* No params: the conf as given. */
    conf = parse("{\"z\":true}");
    assert_int_equal(dag_params_resolve(NULL, conf, &out, err, sizeof(err)), 0);
    assert_true(cJSON_Compare(out, conf, true));
    cJSON_Delete(out);
    cJSON_Delete(conf);
    cJSON_Delete(params);
}

static void test_conf_must_be_a_json_object(void **state)
{
    (void)state;
    cJSON *j = NULL;
    char err[256];
    assert_int_equal(dagrun_conf_parse(NULL, &j, err, sizeof(err)), 0);
    assert_true(cJSON_IsObject(j));
    cJSON_Delete(j);
    assert_int_equal(dagrun_conf_parse("{\"a\": 1", &j, err, sizeof(err)), -1);
    assert_null(j);
    assert_non_null(strstr(err, "not valid JSON"));
    assert_int_equal(dagrun_conf_parse("[1, 2]", &j, err, sizeof(err)), -1);
    assert_string_equal(err, "conf must be a JSON object");
    assert_int_equal(dagrun_conf_parse("{} trailing", &j, err, sizeof(err)), -1);
}

static void test_task_env_carries_conf_and_params(void **state)
{
    (void)state;
    char *base[] = {"PATH=/bin", "UPDRAFT_PARAM_label=old", NULL};
    taskenv_ctx_t ctx = {.dag_id = "d", .task_id = "t", .run_id = "r", .logical_date = TS_NONE};
    char err[256];
    char **env = taskenv_build(base, NULL, 0, false, false, &ctx, err, sizeof(err));
    assert_non_null(env);
    const char *conf = "{\"label\":\"new\",\"n\":5,\"x\":1.5,\"ok\":false,\"list\":[1],"
                       "\"nil\":null,\"bad-name\":\"v\",\"9lead\":1}";
    assert_int_equal(taskenv_add_conf(&env, conf, err, sizeof(err)), 0);
    assert_string_equal(taskenv_get(env, "UPDRAFT_DAG_RUN_CONF"), conf);
    assert_string_equal(taskenv_get(env, "UPDRAFT_PARAM_label"), "new");
    assert_string_equal(taskenv_get(env, "UPDRAFT_PARAM_n"), "5");
    assert_string_equal(taskenv_get(env, "UPDRAFT_PARAM_x"), "1.5");
    assert_string_equal(taskenv_get(env, "UPDRAFT_PARAM_ok"), "false");
    assert_null(taskenv_get(env, "UPDRAFT_PARAM_list"));
    assert_null(taskenv_get(env, "UPDRAFT_PARAM_nil"));
    assert_null(taskenv_get(env, "UPDRAFT_PARAM_bad-name"));
    assert_null(taskenv_get(env, "UPDRAFT_PARAM_9lead"));
    assert_string_equal(taskenv_get(env, "PATH"), "/bin");
    assert_string_equal(taskenv_get(env, "UPDRAFT_DAG_ID"), "d");
    /* NULL conf adds nothing; a bad conf is refused and env stays usable. */
    assert_int_equal(taskenv_add_conf(&env, NULL, err, sizeof(err)), 0);
    assert_int_equal(taskenv_add_conf(&env, "[1]", err, sizeof(err)), -1);
    assert_string_equal(taskenv_get(env, "UPDRAFT_PARAM_n"), "5");
    taskenv_free(env);
}

static void test_task_ids_are_selected_with_relatives(void **state)
{
    (void)state;
    static const char yaml[] =
        "g:\n  tasks:\n"
        "    - {task_id: a, operator: bash, bash_command: 'true'}\n"
        "    - {task_id: b, operator: bash, bash_command: 'true', dependencies: [a]}\n"
        "    - {task_id: c, operator: bash, bash_command: 'true', dependencies: [b]}\n"
        "    - {task_id: ab, operator: bash, bash_command: 'true'}\n";
    dag_list_t l;
    size_t errors;
    dag_t *dag = load_one(yaml, &l, &errors);
    assert_non_null(dag);
    bool sel[4];
    const char *ids[] = {"b", "nope"};
    /* Exact ids: "b" does not pick "ab"; unknown ids are ignored. */
    assert_int_equal(clear_select_task_ids(dag, ids, 2, false, false, sel), 1);
    assert_true(sel[dag_find_task(dag, "b")]);
    assert_false(sel[dag_find_task(dag, "ab")]);
    assert_int_equal(clear_select_task_ids(dag, ids, 2, false, true, sel), 2);
    assert_true(sel[dag_find_task(dag, "c")]);
    assert_int_equal(clear_select_task_ids(dag, ids, 2, true, true, sel), 3);
    assert_true(sel[dag_find_task(dag, "a")]);
    assert_int_equal(clear_select_task_ids(dag, ids + 1, 1, true, true, sel), 0);
    dag_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_are_parsed_with_schemas),
        cmocka_unit_test(test_no_params_not_serialized),
        cmocka_unit_test(test_scheduled_required_param_refused),
        cmocka_unit_test(test_params_must_be_a_mapping),
        cmocka_unit_test(test_param_defaults_fill_under_the_conf_and_conf_wins),
        cmocka_unit_test(test_conf_must_be_a_json_object),
        cmocka_unit_test(test_task_env_carries_conf_and_params),
        cmocka_unit_test(test_task_ids_are_selected_with_relatives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
