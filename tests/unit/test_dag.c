/*
 * test_dag.c - the DAG model and the dag-factory YAML loader.
 *
 * Diagnostics are asserted as the exact formatted text a user sees, so a
 * moved line:col or a reworded message fails here first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/dag.h"
#include "model/planner.h"

#include "helpers.h"

typedef struct loaded {
    dag_list_t dags;
    dag_diags_t diags;
    int rc;
    char *errors; /* formatted errors only */
    char *all;    /* errors and warnings */
} loaded_t;

static void load_text(loaded_t *l, const char *text)
{
    l->rc = ut_load_yaml("t.yaml", text, &l->dags, &l->diags);
    l->errors = dag_diags_format(&l->diags, false);
    l->all = dag_diags_format(&l->diags, true);
    assert_non_null(l->errors);
    assert_non_null(l->all);
}

static void loaded_free(loaded_t *l)
{
    dag_list_free(&l->dags);
    dag_diags_free(&l->diags);
    free(l->errors);
    free(l->all);
}

static const dag_t *find_dag(const loaded_t *l, const char *id)
{
    for (size_t i = 0; i < l->dags.n; i++)
        if (strcmp(l->dags.items[i]->dag_id, id) == 0)
            return l->dags.items[i];
    return NULL;
}

static const dag_task_t *task(const dag_t *d, const char *id)
{
    int i = dag_find_task(d, id);
    assert_true(i >= 0);
    return &d->tasks[i];
}

static void test_list_form_loads_every_key(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "etl:\n"
                  "  description: Daily ETL\n"
                  "  schedule: '@daily'\n"
                  "  start_date: 2024-01-01\n"
                  "  end_date: 2024-12-31 10:00:00\n"
                  "  catchup: no\n"
                  "  is_paused_upon_creation: On\n"
                  "  max_active_runs: 3\n"
                  "  tags: [etl, daily, etl]\n"
                  "  default_args:\n"
                  "    owner: data-eng\n"
                  "    retries: 2\n"
                  "  tasks:\n"
                  "    - task_id: load\n"
                  "      operator: airflow.operators.bash.BashOperator\n"
                  "      bash_command: echo load\n"
                  "      dependencies: [t1, t2]\n"
                  "    - task_id: extract\n"
                  "      operator: BashOperator\n"
                  "      bash_command: echo extract\n"
                  "      env: {TARGET: warehouse, N: 3}\n"
                  "      append_env: true\n"
                  "      retries: 0\n"
                  "      pool: etl\n"
                  "      queue: gpu\n"
                  "      priority_weight: -2\n"
                  "      execution_timeout_sec: 30\n"
                  "    - task_id: t2\n"
                  "      operator: airflow.operators.empty.EmptyOperator\n"
                  "      dependencies: [extract]\n"
                  "    - task_id: t1\n"
                  "      operator: airflow.operators.dummy_operator.DummyOperator\n"
                  "      dependencies: [extract]\n");
    assert_string_equal(l.errors, "");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.dags.n, 1);
    const dag_t *d = l.dags.items[0];
    assert_string_equal(d->dag_id, "etl");
    assert_string_equal(d->fileloc, "t.yaml");
    assert_string_equal(d->description, "Daily ETL");
    assert_string_equal(d->schedule, "@daily");
    assert_int_equal(d->start_date, INT64_C(1704067200) * TS_US_PER_SEC);
    assert_int_equal(d->end_date, INT64_C(1735639200) * TS_US_PER_SEC);
    assert_int_equal(d->catchup, 0);
    assert_int_equal(d->is_paused_upon_creation, 1);
    assert_int_equal(d->max_active_runs, 3);
    assert_int_equal(d->max_active_tasks, 16);
    assert_int_equal(d->n_tags, 2);
    assert_string_equal(d->tags[1], "daily");
    assert_string_equal(d->owner, "data-eng");
    /* topological, ties in declaration order */
    assert_int_equal(d->n_tasks, 4);
    assert_string_equal(d->tasks[0].task_id, "extract");
    assert_string_equal(d->tasks[1].task_id, "t2");
    assert_string_equal(d->tasks[2].task_id, "t1");
    assert_string_equal(d->tasks[3].task_id, "load");
    const dag_task_t *e = task(d, "extract");
    assert_int_equal(e->op, DAG_OP_BASH);
    assert_int_equal(e->retries, 0);
    assert_int_equal(e->retry_delay_sec, 300);
    assert_string_equal(e->pool, "etl");
    assert_string_equal(e->queue, "gpu");
    assert_int_equal(e->priority_weight, -2);
    assert_int_equal(e->execution_timeout_sec, 30);
    assert_true(e->append_env);
    assert_int_equal(e->n_env, 2);
    assert_string_equal(e->env[1].name, "N");
    assert_string_equal(e->env[1].value, "3");
    assert_int_equal(e->n_downstream, 2);
    assert_string_equal(e->downstream[0], "t2");
    assert_string_equal(e->downstream[1], "t1");
    assert_int_equal(e->line, 18);
    assert_int_equal(e->col, 7);
    const dag_task_t *ld = task(d, "load");
    assert_string_equal(ld->owner, "data-eng");
    assert_int_equal(ld->retries, 2);
    assert_int_equal(ld->n_upstream, 2);
    assert_string_equal(ld->upstream[0], "t1");
    assert_int_equal(task(d, "t1")->op, DAG_OP_EMPTY);
    assert_null(task(d, "t1")->bash_command);
    assert_string_equal(task(d, "t1")->trigger_rule, "all_success");
    assert_int_equal(task(d, "t1")->pool_slots, 1);
    assert_string_equal(dag_operator_name(task(d, "t2")->op), "EmptyOperator");
    loaded_free(&l);
}

static void test_mapping_form_loads_with_defaults(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "b:\n"
                  "  tasks:\n"
                  "    second:\n"
                  "      operator: bash\n"
                  "      bash_command: echo 2\n"
                  "      dependencies: [first]\n"
                  "    first:\n"
                  "      operator: empty\n");
    assert_string_equal(l.all, "");
    const dag_t *d = find_dag(&l, "b");
    assert_non_null(d);
    assert_null(d->schedule);
    assert_int_equal(d->start_date, TS_NONE);
    assert_int_equal(d->catchup, -1);
    assert_int_equal(d->is_paused_upon_creation, -1);
    assert_string_equal(d->owner, "airflow");
    assert_string_equal(d->tasks[0].task_id, "first");
    assert_string_equal(d->tasks[1].task_id, "second");
    const dag_task_t *t = &d->tasks[1];
    assert_string_equal(t->owner, "airflow");
    assert_string_equal(t->queue, "default");
    assert_string_equal(t->pool, "default_pool");
    assert_int_equal(t->retries, 0);
    assert_int_equal(t->retry_delay_sec, 300);
    assert_int_equal(t->priority_weight, 1);
    assert_int_equal(t->execution_timeout_sec, 0);
    assert_false(t->append_env);
    assert_null(t->cwd);
    assert_int_equal(t->line, 3);
    assert_int_equal(t->col, 5);
    loaded_free(&l);
}

static void test_default_block_applies_to_every_dag(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "default:\n"
                  "  schedule: '0 3 * * *'\n"
                  "  catchup: false\n"
                  "  default_args:\n"
                  "    owner: ops\n"
                  "    retries: 3\n"
                  "    start_date: 2024-02-01\n"
                  "    env: {A: '1'}\n"
                  "  tasks:\n"
                  "    shared:\n"
                  "      operator: bash\n"
                  "      bash_command: echo shared\n"
                  "one:\n"
                  "  default_args:\n"
                  "    retries: 1\n"
                  "  tasks:\n"
                  "    mine:\n"
                  "      operator: bash\n"
                  "      bash_command: echo mine\n"
                  "      dependencies: [shared]\n"
                  "    shared:\n"
                  "      retries: 5\n"
                  "two:\n"
                  "  schedule: null\n"
                  "  catchup: true\n"
                  "  tasks:\n"
                  "    - task_id: only\n"
                  "      operator: empty\n");
    assert_string_equal(l.all, "");
    const dag_t *one = find_dag(&l, "one"), *two = find_dag(&l, "two");
    assert_non_null(one);
    assert_non_null(two);
    assert_string_equal(one->schedule, "0 3 * * *");
    assert_int_equal(one->catchup, 0);
    assert_string_equal(one->owner, "ops");
    assert_int_equal(one->start_date, INT64_C(1706745600) * TS_US_PER_SEC);
    /* dict form: the DAG inherits default.tasks and overrides one field */
    assert_int_equal(one->n_tasks, 2);
    assert_int_equal(task(one, "mine")->retries, 1);
    assert_int_equal(task(one, "shared")->retries, 5);
    assert_string_equal(task(one, "shared")->bash_command, "echo shared");
    assert_string_equal(task(one, "mine")->env[0].value, "1");
    /* list form replaces default.tasks; empty tasks drop bash defaults */
    assert_null(two->schedule);
    assert_int_equal(two->catchup, 1);
    assert_int_equal(two->n_tasks, 1);
    assert_int_equal(task(two, "only")->retries, 3);
    assert_int_equal(task(two, "only")->n_env, 0);
    loaded_free(&l);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_defaults_files_merge_nearest_first(void **state)
{
    (void)state;
    char root[] = "/tmp/test_dag_XXXXXX", sub[128], path[160], tmp[160];
    assert_non_null(mkdtemp(root));
    snprintf(sub, sizeof sub, "%s/team", root);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(tmp, sizeof tmp, "%s/defaults.yml", root);
    write_file(tmp, "schedule: '@hourly'\n"
                    "max_active_runs: 2\n"
                    "tags: [zeta, base]\n"
                    "default_args:\n"
                    "  owner: root-owner\n"
                    "  retries: 4\n"
                    "  queue: q1\n");
    snprintf(tmp, sizeof tmp, "%s/defaults.yaml", sub);
    write_file(tmp, "schedule: '@daily'\n"
                    "tags: [alpha]\n"
                    "default_args:\n"
                    "  owner: team-owner\n");
    snprintf(path, sizeof path, "%s/dag.yaml", sub);
    write_file(path, "default:\n"
                     "  default_args:\n"
                     "    retries: 1\n"
                     "d:\n"
                     "  tasks:\n"
                     "    - task_id: t\n"
                     "      operator: bash\n"
                     "      bash_command: echo\n");
    dag_list_t dags;
    dag_diags_t diags;
    dag_list_init(&dags);
    dag_diags_init(&diags);
    assert_int_equal(dag_load_file(path, root, NULL, &dags, &diags), 0);
    assert_int_equal(diags.n, 0);
    assert_int_equal(dags.n, 1);
    const dag_t *d = dags.items[0];
    assert_string_equal(d->schedule, "@daily"); /* nearest wins */
    assert_int_equal(d->max_active_runs, 2);    /* from the root */
    assert_int_equal(d->n_tags, 3);             /* unioned, sorted */
    assert_string_equal(d->tags[0], "alpha");
    assert_string_equal(d->tags[1], "base");
    assert_string_equal(d->tags[2], "zeta");
    assert_string_equal(d->owner, "team-owner"); /* key by key */
    assert_string_equal(d->tasks[0].queue, "q1");
    assert_int_equal(d->tasks[0].retries, 1); /* default: wins */
    dag_list_free(&dags);

    /* root NULL: only the file's own folder */
    assert_int_equal(dag_load_file(path, NULL, NULL, &dags, &diags), 0);
    assert_int_equal(dags.items[0]->max_active_runs, 16);
    assert_string_equal(dags.items[0]->tasks[0].queue, "default");
    dag_list_free(&dags);

    /* an error in a defaults file fails every DAG below it */
    write_file(tmp, "max_active_runs: lots\n");
    assert_int_equal(dag_load_file(path, root, NULL, &dags, &diags), 1);
    assert_int_equal(dags.n, 0);
    char *s = dag_diags_format(&diags, false), want[256];
    snprintf(want, sizeof want, "%s:1:18: max_active_runs must be an integer, not 'lots'\n", tmp);
    assert_string_equal(s, want);
    free(s);
    dag_list_free(&dags);
    dag_diags_free(&diags);

    unlink(tmp);
    unlink(path);
    snprintf(tmp, sizeof tmp, "%s/defaults.yml", root);
    unlink(tmp);
    rmdir(sub);
    rmdir(root);
}

/*
 * $NAME and ${NAME} expand when core.dag_env_allowlist allows the name
 * (exactly or by PREFIX*) and it is set; anything else stays as written.
 */
static void test_allowed_env_variables_are_expanded_and_others_kept(void **state)
{
    (void)state;
    dag_list_t dags;
    dag_diags_t diags;
    setenv("DAGENV_TEST_CMD", "echo from-env", 1);
    setenv("DAGENV_TEST_ID", "env_dag", 1);
    setenv("OTHER_TEST_SET", "not-allowed", 1);
    unsetenv("DAGENV_TEST_UNSET");
    assert_int_equal(
        ut_load_yaml_env("t.yaml",
                         "${DAGENV_TEST_ID}:\n"
                         "  tasks:\n"
                         "    - task_id: a\n"
                         "      operator: bash\n"
                         "      bash_command: \"$DAGENV_TEST_CMD; echo $DAGENV_TEST_UNSET "
                         "${DAGENV_TEST_UNSET} $OTHER_TEST_SET $ $$ ${\"\n",
                         "OTHER, DAGENV_TEST_*", &dags, &diags),
        0);
    assert_int_equal(dags.n, 1);
    const dag_t *d = dags.items[0];
    assert_string_equal(d->dag_id, "env_dag");
    assert_string_equal(d->tasks[0].bash_command,
                        "echo from-env; echo $DAGENV_TEST_UNSET ${DAGENV_TEST_UNSET} "
                        "$OTHER_TEST_SET $ $$ ${");
    dag_list_free(&dags);
    dag_diags_free(&diags);
    unsetenv("DAGENV_TEST_CMD");
    unsetenv("DAGENV_TEST_ID");
    unsetenv("OTHER_TEST_SET");
}

static void test_yaml11_scalars_and_anchors_load(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "x:\n"
                  "  catchup: YES\n"
                  "  start_date: '2024-03-01T10:00:00+02:00'\n"
                  "  default_args: &da\n"
                  "    retries: 0x10\n"
                  "    retry_delay: {__type__: datetime.timedelta, minutes: 2, seconds: 5}\n"
                  "  tasks:\n"
                  "    - &base\n"
                  "      task_id: a\n"
                  "      operator: bash\n"
                  "      bash_command: echo a\n"
                  "      execution_timeout: {__type__: datetime.timedelta, hours: 1}\n"
                  "    - <<: *base\n"
                  "      task_id: b\n"
                  "      dependencies: [a]\n"
                  "y:\n"
                  "  default_args: *da\n"
                  "  tasks: [{task_id: only, operator: empty}]\n");
    assert_string_equal(l.all, "");
    const dag_t *x = find_dag(&l, "x"), *y = find_dag(&l, "y");
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(x->catchup, 1);
    assert_int_equal(x->start_date, INT64_C(1709280000) * TS_US_PER_SEC);
    assert_int_equal(task(x, "b")->retries, 16);
    assert_int_equal(task(x, "b")->retry_delay_sec, 125);
    assert_int_equal(task(x, "b")->execution_timeout_sec, 3600);
    assert_string_equal(task(x, "b")->bash_command, "echo a");
    assert_int_equal(task(x, "b")->n_upstream, 1);
    assert_int_equal(task(y, "only")->retries, 16);
    loaded_free(&l);
}

/* Each case: YAML text and the exact errors (and warnings) it produces. */
typedef struct err_case {
    const char *text;
    const char *want;
    size_t dags;
} err_case_t;

static void check_case(const err_case_t *c)
{
    loaded_t l;
    load_text(&l, c->text);
    if (strcmp(l.all, c->want) != 0)
        print_error("input:\n%s\ngot:\n%s\nwant:\n%s\n", c->text, l.all, c->want);
    assert_string_equal(l.all, c->want);
    assert_int_equal(l.dags.n, c->dags);
    assert_int_equal(l.rc, (int)dag_diags_errors(&l.diags));
    loaded_free(&l);
}

/* dag-factory's relative dates: midnight today (UTC) minus N units, as days_ago. */
static void test_relative_start_date_is_days_ago(void **state)
{
    (void)state;
    loaded_t l;
    ts_us_t day = INT64_C(86400000000);
    ts_us_t before = ts_now();
    load_text(&l, "a:\n  start_date: 2 days\n  end_date: 3 HOURS\n"
                  "  tasks: [{task_id: t, operator: empty}]\n"
                  "b:\n  default_args: {start_date: 1 day}\n"
                  "  tasks: [{task_id: t, operator: empty}]\n"
                  "c:\n  start_date: 90 seconds\n  tasks: [{task_id: t, operator: empty}]\n");
    ts_us_t after = ts_now();
    assert_string_equal(l.all, "");
    assert_int_equal(l.dags.n, 3);
    ts_us_t midnight = before - before % day;
    if (after - after % day != midnight)
        skip(); /* parsed across midnight */
    const dag_t *a = l.dags.items[0], *b = l.dags.items[1], *c = l.dags.items[2];
    assert_true(a->start_date == midnight - 2 * day);
    assert_true(a->end_date == midnight - day / 8);
    assert_true(b->start_date == midnight - day);
    assert_true(c->start_date == midnight - INT64_C(90000000));
    loaded_free(&l);
}

/* dag-factory's variables_as_arguments: kept in the spec for the worker. */
static void test_variables_as_arguments_are_kept_and_checked(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "a:\n  tasks:\n    - task_id: t\n      operator: bash\n"
                  "      bash_command: echo 1\n"
                  "      variables_as_arguments: [{variable: var1, attribute: bash_command}]\n"
                  "    - task_id: h\n      operator: http\n      http_conn_id: c\n"
                  "      variables_as_arguments: [{variable: ep, attribute: endpoint}]\n");
    assert_string_equal(l.all, "");
    assert_int_equal(l.dags.n, 1);
    cJSON *j = dag_to_json(l.dags.items[0]);
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"variables_as_arguments\":[{\"variable\":\"var1\","
                                 "\"attribute\":\"bash_command\"}]"));
    char err[128];
    dag_t *back = dag_from_json(j, err, sizeof err);
    assert_non_null(back);
    assert_true(cJSON_IsArray(task(back, "h")->var_args));
    dag_free(back);
    cJSON_free(text);
    cJSON_Delete(j);
    loaded_free(&l);

    load_text(&l,
              "a:\n  tasks:\n    - task_id: t\n      operator: bash\n"
              "      bash_command: echo 1\n"
              "      variables_as_arguments: [{variable: v, attribute: retries}, {variable: v}]\n");
    assert_string_equal(
        l.all, "t.yaml:6:57: attribute 'retries' of task 't' cannot come from a variable (use "
               "bash_command or a templated string argument of its operator)\n");
    loaded_free(&l);
    load_text(&l, "a:\n  tasks:\n    - task_id: t\n      operator: bash\n"
                  "      bash_command: echo 1\n"
                  "      variables_as_arguments: [{variable: v}]\n");
    assert_string_equal(l.all, "t.yaml:6:32: each item of variables_as_arguments of task 't' must "
                               "be a mapping with exactly the keys variable and attribute\n");
    loaded_free(&l);
}

static void test_bad_keys_are_reported_with_line_and_column(void **state)
{
    (void)state;
    static const err_case_t cases[] = {
        {"a:\n  tasks:\n    - task_id: t\n      operator: bash\n      bash_command: x\n      "
         "retries: \"abc\"\n",
         "t.yaml:6:16: retries of task 't' must be an integer, not 'abc'\n", 0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: bash\n      bash_command: x\n      "
         "run_as_group: me\n",
         "t.yaml:6:7: unknown key 'run_as_group' in task 't'\n", 0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: bash\n      bash_command: x\n      "
         "run_as_user: \"-u0\"\n",
         "t.yaml:6:20: run_as_user of task 't' must be a user name (1-64 of [A-Za-z0-9._-], not "
         "starting with '-'), not '-u0'\n",
         0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: customized.operators.MakeBreadOperator\n",
         "t.yaml:4:17: unknown operator 'customized.operators.MakeBreadOperator' in task 't' "
         "(supported: bash, empty, branch, short_circuit, latest_only, python, http, sql, "
         "trigger_dag_run, file_sensor, http_sensor, sql_sensor, external_task_sensor, "
         "time_delta_sensor, date_time_sensor, or their Airflow class names)\n",
         0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: "
         "airflow.operators.python.PythonOperator\n",
         "t.yaml:3:7: task 't': PythonOperator needs python_callable_file and python_callable_name "
         "(or python_callable: module.function)\n",
         0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: http\n      method: FETCH\n",
         "t.yaml:5:15: task 't': method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, "
         "OPTIONS\n",
         0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: http\n      filepath: /x\n",
         "t.yaml:5:7: unknown key 'filepath' in task 't' (it is not an argument of this "
         "operator)\n",
         0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: bash\n      bash_command: x\n"
         "      expand: {bash_command: ups.output}\n",
         "t.yaml:3:7: expand of task 't' refers to unknown task 'ups'\n", 0},
        {"a:\n  tasks:\n    - task_id: u\n      operator: bash\n      bash_command: x\n"
         "    - task_id: t\n      operator: bash\n      expand: {bash_command: u.output}\n",
         "t.yaml:6:7: task 't' expands over the output of 'u', which must be in its "
         "dependencies\n",
         0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: bash\n      bash_command: x\n"
         "      expand: {retries: [1, 2]}\n",
         "t.yaml:6:16: task 't' cannot expand over 'retries' (BashOperator expands over: "
         "bash_command, env)\n",
         0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: bash\n",
         "t.yaml:3:7: bash task 't' has no bash_command\n", 0},
        {"a:\n  tasks:\n    - task_id: t\n      bash_command: x\n",
         "t.yaml:3:7: task 't' has no operator\n", 0},
        {"a:\n  description: no tasks\n", "t.yaml:1:1: dag 'a' has no tasks\n", 0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: empty\n    - task_id: t\n      operator: "
         "empty\n",
         "t.yaml:5:16: duplicate task id 't' in dag 'a'\n", 0},
        {"a:\n  tasks:\n    t:\n      operator: empty\n    t:\n      operator: empty\n",
         "t.yaml:3:5: duplicate task id 't' in dag 'a'\n", 0},
        {"a:\n  tasks:\n    - task_id: t\n      operator: empty\n      dependencies: [t, nope]\n",
         "t.yaml:5:25: task 't' depends on unknown task 'nope'\n", 0},
        {"a:\n  tasks:\n    - task_id: bad id\n      operator: empty\n",
         "t.yaml:3:16: invalid task_id 'bad id': only letters, digits, '_', '.' and '-' are "
         "allowed\n",
         0},
        {"a:\n  schedule: '* * * *'\n  tasks: [{task_id: t, operator: empty}]\n", NULL,
         0}, /* message comes from cron.c; checked below */
        {"a:\n  catchup: maybe\n  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:12: catchup must be a boolean (true/false), not 'maybe'\n", 0},
        {"a:\n  start_date: 2 weeks\n  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:15: relative start_date '2 weeks' must be a whole number of days, hours, "
         "minutes or seconds (as '2 days')\n",
         0},
        {"a:\n  tasks: [{task_id: t, operator: empty, trigger_rule: one_sucess}]\n",
         "t.yaml:2:55: invalid trigger_rule 'one_sucess' in task 't' (expected all_success, "
         "all_failed, all_done, all_done_min_one_success, all_skipped, one_success, one_failed, "
         "one_done, none_failed, none_failed_min_one_success, none_skipped or always)\n",
         0},
        {"a:\n  tasks: [{task_id: t, operator: empty, trigger_rule: all_done_setup_success}]\n",
         "t.yaml:2:55: trigger_rule 'all_done_setup_success' in task 't' is not supported "
         "(setup and teardown tasks are not supported yet)\n",
         0},
        {"a:\n  tasks: [{task_id: t, operator: empty, bash_command: x}]\n",
         "t.yaml:2:41: key 'bash_command' is not valid for EmptyOperator task 't'\n", 0},
        /* warnings only: the DAG still loads */
        {"a:\n  doc: hi\n  vars: &v 1\n  tasks: [{task_id: t, operator: empty, email: x@y}]\n"
         "task_groups: {}\n",
         "t.yaml:2:3: warning: ignored key 'doc' (not supported yet)\n"
         "t.yaml:3:3: warning: unknown key 'vars' (ignored)\n"
         "t.yaml:4:41: warning: ignored key 'email' in task 't' (not supported yet)\n"
         "t.yaml:5:1: warning: top-level 'task_groups' is ignored (put task_groups under a dag or "
         "under default)\n",
         1},
        /* a broken DAG does not stop the others */
        {"bad:\n  tasks: 3\ngood:\n  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:10: tasks of dag 'bad' must be a list or a mapping, not a scalar\n", 1},
        /* an error in default: or in the YAML fails the whole file */
        {"default:\n  max_active_runs: 0\ngood:\n  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:20: max_active_runs must be between 1 and 2147483647, not 0\n", 0},
        {"good:\n  tasks: [{task_id: t, operator: empty}]\nbad: [\n",
         "t.yaml:4:1: invalid yaml: did not find expected node content while parsing a flow node "
         "at 4:1\n",
         0},
        {"a: *nope\n", "t.yaml:1:4: invalid yaml: unknown alias 'nope'\n", 0},
        {"- 1\n", "t.yaml:1:1: the top level must be a mapping of dag ids to dags, not a list\n",
         0},
        {"a: 1\na: 2\n", "t.yaml:1:1: duplicate dag id 'a'\n", 0},
        {"", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].want)
            check_case(&cases[i]);

    loaded_t l;
    load_text(&l, cases[17].text); /* the bad cron case */
    assert_int_equal(l.rc, 1);
    assert_int_equal(strncmp(l.errors, "t.yaml:2:13: ", 13), 0);
    assert_non_null(strstr(l.errors, "* * * *"));
    loaded_free(&l);
}

static void test_cycles_are_reported_with_their_path(void **state)
{
    (void)state;
    static const err_case_t cases[] = {
        {"a:\n  tasks:\n"
         "    - {task_id: x, operator: empty, dependencies: [w]}\n"
         "    - {task_id: b, operator: empty, dependencies: [a]}\n"
         "    - {task_id: c, operator: empty, dependencies: [b]}\n"
         "    - {task_id: a, operator: empty, dependencies: [c]}\n"
         "    - {task_id: w, operator: empty}\n",
         "t.yaml:4:7: dependency cycle: b -> c -> a -> b\n", 0},
        {"a:\n  tasks:\n    self: {operator: empty, dependencies: [self]}\n",
         "t.yaml:3:5: dependency cycle: self -> self\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

static void test_oversized_file_is_refused(void **state)
{
    (void)state;
    size_t n = (size_t)DAG_FILE_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '#', n);
    dag_list_t dags;
    dag_diags_t diags;
    dag_list_init(&dags);
    dag_diags_init(&diags);
    assert_int_equal(dag_load_buffer("big.yaml", big, n, NULL, &dags, &diags), 1);
    char *s = dag_diags_format(&diags, true);
    assert_string_equal(s, "big.yaml: file is larger than 4194304 bytes\n");
    free(s);
    free(big);
    dag_diags_free(&diags);
    assert_int_equal(dag_load_file("/nonexistent/x.yaml", NULL, NULL, &dags, &diags), -1);
    assert_int_equal(dag_diags_errors(&diags), 1);
    dag_diags_free(&diags);
}

static char *print_dag(const dag_t *d)
{
    cJSON *j = dag_to_json(d);
    assert_non_null(j);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(s);
    return s;
}

static void test_dag_json_round_trips(void **state)
{
    (void)state;
    loaded_t l, l2;
    static const char text[] = "rt:\n"
                               "  description: round trip\n"
                               "  schedule: '*/5 * * * *'\n"
                               "  start_date: 2024-01-01 12:30:00.25\n"
                               "  catchup: true\n"
                               "  tags: [a, b]\n"
                               "  max_active_tasks: 4\n"
                               "  tasks:\n"
                               "    - task_id: one\n"
                               "      operator: bash\n"
                               "      bash_command: \"echo 'q\\\"uote'\"\n"
                               "      env: {B: '2', A: '1'}\n"
                               "      cwd: /tmp\n"
                               "      retries: 2\n"
                               "      pool_slots: 3\n"
                               "    - task_id: two\n"
                               "      operator: empty\n"
                               "      dependencies: [one]\n";
    load_text(&l, text);
    load_text(&l2, text);
    assert_string_equal(l.all, "");
    const dag_t *d = l.dags.items[0];
    char *s1 = print_dag(d), *s2 = print_dag(l2.dags.items[0]);
    assert_string_equal(s1, s2); /* deterministic */
    assert_non_null(strstr(s1, "\"format\":1,\"dag_id\":\"rt\",\"fileloc\":\"t.yaml\""));
    assert_non_null(
        strstr(s1, "\"start_date\":\"2024-01-01T12:30:00.250000+00:00\",\"end_date\":null"));
    assert_non_null(strstr(s1, "\"task_order\":[\"one\",\"two\"]"));
    assert_non_null(strstr(s1, "\"env\":{\"B\":\"2\",\"A\":\"1\"}"));

    char err[256] = "";
    cJSON *j = cJSON_Parse(s1);
    assert_non_null(j);
    dag_t *back = dag_from_json(j, err, sizeof err);
    cJSON_Delete(j);
    assert_non_null(back);
    assert_string_equal(back->dag_id, "rt");
    assert_string_equal(back->description, "round trip");
    assert_string_equal(back->schedule, "*/5 * * * *");
    assert_int_equal(back->start_date, d->start_date);
    assert_int_equal(back->end_date, TS_NONE);
    assert_int_equal(back->catchup, 1);
    assert_int_equal(back->is_paused_upon_creation, -1);
    assert_int_equal(back->max_active_tasks, 4);
    assert_int_equal(back->n_tasks, 2);
    assert_string_equal(back->tasks[0].bash_command, "echo 'q\"uote'");
    assert_string_equal(back->tasks[0].cwd, "/tmp");
    assert_int_equal(back->tasks[0].pool_slots, 3);
    assert_int_equal(back->tasks[1].op, DAG_OP_EMPTY);
    assert_string_equal(back->tasks[1].upstream[0], "one");
    assert_string_equal(back->tasks[0].downstream[0], "two");
    char *s3 = print_dag(back);
    assert_string_equal(s1, s3);
    dag_free(back);
    free(s1);
    free(s2);
    free(s3);
    loaded_free(&l);
    loaded_free(&l2);

    static const char *const bad[] = {
        "[]",
        "{\"format\":2,\"dag_id\":\"x\",\"task_order\":[],\"tasks\":{}}",
        "{\"format\":1,\"task_order\":[],\"tasks\":{}}",
        "{\"format\":1,\"dag_id\":\"x\",\"task_order\":[\"a\"],\"tasks\":{}}",
        "{\"format\":1,\"dag_id\":\"x\",\"task_order\":[\"a\"],\"tasks\":{\"a\":{\"operator\":"
        "\"Nope\"}}}",
        "{\"format\":1,\"dag_id\":\"x\",\"task_order\":[\"a\"],\"tasks\":{\"a\":{\"operator\":"
        "\"EmptyOperator\",\"upstream_task_ids\":[\"z\"]}}}",
        "{\"format\":1,\"dag_id\":\"x\",\"catchup\":\"yes\",\"task_order\":[],\"tasks\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *b = cJSON_Parse(bad[i]);
        assert_non_null(b);
        err[0] = '\0';
        assert_null(dag_from_json(b, err, sizeof err));
        assert_true(err[0] != '\0');
        cJSON_Delete(b);
    }
}

/* ---- task groups ---- */

static const char groups_text[] =
    "tg:\n"
    "  default_args: {retries: 1, owner: dag}\n"
    "  task_groups:\n"
    "    - group_name: outer\n"
    "      tooltip: the outer group\n"
    "      default_args: {retries: 2, pool: p1}\n"
    "      dependencies: [start]\n"
    "    - group_name: inner\n"
    "      parent_group_name: outer\n"
    "      default_args: {retries: 3}\n"
    "    - group_name: flat\n"
    "      prefix_group_id: false\n"
    "  tasks:\n"
    "    - {task_id: start, operator: empty}\n"
    "    - {task_id: a, operator: empty, task_group_name: outer}\n"
    "    - {task_id: b, operator: empty, task_group_name: inner}\n"
    "    - {task_id: c, operator: empty, task_group_name: inner, dependencies: [b], retries: 5}\n"
    "    - {task_id: d, operator: empty, task_group_name: flat, dependencies: [outer]}\n"
    "    - {task_id: end, operator: empty, dependencies: [flat, a]}\n";

static void assert_upstream(const dag_task_t *t, const char *joined)
{
    char buf[512] = "";
    for (size_t i = 0; i < t->n_upstream; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, t->upstream[i]);
    }
    assert_string_equal(buf, joined);
}

static void test_task_groups_prefix_ids_and_inherit_args(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, groups_text);
    assert_string_equal(l.all, "");
    const dag_t *d = find_dag(&l, "tg");
    assert_non_null(d);
    assert_int_equal(d->n_tasks, 6);
    /* ids prefixed as Airflow's TaskGroup.child_id does */
    assert_int_equal(dag_find_task(d, "a"), -1);
    assert_null(task(d, "start")->task_group);
    assert_string_equal(task(d, "outer.a")->task_group, "outer");
    assert_string_equal(task(d, "outer.inner.b")->task_group, "outer.inner");
    assert_string_equal(task(d, "outer.inner.c")->task_group, "outer.inner");
    assert_string_equal(task(d, "d")->task_group, "flat");
    /* outer depends on start: start -> every root of outer */
    assert_upstream(task(d, "outer.a"), "start");
    assert_upstream(task(d, "outer.inner.b"), "start");
    assert_upstream(task(d, "outer.inner.c"), "outer.inner.b");
    /* d depends on outer: every leaf of outer (b is not one: c follows it) */
    assert_upstream(task(d, "d"), "outer.a,outer.inner.c");
    assert_upstream(task(d, "end"), "outer.a,d");
    /* default_args: the DAG's, then each enclosing group's, then the task's own */
    assert_int_equal(task(d, "start")->retries, 1);
    assert_int_equal(task(d, "outer.a")->retries, 2);
    assert_string_equal(task(d, "outer.a")->pool, "p1");
    assert_string_equal(task(d, "outer.a")->owner, "dag");
    assert_int_equal(task(d, "outer.inner.b")->retries, 3);
    assert_string_equal(task(d, "outer.inner.b")->pool, "p1");
    assert_int_equal(task(d, "outer.inner.c")->retries, 5);
    assert_int_equal(task(d, "d")->retries, 1);
    assert_string_equal(task(d, "d")->pool, "default_pool");
    /* the groups, parents first */
    assert_int_equal(d->n_groups, 3);
    assert_string_equal(d->groups[0].group_id, "outer");
    assert_string_equal(d->groups[0].tooltip, "the outer group");
    assert_null(d->groups[0].parent_id);
    assert_string_equal(d->groups[1].group_id, "outer.inner");
    assert_string_equal(d->groups[1].label, "inner");
    assert_string_equal(d->groups[1].parent_id, "outer");
    assert_string_equal(d->groups[1].tooltip, "");
    assert_true(d->groups[1].prefix_group_id);
    assert_string_equal(d->groups[2].group_id, "flat");
    assert_false(d->groups[2].prefix_group_id);
    assert_int_equal(dag_find_group(d, "outer.inner"), 1);
    assert_int_equal(dag_find_group(d, "inner"), -1);
    loaded_free(&l);

    /* mapping form; a child of a group that does not prefix is not prefixed by it */
    load_text(&l, "m:\n"
                  "  task_groups:\n"
                  "    p:\n"
                  "      prefix_group_id: false\n"
                  "    q:\n"
                  "      parent_group_name: p\n"
                  "  tasks:\n"
                  "    x: {operator: empty, task_group_name: q}\n"
                  "    y: {operator: empty, dependencies: [p]}\n");
    assert_string_equal(l.all, "");
    d = find_dag(&l, "m");
    assert_non_null(d);
    assert_string_equal(d->groups[1].group_id, "q");
    assert_string_equal(task(d, "q.x")->task_group, "q");
    assert_upstream(task(d, "y"), "q.x");
    loaded_free(&l);

    /* Group edges inside a group are in place before the group's leaves
     * are taken: s1 -> s2 makes b the only leaf of g. */
    load_text(&l, "n:\n"
                  "  task_groups:\n"
                  "    - {group_name: g}\n"
                  "    - {group_name: s1, parent_group_name: g}\n"
                  "    - {group_name: s2, parent_group_name: g, dependencies: [s1]}\n"
                  "    - {group_name: empty_one}\n"
                  "  tasks:\n"
                  "    - {task_id: z, operator: empty, dependencies: [g, empty_one]}\n"
                  "    - {task_id: a, operator: empty, task_group_name: s1}\n"
                  "    - {task_id: b, operator: empty, task_group_name: s2}\n");
    assert_string_equal(l.all, "t.yaml:8:55: warning: task group 'empty_one' has no tasks, "
                               "this dependency does nothing\n");
    d = find_dag(&l, "n");
    assert_non_null(d);
    assert_upstream(task(d, "g.s2.b"), "g.s1.a");
    assert_upstream(task(d, "z"), "g.s2.b");
    assert_string_equal(d->tasks[d->n_tasks - 1].task_id, "z"); /* topological order */
    loaded_free(&l);

    /* task_groups from the file's default: block, mapping form merged by key */
    load_text(&l, "default:\n"
                  "  task_groups:\n"
                  "    g: {tooltip: from default}\n"
                  "x:\n"
                  "  task_groups:\n"
                  "    g: {default_args: {retries: 4}}\n"
                  "  tasks: [{task_id: t, operator: empty, task_group_name: g}]\n");
    assert_string_equal(l.all, "");
    d = find_dag(&l, "x");
    assert_non_null(d);
    assert_string_equal(d->groups[0].tooltip, "from default");
    assert_int_equal(task(d, "g.t")->retries, 4);
    loaded_free(&l);
}

static void test_bad_task_groups_are_reported(void **state)
{
    (void)state;
    static const err_case_t cases[] = {
        {"a:\n  tasks: [{task_id: t, operator: empty, task_group_name: nope}]\n",
         "t.yaml:2:58: task 't' is in unknown task group 'nope'\n", 0},
        {"a:\n  task_groups: [{group_name: g, parent_group_name: p}]\n"
         "  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:52: task group 'g' has unknown parent group 'p'\n", 0},
        {"a:\n  task_groups:\n    x: {parent_group_name: y}\n    y: {parent_group_name: x}\n"
         "  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:3:5: task group parent cycle in dag 'a': x -> y -> x\n", 0},
        {"a:\n  task_groups: [{group_name: g1}, {group_name: g2}]\n"
         "  tasks: [{task_id: t, operator: empty, task_group_name: [g1, g2]}]\n",
         "t.yaml:3:58: task 't' is put in several task groups (a task is in one task group)\n", 0},
        {"a:\n  task_groups: [{group_name: g}]\n"
         "  tasks:\n    - {task_id: g.x, operator: empty}\n"
         "    - {task_id: x, operator: empty, task_group_name: g}\n",
         "t.yaml:5:17: duplicate task id 'g.x' in dag 'a' (with its task group prefix)\n", 0},
        {"a:\n  task_groups: [{group_name: g, dependencies: [t]}]\n"
         "  tasks:\n    - {task_id: x, operator: empty, task_group_name: g}\n"
         "    - {task_id: t, operator: empty, dependencies: [g]}\n",
         "t.yaml:4:7: dependency cycle: g.x -> t -> g.x\n", 0},
        {"a:\n  task_groups: [{group_name: g}]\n"
         "  tasks: [{task_id: x, operator: empty, task_group_name: g, dependencies: [g]}]\n",
         "t.yaml:3:76: task 'x' cannot depend on task group 'g' around it\n", 0},
        {"a:\n  task_groups: [{group_name: g, dependencies: [x]}]\n"
         "  tasks: [{task_id: x, operator: empty, task_group_name: g}]\n",
         "t.yaml:2:48: task group 'g' cannot depend on 'x' inside it\n", 0},
        {"a:\n  task_groups: [{group_name: g}]\n"
         "  tasks: [{task_id: x, operator: empty, dependencies: [h]}]\n",
         "t.yaml:3:56: task 'x' depends on unknown task or task group 'h'\n", 0},
        {"a:\n  task_groups: [{group_name: g, colour: red, ui_color: red}]\n"
         "  tasks: [{task_id: x, operator: empty}]\n",
         "t.yaml:2:33: unknown key 'colour' in task group 'g'\n"
         "t.yaml:2:46: warning: ignored key 'ui_color' in task group 'g' (not supported yet)\n",
         0},
        {"a:\n  task_groups: [{group_name: a.b}]\n  tasks: [{task_id: x, operator: empty}]\n",
         "t.yaml:2:30: invalid task group name 'a.b': only letters, digits, '_' and '-' are "
         "allowed\n",
         0},
        {"a:\n  task_groups: [{group_name: g, default_args: {retries: x}}]\n"
         "  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:57: retries of default_args of task group 'g' must be an integer, not 'x'\n", 0},
        {"a:\n  task_groups: [{group_name: x}]\n  tasks: [{task_id: x, operator: empty}]\n",
         "t.yaml:3:21: task 'x' has the same name as a task group in dag 'a'\n", 0},
        {"a:\n  task_groups: [{group_name: g}, {group_name: g}]\n  tasks: [{task_id: x, operator: "
         "empty}]\n",
         "t.yaml:2:47: duplicate task group 'g' in dag 'a'\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

static void test_task_groups_round_trip_through_json(void **state)
{
    (void)state;
    loaded_t l;
    char err[256] = "";
    load_text(&l, groups_text);
    const dag_t *d = find_dag(&l, "tg");
    assert_non_null(d);
    char *s1 = print_dag(d);
    assert_non_null(strstr(s1, "\"task_group\":\"outer.inner\""));
    assert_non_null(strstr(s1, "\"task_groups\":[{\"group_id\":\"outer\",\"label\":\"outer\","
                               "\"tooltip\":\"the outer group\",\"prefix_group_id\":true,"
                               "\"task_ids\":[\"outer.a\"],\"children\":[{\"group_id\":"
                               "\"outer.inner\",\"label\":\"inner\""));
    cJSON *j = cJSON_Parse(s1);
    assert_non_null(j);
    dag_t *back = dag_from_json(j, err, sizeof err);
    cJSON_Delete(j);
    assert_non_null(back);
    assert_int_equal(back->n_groups, 3);
    assert_string_equal(back->groups[1].parent_id, "outer");
    assert_false(back->groups[2].prefix_group_id);
    assert_string_equal(back->tasks[dag_find_task(back, "d")].task_group, "flat");
    char *s2 = print_dag(back);
    assert_string_equal(s1, s2);
    dag_free(back);
    free(s1);
    free(s2);
    loaded_free(&l);

    /* a DAG without groups prints neither key */
    load_text(&l, "p:\n  tasks: [{task_id: t, operator: empty}]\n");
    s1 = print_dag(l.dags.items[0]);
    assert_null(strstr(s1, "task_group"));
    free(s1);
    loaded_free(&l);

    static const char *const bad[] = {
        "{\"format\":1,\"dag_id\":\"x\",\"task_order\":[\"a\"],\"tasks\":{\"a\":{\"operator\":"
        "\"EmptyOperator\",\"task_group\":\"g\"}}}",
        "{\"format\":1,\"dag_id\":\"x\",\"task_order\":[],\"tasks\":{},\"task_groups\":"
        "[{\"group_id\":\"g\"},{\"group_id\":\"g\"}]}",
        "{\"format\":1,\"dag_id\":\"x\",\"task_order\":[],\"tasks\":{},\"task_groups\":[3]}",
        "{\"format\":1,\"dag_id\":\"x\",\"task_order\":[],\"tasks\":{},\"task_groups\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *b = cJSON_Parse(bad[i]);
        assert_non_null(b);
        err[0] = '\0';
        assert_null(dag_from_json(b, err, sizeof err));
        assert_true(err[0] != '\0');
        cJSON_Delete(b);
    }
}

/* ---- trigger rules ---- */

static void test_every_trigger_rule_loads(void **state)
{
    (void)state;
    static const char *const rules[] = {
        "all_success",  "all_failed",  "all_done",
        "all_skipped",  "one_success", "one_failed",
        "one_done",     "none_failed", "none_failed_min_one_success",
        "none_skipped", "always"};
    char text[256];
    loaded_t l;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        snprintf(text, sizeof text,
                 "a:\n  tasks:\n    - {task_id: u, operator: empty}\n"
                 "    - {task_id: t, operator: empty, dependencies: [u], trigger_rule: %s}\n",
                 rules[i]);
        load_text(&l, text);
        assert_string_equal(l.all, "");
        assert_string_equal(task(l.dags.items[0], "t")->trigger_rule, rules[i]);
        loaded_free(&l);
    }
    /* Airflow's deprecated names are renamed, as BaseOperator does */
    load_text(&l, "a:\n  default_args: {trigger_rule: dummy}\n"
                  "  tasks: [{task_id: t, operator: empty, trigger_rule: none_failed_or_skipped},\n"
                  "          {task_id: u, operator: empty}]\n");
    assert_string_equal(
        l.all, "t.yaml:2:32: warning: trigger_rule 'dummy' is deprecated, 'always' is used\n"
               "t.yaml:3:55: warning: trigger_rule 'none_failed_or_skipped' is "
               "deprecated, 'none_failed_min_one_success' is used\n");
    assert_string_equal(task(l.dags.items[0], "t")->trigger_rule, "none_failed_min_one_success");
    assert_string_equal(task(l.dags.items[0], "u")->trigger_rule, "always");
    loaded_free(&l);
    /* all_done_min_one_success (Airflow 3.1) loads once the planner evaluates it */
    load_text(
        &l,
        "a:\n  tasks: [{task_id: t, operator: empty, trigger_rule: all_done_min_one_success}]\n");
    if (planner_trigger_rule_known("all_done_min_one_success")) {
        assert_string_equal(l.all, "");
        assert_string_equal(task(l.dags.items[0], "t")->trigger_rule, "all_done_min_one_success");
    } else {
        assert_string_equal(l.all, "t.yaml:2:55: trigger_rule 'all_done_min_one_success' in task "
                                   "'t' is not supported yet\n");
    }
    loaded_free(&l);
}

/* do_xcom_push: a boolean, default true, in the JSON only when false. */
static void test_do_xcom_push_defaults_true(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "a:\n  default_args: {do_xcom_push: false}\n"
                  "  tasks:\n    - {task_id: quiet, operator: empty}\n"
                  "    - {task_id: loud, operator: empty, do_xcom_push: true}\n");
    assert_string_equal(l.all, "");
    const dag_t *d = l.dags.items[0];
    assert_true(task(d, "quiet")->no_xcom_push);
    assert_false(task(d, "loud")->no_xcom_push);
    cJSON *j = dag_to_json(d);
    assert_non_null(j);
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(j, "tasks");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(tasks, "quiet");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(tasks, "loud");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(q, "do_xcom_push")));
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "do_xcom_push")); /* default: not written */
    char err[256];
    dag_t *back = dag_from_json(j, err, sizeof err);
    assert_non_null(back);
    assert_true(task(back, "quiet")->no_xcom_push);
    assert_false(task(back, "loud")->no_xcom_push);
    dag_free(back);
    cJSON_Delete(j);
    loaded_free(&l);
    load_text(&l, "a:\n  tasks: [{task_id: t, operator: empty, do_xcom_push: maybe}]\n");
    assert_int_not_equal(l.rc, 0);
    assert_non_null(strstr(l.errors, "must be a boolean"));
    loaded_free(&l);
}

/*
 * run_as_user (any operator, Airflow's BaseOperator argument): from
 * default_args or the task, null to undo a default; in the JSON only when
 * set, so that other DAGs keep their bytes.
 */
static void test_run_as_user_loads_and_round_trips(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "a:\n  default_args: {run_as_user: etl}\n"
                  "  tasks:\n    - {task_id: dflt, operator: bash, bash_command: x}\n"
                  "    - {task_id: own, operator: http, run_as_user: web.svc-1}\n"
                  "    - {task_id: none, operator: empty, run_as_user: null}\n");
    assert_string_equal(l.all, "");
    const dag_t *d = l.dags.items[0];
    assert_string_equal(task(d, "dflt")->run_as_user, "etl");
    assert_string_equal(task(d, "own")->run_as_user, "web.svc-1");
    assert_null(task(d, "none")->run_as_user);
    cJSON *j = dag_to_json(d);
    assert_non_null(j);
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(j, "tasks");
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tasks, "none"),
                                                 "run_as_user"));
    char err[256];
    dag_t *back = dag_from_json(j, err, sizeof err);
    assert_non_null(back);
    assert_string_equal(task(back, "dflt")->run_as_user, "etl");
    assert_string_equal(task(back, "own")->run_as_user, "web.svc-1");
    assert_null(task(back, "none")->run_as_user);
    dag_free(back);
    cJSON_Delete(j);
    loaded_free(&l);
    load_text(&l, "a:\n  tasks: [{task_id: t, operator: empty, run_as_user: \"a b\"}]\n");
    assert_int_not_equal(l.rc, 0);
    assert_non_null(strstr(l.errors, "run_as_user of task 't' must be a user name"));
    loaded_free(&l);
}

/*
 * doc_md on the DAG and on tasks (default_args too), null to undo a
 * default, DAG_DOC_MAX bytes at most; in the JSON only when set, so that
 * other DAGs keep their bytes (and their version's hash).
 */
static void test_doc_md_loads_and_round_trips(void **state)
{
    (void)state;
    loaded_t l;
    load_text(&l, "a:\n  doc_md: \"## Title\\n<img src=x onerror=alert(1)>\"\n"
                  "  default_args: {doc_md: shared}\n"
                  "  tasks:\n    - {task_id: dflt, operator: empty}\n"
                  "    - {task_id: own, operator: bash, bash_command: x, doc_md: '**own**'}\n"
                  "    - {task_id: none, operator: empty, doc_md: null}\n"
                  "b:\n  tasks: [{task_id: t, operator: empty}]\n");
    assert_string_equal(l.all, "");
    const dag_t *d = find_dag(&l, "a");
    assert_non_null(d);
    assert_string_equal(d->doc_md, "## Title\n<img src=x onerror=alert(1)>");
    assert_string_equal(task(d, "dflt")->doc_md, "shared");
    assert_string_equal(task(d, "own")->doc_md, "**own**");
    assert_null(task(d, "none")->doc_md);
    cJSON *j = dag_to_json(d);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "doc_md")->valuestring,
                        "## Title\n<img src=x onerror=alert(1)>");
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(j, "tasks");
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tasks, "none"),
                                                 "doc_md"));
    char err[256];
    dag_t *back = dag_from_json(j, err, sizeof err);
    assert_non_null(back);
    assert_string_equal(back->doc_md, d->doc_md);
    assert_string_equal(task(back, "own")->doc_md, "**own**");
    assert_null(task(back, "none")->doc_md);
    dag_free(back);
    cJSON_Delete(j);
    /* a DAG without doc_md has no key at all */
    j = dag_to_json(find_dag(&l, "b"));
    assert_non_null(j);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "doc_md"));
    assert_null(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "tasks"), "t"),
        "doc_md"));
    cJSON_Delete(j);
    loaded_free(&l);

    static const err_case_t cases[] = {
        {"a:\n  doc_md: [x]\n  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:11: doc_md must be a string, not a list\n", 0},
        {"a:\n  tasks: [{task_id: t, operator: empty, doc_md: {x: 1}}]\n",
         "t.yaml:2:49: doc_md of task 't' must be a string, not a mapping\n", 0},
        {"a:\n  doc_md_file_path: x.md\n  tasks: [{task_id: t, operator: empty}]\n",
         "t.yaml:2:21: doc_md_file_path can only be read for a DAG file\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);

    /* DAG_DOC_MAX bytes load; one more is an error at the value */
    size_t n = DAG_DOC_MAX + 1;
    char *big = malloc(n + 64), *text = malloc(n + 128);
    assert_non_null(big);
    assert_non_null(text);
    memset(big, 'x', n);
    big[n] = '\0';
    snprintf(text, n + 128, "a:\n  tasks: [{task_id: t, operator: empty}]\n  doc_md: %s\n", big);
    load_text(&l, text);
    assert_int_equal(l.rc, 1);
    assert_string_equal(l.errors, "t.yaml:3:11: doc_md is longer than 65536 bytes\n");
    loaded_free(&l);
    big[n - 1] = '\0';
    snprintf(text, n + 128, "a:\n  tasks: [{task_id: t, operator: empty}]\n  doc_md: %s\n", big);
    load_text(&l, text);
    assert_int_equal(l.rc, 0);
    assert_int_equal(strlen(l.dags.items[0]->doc_md), DAG_DOC_MAX);
    loaded_free(&l);
    free(big);
    free(text);
}

/* tmpl with each '@' replaced by at, into dst (cut to len). */
static void subst_at(char *dst, size_t len, const char *tmpl, const char *at)
{
    size_t n = 0;
    for (; *tmpl && n + 1 < len; tmpl++) {
        if (*tmpl != '@') {
            dst[n++] = *tmpl;
            continue;
        }
        for (const char *a = at; *a && n + 1 < len; a++)
            dst[n++] = *a;
    }
    dst[n] = '\0';
}

/*
 * doc_md_file_path: the file's text becomes doc_md; relative to the DAG
 * file; only inside the DAGs folder (symbolic links resolved), UTF-8,
 * DAG_DOC_MAX bytes at most; each refusal at the value's line:col.
 */
static void test_doc_md_file_path_reads_inside_the_folder_only(void **state)
{
    (void)state;
    char root[] = "/tmp/test_doc_XXXXXX", outside[] = "/tmp/test_doc_out_XXXXXX";
    char path[160], doc[160], far[160], link[160], big[160], bin[160];
    assert_non_null(mkdtemp(root));
    assert_non_null(mkdtemp(outside));
    snprintf(path, sizeof path, "%s/d.yaml", root);
    snprintf(doc, sizeof doc, "%s/readme.md", root);
    snprintf(far, sizeof far, "%s/secret.md", outside);
    snprintf(link, sizeof link, "%s/link.md", root);
    snprintf(big, sizeof big, "%s/big.md", root);
    snprintf(bin, sizeof bin, "%s/bin.md", root);
    write_file(doc, "# Readme\n");
    write_file(far, "secret\n");
    assert_int_equal(symlink(far, link), 0);
    write_file(bin, "a\377b\n");
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    for (int i = 0; i <= DAG_DOC_MAX; i++)
        fputc('x', f);
    assert_int_equal(fclose(f), 0);

    static const struct {
        const char *value; /* doc_md_file_path as written ('@': the outside folder) */
        const char *error; /* NULL: loads, doc_md "# Readme\n" */
    } cases[] = {
        {"readme.md", NULL},
        {NULL, NULL}, /* absolute, inside the folder (built below) */
        {"@/secret.md", "doc_md_file_path '@/secret.md' is not inside the DAGs folder"},
        {"link.md", "doc_md_file_path 'link.md' is not inside the DAGs folder"},
        {"nope.md", "doc_md_file_path 'nope.md': No such file or directory"},
        {"big.md", "doc_md_file_path 'big.md' is larger than 65536 bytes"},
        {"bin.md", "doc_md_file_path 'bin.md' is not UTF-8 text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char value[320], text[512], error[400];
        if (!cases[i].value)
            snprintf(value, sizeof value, "%s/../%s/readme.md", root, strrchr(root, '/') + 1);
        else
            subst_at(value, sizeof value, cases[i].value, outside);
        snprintf(text, sizeof text,
                 "d:\n  doc_md: ignored\n  doc_md_file_path: '%s'\n"
                 "  tasks: [{task_id: t, operator: empty}]\n",
                 value);
        write_file(path, text);
        dag_list_t dags;
        dag_diags_t diags;
        dag_list_init(&dags);
        dag_diags_init(&diags);
        int rc = dag_load_file(path, root, NULL, &dags, &diags);
        char *got = dag_diags_format(&diags, true);
        assert_non_null(got);
        if (!cases[i].error) {
            assert_string_equal(got, "");
            assert_int_equal(rc, 0);
            assert_string_equal(dags.items[0]->doc_md, "# Readme\n");
        } else {
            subst_at(error, sizeof error, cases[i].error, outside);
            size_t pl = strlen(path);
            assert_true(strncmp(got, path, pl) == 0);
            assert_true(strncmp(got + pl, ":3:21: ", 7) == 0);
            assert_string_equal(got + pl + 7, strcat(error, "\n"));
            assert_int_equal(rc, 1);
            assert_int_equal(dags.n, 0);
        }
        free(got);
        dag_list_free(&dags);
        dag_diags_free(&diags);
    }
    unlink(path);
    unlink(doc);
    unlink(link);
    unlink(big);
    unlink(bin);
    unlink(far);
    rmdir(root);
    rmdir(outside);
}

static void test_only_yaml_files_that_are_not_defaults_are_dag_files(void **state)
{
    (void)state;
    assert_true(dag_is_dag_file("etl.yaml"));
    assert_true(dag_is_dag_file("/srv/dags/etl.yml"));
    assert_false(dag_is_dag_file("/srv/dags/defaults.yml"));
    assert_false(dag_is_dag_file("defaults.yaml"));
    assert_false(dag_is_dag_file("etl.yaml.bak"));
    assert_false(dag_is_dag_file("etl.py"));
    assert_false(dag_is_dag_file(".#etl.yaml"));
    assert_false(dag_is_dag_file(".yaml"));
}

static void test_example_dags_load_cleanly(void **state)
{
    (void)state;
    static const char *const files[] = {
        "examples/dags/example_etl.yaml", "examples/dags/example_retry.yaml",
        "examples/dags/example_hello.yaml", "examples/dags/example_task_groups.yaml",
        "examples/dags/example_trigger_rules.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        dag_list_t dags;
        dag_diags_t diags;
        if (access(files[i], R_OK) != 0)
            skip(); /* run from the repository root */
        dag_list_init(&dags);
        dag_diags_init(&diags);
        assert_int_equal(
            dag_load_file(files[i], "examples/dags", "CONFIG_ROOT_DIR,AIRFLOW_HOME", &dags, &diags),
            0);
        assert_int_equal(diags.n, 0);
        assert_int_equal(dags.n, 1);
        dag_list_free(&dags);
        dag_diags_free(&diags);
    }
}

/* Operator arguments, mapping, depends_on_past and alerts survive serialization. */
static void test_operator_fields_survive_serialization(void **state)
{
    (void)state;
    loaded_t l;
    load_text(
        &l,
        "a:\n"
        "  on_failure_callback:\n"
        "    callback: airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier\n"
        "    slack_webhook_conn_id: ops\n"
        "    text: \"{{ dag.dag_id }} failed\"\n"
        "  default_args: {poke_interval: 7, on_retry_alert: {webhook: hook, channel: \"#c\"}}\n"
        "  tasks:\n"
        "    - {task_id: up, operator: bash, bash_command: \"echo '[1]'\"}\n"
        "    - task_id: s\n"
        "      operator: airflow.sensors.filesystem.FileSensor\n"
        "      filepath: /tmp/x\n"
        "      mode: reschedule\n"
        "      timeout: {__type__: datetime.timedelta, minutes: 2}\n"
        "      depends_on_past: true\n"
        "      sla: 60\n"
        "    - task_id: m\n"
        "      operator: bash\n"
        "      partial: {bash_command: \"echo $X\"}\n"
        "      expand: {env: up.output}\n"
        "      dependencies: [up]\n");
    assert_string_equal(l.all, "");
    assert_int_equal(l.dags.n, 1);
    cJSON *j = dag_to_json(l.dags.items[0]);
    char err[256];
    dag_t *back = dag_from_json(j, err, sizeof err);
    assert_non_null(back);
    const dag_task_t *s = task(back, "s"), *m = task(back, "m"), *up = task(back, "up");
    assert_int_equal(s->op, DAG_OP_FILE_SENSOR);
    assert_true(s->depends_on_past);
    assert_int_equal(s->sla_sec, 60);
    assert_string_equal(cJSON_GetObjectItem(s->args, "mode")->valuestring, "reschedule");
    assert_int_equal((int)cJSON_GetObjectItem(s->args, "timeout")->valuedouble, 120);
    assert_int_equal((int)cJSON_GetObjectItem(s->args, "poke_interval")->valuedouble, 7);
    assert_null(up->args); /* bash takes no poke_interval: not applied */
    assert_string_equal(m->bash_command, "echo $X");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(m->expand, "env"), "xcom_task")->valuestring, "up");
    const cJSON *retry = cJSON_GetObjectItem(s->alerts, "retry");
    assert_int_equal(cJSON_GetArraySize(retry), 1);
    assert_string_equal(cJSON_GetObjectItem(retry->child, "kind")->valuestring, "webhook");
    assert_string_equal(cJSON_GetObjectItem(retry->child, "channel")->valuestring, "#c");
    const cJSON *df = cJSON_GetObjectItem(back->alerts, "failure");
    assert_string_equal(cJSON_GetObjectItem(df->child, "conn_id")->valuestring, "ops");
    assert_string_equal(cJSON_GetObjectItem(df->child, "text")->valuestring,
                        "{{ dag.dag_id }} failed");
    dag_free(back);
    cJSON_Delete(j);
    loaded_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_form_loads_every_key),
        cmocka_unit_test(test_mapping_form_loads_with_defaults),
        cmocka_unit_test(test_default_block_applies_to_every_dag),
        cmocka_unit_test(test_defaults_files_merge_nearest_first),
        cmocka_unit_test(test_allowed_env_variables_are_expanded_and_others_kept),
        cmocka_unit_test(test_yaml11_scalars_and_anchors_load),
        cmocka_unit_test(test_relative_start_date_is_days_ago),
        cmocka_unit_test(test_variables_as_arguments_are_kept_and_checked),
        cmocka_unit_test(test_bad_keys_are_reported_with_line_and_column),
        cmocka_unit_test(test_cycles_are_reported_with_their_path),
        cmocka_unit_test(test_oversized_file_is_refused),
        cmocka_unit_test(test_dag_json_round_trips),
        cmocka_unit_test(test_doc_md_loads_and_round_trips),
        cmocka_unit_test(test_doc_md_file_path_reads_inside_the_folder_only),
        cmocka_unit_test(test_only_yaml_files_that_are_not_defaults_are_dag_files),
        cmocka_unit_test(test_example_dags_load_cleanly),
        cmocka_unit_test(test_task_groups_prefix_ids_and_inherit_args),
        cmocka_unit_test(test_bad_task_groups_are_reported),
        cmocka_unit_test(test_task_groups_round_trip_through_json),
        cmocka_unit_test(test_every_trigger_rule_loads),
        cmocka_unit_test(test_do_xcom_push_defaults_true),
        cmocka_unit_test(test_run_as_user_loads_and_round_trips),
        cmocka_unit_test(test_operator_fields_survive_serialization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
