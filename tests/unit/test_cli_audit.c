/*
 * test_cli_audit.c - what the CLI writes to the event log of a command
 * line: the event name, the DAG and run it names, and the command with
 * every value masked but the harmless ones; read-only commands, help and
 * dry runs write nothing. Also the durations of --expires-in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

#define ARGV(...)                                                                                  \
    (char *[])                                                                                     \
    {                                                                                              \
        "updraft", __VA_ARGS__, NULL                                                               \
    }
#define ARGC(...) ((int)(sizeof((char *[]){"updraft", __VA_ARGS__}) / sizeof(char *)))
#define DESCRIBE(e, ...) cli_audit_describe(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (e))

static cli_audit_entry_t e;

static void test_trigger_shows_the_dag_and_run_and_masks_the_conf(void **state)
{
    (void)state;
    assert_true(DESCRIBE(&e, "dags", "trigger", "etl", "--conf", "{\"pw\": \"hunter2\"}",
                         "--run-id", "r1"));
    assert_string_equal(e.event, "cli_dags_trigger");
    assert_string_equal(e.dag_id, "etl");
    assert_string_equal(e.run_id, "r1");
    assert_string_equal(e.extra, "updraft dags trigger etl --conf *** --run-id r1");
    assert_true(DESCRIBE(&e, "dags", "trigger", "-c", "{}", "-r=r2", "etl"));
    assert_string_equal(e.extra, "updraft dags trigger -c *** -r=r2 etl");
    assert_string_equal(e.run_id, "r2");
    assert_string_equal(e.dag_id, "etl");
}

static void test_user_passwords_are_masked_in_every_spelling(void **state)
{
    (void)state;
    assert_true(DESCRIBE(&e, "users", "create", "-u", "ann", "-f", "Ann", "-l", "Lee", "-e",
                         "ann@x.org", "-r", "Admin", "-p", "pw-one"));
    assert_string_equal(e.event, "cli_users_create");
    assert_string_equal(e.extra,
                        "updraft users create -u ann -f *** -l *** -e *** -r Admin -p ***");
    assert_true(DESCRIBE(&e, "users", "create", "--username=ann", "--password=pw-two", "--role",
                         "Op", "--use-random-password"));
    assert_string_equal(e.extra, "updraft users create --username=ann --password=*** --role Op "
                                 "--use-random-password");
    assert_true(
        DESCRIBE(&e, "users", "reset-password", "--username", "ann", "--password", "pw-three"));
    assert_string_equal(e.event, "cli_users_reset_password");
    assert_null(strstr(e.extra, "pw-three"));
    assert_null(e.dag_id);
    assert_null(e.run_id);
}

static void test_variable_values_are_masked_and_keys_shown(void **state)
{
    (void)state;
    assert_true(DESCRIBE(&e, "variables", "set", "--json", "api_key", "{\"k\": \"s3cret\"}",
                         "--description", "the key"));
    assert_string_equal(e.event, "cli_variables_set");
    assert_string_equal(e.extra, "updraft variables set --json api_key *** --description ***");
    assert_true(DESCRIBE(&e, "connections", "add", "db", "--conn-uri", "postgres://u:pw@h/d"));
    assert_string_equal(e.extra, "updraft connections add db --conn-uri ***");
    assert_true(DESCRIBE(&e, "pools", "set", "p", "4", "desc"));
    assert_string_equal(e.extra, "updraft pools set p *** ***");
}

static void test_an_unknown_option_masks_itself_and_every_later_argument(void **state)
{
    (void)state;
    /* A value starting with '-' must not show as an option name. */
    assert_true(DESCRIBE(&e, "variables", "set", "k", "-s3cret"));
    assert_string_equal(e.extra, "updraft variables set k ***");
    /* An option the table does not know: no positional after it is shown. */
    assert_true(DESCRIBE(&e, "variables", "set", "--new-flag", "key", "value"));
    assert_string_equal(e.extra, "updraft variables set *** *** ***");
    assert_true(DESCRIBE(&e, "users", "create", "--secret-opt=x", "-u", "ann"));
    assert_string_equal(e.extra, "updraft users create *** -u ann");
}

static void test_tasks_clear_flags_take_no_value(void **state)
{
    (void)state;
    assert_true(
        DESCRIBE(&e, "tasks", "clear", "-d", "etl", "-t", "^load$", "-s", "2024-01-01", "-y"));
    assert_string_equal(e.event, "cli_tasks_clear");
    assert_string_equal(e.dag_id, "etl");
    assert_string_equal(e.extra, "updraft tasks clear -d etl -t ^load$ -s *** -y");
}

static void test_nested_verbs_name_the_event(void **state)
{
    (void)state;
    assert_true(DESCRIBE(&e, "users", "token", "create", "-u", "ann", "--expires-in", "30d"));
    assert_string_equal(e.event, "cli_users_token_create");
    assert_string_equal(e.extra, "updraft users token create -u ann --expires-in 30d");
    assert_true(DESCRIBE(&e, "rotate-fernet-key"));
    assert_string_equal(e.event, "cli_rotate_fernet_key");
    assert_string_equal(e.extra, "updraft rotate-fernet-key");
    assert_true(DESCRIBE(&e, "db", "clean", "--clean-before-timestamp", "2026-01-01", "-t",
                         "dag_run,xcom", "--batch-size", "10", "--skip-archive", "-y"));
    assert_string_equal(e.event, "cli_db_clean");
    assert_string_equal(e.extra, "updraft db clean --clean-before-timestamp 2026-01-01 -t "
                                 "dag_run,xcom --batch-size 10 --skip-archive -y");
    assert_true(DESCRIBE(&e, "db", "drop-archived", "-t", "job", "-y"));
    assert_string_equal(e.event, "cli_db_drop_archived");
}

static void test_reads_help_and_dry_runs_are_not_logged(void **state)
{
    (void)state;
    assert_false(DESCRIBE(&e, "users", "list"));
    assert_false(DESCRIBE(&e, "users", "token", "list"));
    assert_false(DESCRIBE(&e, "roles", "list", "-p"));
    assert_false(DESCRIBE(&e, "dags", "list"));
    assert_false(DESCRIBE(&e, "variables", "get", "k"));
    assert_false(DESCRIBE(&e, "users", "create", "-h"));
    assert_false(DESCRIBE(&e, "dags", "backfill", "etl", "-s", "2024-01-01", "-e", "2024-01-02",
                          "--dry-run"));
    assert_false(
        DESCRIBE(&e, "db", "clean", "--clean-before-timestamp", "2026-01-01", "--dry-run"));
    assert_false(DESCRIBE(&e, "db", "check"));
    assert_false(DESCRIBE(&e, "users"));
    assert_false(cli_audit_describe(1, ARGV("x"), &e));
}

static void test_a_long_command_line_is_cut_to_the_limit(void **state)
{
    (void)state;
    char *big = malloc(3 * EVENTLOG_EXTRA_MAX);
    assert_non_null(big);
    memset(big, 'k', 3 * EVENTLOG_EXTRA_MAX - 1);
    big[3 * EVENTLOG_EXTRA_MAX - 1] = '\0';
    assert_true(DESCRIBE(&e, "variables", "delete", big));
    assert_int_equal(strlen(e.extra), EVENTLOG_EXTRA_MAX);
    free(big);
}

static void test_durations_read_units_and_refuse_the_rest(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        int64_t sec;
    } cases[] = {
        {"3600", 0, 3600},   {"3600s", 0, 3600},
        {"90m", 0, 5400},    {"12h", 0, 43200},
        {"30d", 0, 2592000}, {"2w", 0, 1209600},
        {"0", 0, 0},         {"", -1, 0},
        {"d", -1, 0},        {"-5m", -1, 0},
        {"5x", -1, 0},       {"5dd", -1, 0},
        {" 5", -1, 0},       {"99999999999999999999d", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t sec = -7;
        assert_int_equal(cli_parse_duration(cases[i].text, &sec), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(sec, cases[i].sec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trigger_shows_the_dag_and_run_and_masks_the_conf),
        cmocka_unit_test(test_user_passwords_are_masked_in_every_spelling),
        cmocka_unit_test(test_variable_values_are_masked_and_keys_shown),
        cmocka_unit_test(test_an_unknown_option_masks_itself_and_every_later_argument),
        cmocka_unit_test(test_tasks_clear_flags_take_no_value),
        cmocka_unit_test(test_nested_verbs_name_the_event),
        cmocka_unit_test(test_reads_help_and_dry_runs_are_not_logged),
        cmocka_unit_test(test_a_long_command_line_is_cut_to_the_limit),
        cmocka_unit_test(test_durations_read_units_and_refuse_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
