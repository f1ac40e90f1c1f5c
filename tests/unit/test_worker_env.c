/*
 * test_worker_env.c - the pure parts of the worker: a task's environment
 * (model/taskenv.c) and the per-try log buffer (worker/logbuf.h, linked
 * from libworker).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "model/taskenv.h"
#include "core/utf8.h"
#include "worker/logbuf.h"

static char *base_env[] = {"PATH=/usr/bin:/bin", "HOME=/root", "TARGET=old", "NOEQUALS", NULL};

static taskenv_ctx_t ctx_example(void)
{
    taskenv_ctx_t c = {.dag_id = "etl",
                       .task_id = "extract",
                       .run_id = "manual__2024-01-01T00:00:00+00:00",
                       .owner = "data-eng",
                       .try_number = 2,
                       .map_index = -1,
                       .logical_date = INT64_C(1704067200) * TS_US_PER_SEC};
    return c;
}

static size_t env_count(char **envp, const char *name)
{
    size_t n = 0, l = strlen(name);
    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], name, l) == 0 && envp[i][l] == '=')
            n++;
    return n;
}

static void test_inherit_without_env(void **state)
{
    (void)state;
    char err[256];
    taskenv_ctx_t c = ctx_example();
    char **e = taskenv_build(base_env, NULL, 0, false, false, &c, err, sizeof(err));
    assert_non_null(e);
    assert_string_equal(taskenv_get(e, "HOME"), "/root");
    assert_string_equal(taskenv_get(e, "PATH"), "/usr/bin:/bin");
    assert_null(taskenv_get(e, "NOEQUALS"));
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_DAG_ID"), "etl");
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_TASK_ID"), "extract");
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_DAG_RUN_ID"),
                        "manual__2024-01-01T00:00:00+00:00");
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_TRY_NUMBER"), "2");
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_LOGICAL_DATE"), "2024-01-01T00:00:00+00:00");
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_EXECUTION_DATE"), "2024-01-01T00:00:00+00:00");
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_DAG_OWNER"), "data-eng");
    assert_string_equal(taskenv_get(e, "UPDRAFT_DAG_ID"), "etl");
    assert_string_equal(taskenv_get(e, "UPDRAFT_TASK_ID"), "extract");
    assert_string_equal(taskenv_get(e, "UPDRAFT_RUN_ID"), "manual__2024-01-01T00:00:00+00:00");
    assert_string_equal(taskenv_get(e, "UPDRAFT_TRY_NUMBER"), "2");
    assert_string_equal(taskenv_get(e, "UPDRAFT_MAP_INDEX"), "-1");
    assert_string_equal(taskenv_get(e, "UPDRAFT_LOGICAL_DATE"), "2024-01-01T00:00:00.000000+00:00");
    taskenv_free(e);
}

static void test_env_replaces_but_keeps_path(void **state)
{
    (void)state;
    char err[256];
    taskenv_var_t vars[] = {{"TARGET", "warehouse"}, {"EXTRA", "1"}};
    taskenv_ctx_t c = ctx_example();
    char **e = taskenv_build(base_env, vars, 2, true, false, &c, err, sizeof(err));
    assert_non_null(e);
    assert_null(taskenv_get(e, "HOME"));
    assert_string_equal(taskenv_get(e, "PATH"), "/usr/bin:/bin");
    assert_string_equal(taskenv_get(e, "TARGET"), "warehouse");
    assert_string_equal(taskenv_get(e, "EXTRA"), "1");
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_DAG_ID"), "etl");
    taskenv_free(e);

    /* An empty env mapping still replaces the inherited environment. */
    e = taskenv_build(base_env, NULL, 0, true, false, &c, err, sizeof(err));
    assert_non_null(e);
    assert_null(taskenv_get(e, "HOME"));
    assert_non_null(taskenv_get(e, "PATH"));
    taskenv_free(e);
}

static void test_append_env_overrides(void **state)
{
    (void)state;
    char err[256];
    taskenv_var_t vars[] = {
        {"TARGET", "new"}, {"PATH", "/opt/bin"}, {"AIRFLOW_CTX_DAG_ID", "spoofed"}};
    taskenv_ctx_t c = ctx_example();
    char **e = taskenv_build(base_env, vars, 3, true, true, &c, err, sizeof(err));
    assert_non_null(e);
    assert_string_equal(taskenv_get(e, "HOME"), "/root");
    assert_string_equal(taskenv_get(e, "TARGET"), "new");
    assert_int_equal(env_count(e, "TARGET"), 1);
    assert_string_equal(taskenv_get(e, "PATH"), "/opt/bin");
    /* context variables win over the task's own env, as in Airflow */
    assert_string_equal(taskenv_get(e, "AIRFLOW_CTX_DAG_ID"), "etl");
    assert_int_equal(env_count(e, "AIRFLOW_CTX_DAG_ID"), 1);
    taskenv_free(e);
}

/*
 * Whatever carries the worker's settings or secrets stays with the worker:
 * updraft's and Airflow's settings, connections and variables given in
 * the environment, libpq's variables and redis-cli's password. A task
 * that inherits the environment (no env, or append_env) does not see
 * them; one that declares such a name in its own env gets its own value.
 */
static void test_task_env_never_inherits_the_workers_secrets(void **state)
{
    (void)state;
    char err[256];
    static char *worker_env[] = {
        "PATH=/usr/bin:/bin",
        "HOME=/root",
        "UPDRAFT__DATABASE__URL=postgresql://u:dbpw@db/updraft",
        "UPDRAFT__CORE__FERNET_KEY=key",
        "AIRFLOW__CORE__FERNET_KEY=key",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql://u:dbpw@db/airflow",
        "UPDRAFT_CONN_MY_DB=postgres://u:connpw@db/x",
        "AIRFLOW_CONN_MY_API=http://u:apipw@api",
        "UPDRAFT_VAR_API_TOKEN=tok",
        "AIRFLOW_VAR_API_TOKEN=tok",
        "UPDRAFT_CONFIG=/etc/updraft.yaml",
        "AIRFLOW_CONFIG=/etc/airflow.cfg",
        "PGPASSWORD=pgpw",
        "PGPASSFILE=/root/.pgpass",
        "PGHOST=db",
        "PGSSLKEY=/root/key.pem",
        "REDISCLI_AUTH=redispw",
        "UPDRAFT_HOME=/opt/updraft",
        "AIRFLOW_HOME=/opt/airflow",
        "PGx=lower-case, not libpq's",
        "NOTIFY_SOCKET=/run/systemd/notify",
        "WATCHDOG_USEC=60000000",
        "WATCHDOG_PID=1234",
        "MY_SETTING=kept",
        NULL,
    };
    static const char *const gone[] = {
        "UPDRAFT__DATABASE__URL",
        "UPDRAFT__CORE__FERNET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "UPDRAFT_CONN_MY_DB",
        "AIRFLOW_CONN_MY_API",
        "UPDRAFT_VAR_API_TOKEN",
        "AIRFLOW_VAR_API_TOKEN",
        "UPDRAFT_CONFIG",
        "AIRFLOW_CONFIG",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGHOST",
        "PGSSLKEY",
        "REDISCLI_AUTH",
        "UPDRAFT_HOME",  /* every UPDRAFT_* name is updraft's own (core/envname.h) */
        "PGx",           /* and every PG* name, as a DAG file's $NAME sees them */
        "NOTIFY_SOCKET", /* a task must not speak for the worker to systemd */
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
    };
    taskenv_ctx_t c = ctx_example();

    for (int append = 0; append < 3; append++) {
        /* 0: no env (inherits), 1: append_env, 2: append_env with PGPASSWORD given */
        taskenv_var_t given[] = {{"PGPASSWORD", "given-by-the-task"}};
        char **e = taskenv_build(worker_env, given, append == 2 ? 1 : 0, append > 0, append > 0, &c,
                                 err, sizeof(err));
        assert_non_null(e);
        for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
            if (append == 2 && strcmp(gone[i], "PGPASSWORD") == 0)
                continue;
            if (taskenv_get(e, gone[i]))
                fail_msg("the task inherited %s (append=%d)", gone[i], append);
        }
        for (size_t i = 0; e[i]; i++) {
            assert_null(strstr(e[i], "dbpw"));
            assert_null(strstr(e[i], "connpw"));
        }
        assert_string_equal(taskenv_get(e, "MY_SETTING"), "kept");
        assert_string_equal(taskenv_get(e, "HOME"), "/root");
        assert_string_equal(taskenv_get(e, "AIRFLOW_HOME"), "/opt/airflow");
        if (append == 2)
            assert_string_equal(taskenv_get(e, "PGPASSWORD"), "given-by-the-task");
        taskenv_free(e);
    }
}

static void test_invalid_env_names_are_refused(void **state)
{
    (void)state;
    char err[256] = "";
    taskenv_var_t bad[] = {{"A=B", "x"}};
    taskenv_ctx_t c = ctx_example();
    assert_null(taskenv_build(base_env, bad, 1, true, true, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "A=B"));
    taskenv_var_t empty[] = {{"", "x"}};
    assert_null(taskenv_build(base_env, empty, 1, true, true, &c, err, sizeof(err)));
    assert_false(taskenv_name_valid("a\nb"));
    assert_true(taskenv_name_valid("MY_VAR1"));
}

static void test_dates_format_as_iso(void **state)
{
    (void)state;
    char buf[TASKENV_DATE_LEN];
    assert_string_equal(taskenv_format_date(INT64_C(1704067200) * TS_US_PER_SEC, buf),
                        "2024-01-01T00:00:00+00:00");
    assert_string_equal(taskenv_format_date(INT64_C(1704067200) * TS_US_PER_SEC + 5, buf),
                        "2024-01-01T00:00:00.000005+00:00");
    assert_string_equal(taskenv_format_date(TS_NONE, buf), "");
}

static void test_null_context_and_base_give_an_empty_env(void **state)
{
    (void)state;
    char err[256];
    char **e = taskenv_build(NULL, NULL, 0, false, false, NULL, err, sizeof(err));
    assert_non_null(e);
    assert_null(e[0]);
    taskenv_free(e);
}

/* ---- logbuf ---- */

static void test_utf8_valid_prefix_stops_before_bad_bytes(void **state)
{
    (void)state;
    const unsigned char ok[] = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";
    assert_int_equal(utf8_valid_prefix(ok, sizeof(ok) - 1), sizeof(ok) - 1);
    const unsigned char overlong[] = "a\xC0\xAF";
    assert_int_equal(utf8_valid_prefix(overlong, 3), 1);
    const unsigned char surrogate[] = "ab\xED\xA0\x80";
    assert_int_equal(utf8_valid_prefix(surrogate, 5), 2);
    const unsigned char nul[] = {'a', 0, 'b'};
    assert_int_equal(utf8_valid_prefix(nul, 3), 1);
    const unsigned char cut[] = "x\xE2\x82";
    assert_int_equal(utf8_valid_prefix(cut, 3), 1);
}

static void test_log_repairs_split_utf8_and_joins_reads(void **state)
{
    (void)state;
    logbuf_t *lb = logbuf_new(1024);
    assert_non_null(lb);
    /* a euro sign split across two reads arrives whole */
    assert_int_equal(logbuf_append_output(lb, "a\xE2\x82", 3), 0);
    assert_string_equal(logbuf_data(lb), "a");
    assert_int_equal(logbuf_append_output(lb,
                                          "\xAC"
                                          "b",
                                          2),
                     0);
    assert_string_equal(logbuf_data(lb), "a\xE2\x82\xAC"
                                         "b");
    /* NUL and a stray continuation byte become U+FFFD */
    assert_int_equal(logbuf_append_output(lb, "\x00\x80z", 3), 0);
    assert_string_equal(logbuf_data(lb), "a\xE2\x82\xAC"
                                         "b\xEF\xBF\xBD\xEF\xBF\xBDz");
    logbuf_consume(lb, logbuf_pending(lb));
    assert_int_equal(logbuf_pending(lb), 0);
    /* a lead byte followed by ASCII: replaced, the ASCII kept */
    assert_int_equal(logbuf_append_output(lb, "\xE2", 1), 0);
    assert_int_equal(logbuf_append_output(lb, "q", 1), 0);
    assert_string_equal(logbuf_data(lb), "\xEF\xBF\xBDq");
    /* an incomplete character at the end of output */
    assert_int_equal(logbuf_append_output(lb, "\xF0\x9F", 2), 0);
    logbuf_end_output(lb);
    assert_string_equal(logbuf_data(lb), "\xEF\xBF\xBDq\xEF\xBF\xBD");
    logbuf_free(lb);
}

static void test_log_lines_are_formatted_and_capped(void **state)
{
    (void)state;
    logbuf_t *lb = logbuf_new(10);
    assert_non_null(lb);
    assert_int_equal(logbuf_append_line(lb, "INFO", "Running command: %s", "echo hi"), 0);
    assert_non_null(strstr(logbuf_data(lb), "{worker} INFO - Running command: echo hi\n"));
    assert_int_equal(logbuf_data(lb)[0], '[');
    logbuf_consume(lb, logbuf_pending(lb));

    assert_int_equal(logbuf_append_output(lb, "0123456", 7), 0);
    assert_false(logbuf_truncated(lb));
    assert_int_equal(logbuf_append_output(lb, "789abcdef", 9), 0);
    assert_true(logbuf_truncated(lb));
    assert_int_equal(logbuf_output_bytes(lb), 10);
    const char *d = logbuf_data(lb);
    assert_memory_equal(d, "0123456789\n[", 12); /* the notice starts on its own line */
    assert_non_null(strstr(d, "WARNING - Log truncated"));
    assert_null(strstr(d, "abc"));
    size_t before = logbuf_pending(lb);
    assert_int_equal(logbuf_append_output(lb, "more", 4), 0);
    assert_int_equal(logbuf_pending(lb), before);
    /* worker lines still go in after the cap */
    assert_int_equal(logbuf_append_line(lb, "INFO", "Command exited with return code %d", 0), 0);
    assert_non_null(strstr(logbuf_data(lb), "return code 0\n"));
    logbuf_consume(lb, 3);
    assert_int_equal(logbuf_pending(lb), strlen(logbuf_data(lb)));
    logbuf_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inherit_without_env),
        cmocka_unit_test(test_env_replaces_but_keeps_path),
        cmocka_unit_test(test_append_env_overrides),
        cmocka_unit_test(test_task_env_never_inherits_the_workers_secrets),
        cmocka_unit_test(test_invalid_env_names_are_refused),
        cmocka_unit_test(test_dates_format_as_iso),
        cmocka_unit_test(test_null_context_and_base_give_an_empty_env),
        cmocka_unit_test(test_utf8_valid_prefix_stops_before_bad_bytes),
        cmocka_unit_test(test_log_repairs_split_utf8_and_joins_reads),
        cmocka_unit_test(test_log_lines_are_formatted_and_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
