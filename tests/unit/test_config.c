/*
 * test_config.c - defaults, file values, environment overrides, errors,
 * masking, printing and flag handling of the configuration.
 *
 * Each test runs in a fresh temporary directory (for ./updraft.yaml) with
 * every UPDRAFT_* variable removed from the environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/log.h"
#include "core/db.h"
#include "core/error.h"

static char tmpdir[256];
static char origdir[4096];

static void clear_env(void)
{
    /* removing changes environ, so restart the scan after each removal */
    for (;;) {
        char name[256] = "";
        for (char **e = environ; e && *e; e++) {
            if (strncmp(*e, "UPDRAFT_", 8) == 0) {
                size_t n = strcspn(*e, "=");
                if (n >= sizeof(name))
                    n = sizeof(name) - 1;
                memcpy(name, *e, n);
                name[n] = '\0';
                break;
            }
        }
        if (name[0] == '\0')
            return;
        unsetenv(name);
    }
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    if (getcwd(origdir, sizeof(origdir)) == NULL)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/updraft-test-config-XXXXXX");
    if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_env();
    unlink("updraft.yaml");
    unlink("other.yaml");
    unlink("printed.yaml");
    if (chdir(origdir) != 0)
        return -1;
    rmdir(tmpdir);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("'%s' does not contain '%s'", hay, needle);
}

static void test_defaults_apply_without_a_file(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.core.dags_folder, "./dags");
    assert_true(c.core.dags_are_paused_at_creation);
    char host[256];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_equal(c.core.hostname, host);
    assert_string_equal(c.database.url, "postgresql:///updraft");
    assert_string_equal(c.redis.url, "redis://127.0.0.1:6379/0");
    assert_int_equal(c.redis.timeout_ms, 5000);
    assert_string_equal(c.webserver.listen, "127.0.0.1:8080");
    assert_string_equal(c.webserver.base_url, "http://127.0.0.1:8080");
    assert_int_equal(c.webserver.threads, 32);
    assert_int_equal(c.scheduler.dag_dir_list_interval, 5);
    assert_true(c.scheduler.catchup_by_default);
    assert_int_equal(c.scheduler.heartbeat_sec, 5);
    assert_int_equal(c.scheduler.queued_resend_after_sec, 30);
    assert_int_equal(c.scheduler.max_tis_per_query, 512);
    assert_string_equal(c.worker.queues, "default");
    assert_int_equal(c.worker.concurrency, 16);
    assert_int_equal(c.worker.heartbeat_sec, 5);
    assert_int_equal(c.worker.log_flush_ms, 200);
    assert_int_equal(c.worker.max_log_bytes_per_try, 10485760);
    assert_string_equal(c.logging.level, "info");
    assert_string_equal(c.logging.format, "text");
    assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
    config_free(&c);
    assert_null(c.database.url);
    config_free(&c); /* twice is harmless */
}

static void test_file_values_are_read(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    write_file("other.yaml", "# comment\n"
                             "core:\n"
                             "  dags_folder: /srv/dags\n"
                             "  dags_are_paused_at_creation: no\n"
                             "  hostname: node-1\n"
                             "database:\n"
                             "  url: \"postgresql://u:pw@db/updraft\"\n"
                             "redis:\n"
                             "  timeout_ms: 250\n"
                             "webserver:\n" /* a section with every key commented out */
                             "  # threads: 4\n"
                             "worker: {concurrency: 8, queues: \"default,gpu\"}\n"
                             "logging:\n"
                             "  level: debug\n");
    assert_int_equal(config_load("other.yaml", &c, err, sizeof(err)), 0);
    assert_string_equal(c.core.dags_folder, "/srv/dags");
    assert_false(c.core.dags_are_paused_at_creation);
    assert_string_equal(c.core.hostname, "node-1");
    assert_string_equal(c.database.url, "postgresql://u:pw@db/updraft");
    assert_int_equal(c.redis.timeout_ms, 250);
    assert_string_equal(c.redis.url, "redis://127.0.0.1:6379/0"); /* untouched default */
    assert_int_equal(c.webserver.threads, 32);
    assert_int_equal(c.worker.concurrency, 8);
    assert_string_equal(c.worker.queues, "default,gpu");
    assert_string_equal(c.logging.level, "debug");
    config_free(&c);
}

static void test_config_file_is_found_in_lookup_order(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    /* ./updraft.yaml when nothing else names a file */
    write_file("updraft.yaml", "worker:\n  concurrency: 3\n");
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(c.worker.concurrency, 3);
    config_free(&c);
    /* $UPDRAFT_CONFIG wins over ./updraft.yaml */
    write_file("other.yaml", "worker:\n  concurrency: 5\n");
    setenv("UPDRAFT_CONFIG", "other.yaml", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(c.worker.concurrency, 5);
    config_free(&c);
    /* an explicit path wins over both */
    assert_int_equal(config_load("updraft.yaml", &c, err, sizeof(err)), 0);
    assert_int_equal(c.worker.concurrency, 3);
    config_free(&c);
    /* a named file that does not exist is an error */
    assert_int_equal(config_load("missing.yaml", &c, err, sizeof(err)), -1);
    assert_contains(err, "missing.yaml");
    assert_null(c.database.url);
}

static void test_env_overrides_the_file(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    write_file("other.yaml",
               "worker:\n  concurrency: 8\ncore:\n  dags_are_paused_at_creation: true\n");
    setenv("UPDRAFT__WORKER__CONCURRENCY", "4", 1);
    setenv("UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION", "OFF", 1);
    setenv("UPDRAFT__DATABASE__URL", "postgresql://x@h/db", 1);
    setenv("UPDRAFT__CORE__NO_SUCH_KEY", "1", 1); /* a warning only */
    assert_int_equal(config_load("other.yaml", &c, err, sizeof(err)), 0);
    assert_int_equal(c.worker.concurrency, 4);
    assert_false(c.core.dags_are_paused_at_creation);
    assert_string_equal(c.database.url, "postgresql://x@h/db");
    config_free(&c);

    const char *truthy[] = {"true", "1", "YES", "On"};
    for (size_t i = 0; i < 4; i++) {
        setenv("UPDRAFT__SCHEDULER__CATCHUP_BY_DEFAULT", truthy[i], 1);
        setenv("UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION", "0", 1);
        assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
        assert_true(c.scheduler.catchup_by_default);
        assert_false(c.core.dags_are_paused_at_creation);
        config_free(&c);
    }
}

static void test_pooler_mode_needs_a_direct_url_and_gives_a_pooled_target(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    db_target_t t;
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    config_db_target(&c, &t);
    assert_false(t.pooled); /* the default: named prepared statements */
    assert_string_equal(t.url, "postgresql:///updraft");
    config_free(&c);

    setenv("UPDRAFT__DATABASE__POOLER", "statement", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "database.pooler");
    assert_contains(err, "not a pooler mode");

    setenv("UPDRAFT__DATABASE__POOLER", "transaction", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "database.direct_url: must be set");

    setenv("UPDRAFT__DATABASE__URL", "postgresql://u@bouncer:6432/updraft", 1);
    setenv("UPDRAFT__DATABASE__DIRECT_URL", "postgresql://u:pw@db:5432/updraft", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    config_db_target(&c, &t);
    assert_true(t.pooled);
    assert_string_equal(t.url, "postgresql://u@bouncer:6432/updraft");
    assert_string_equal(t.direct_url, "postgresql://u:pw@db:5432/updraft");
    char *printed = NULL;
    size_t plen = 0;
    FILE *f = open_memstream(&printed, &plen);
    assert_non_null(f);
    config_print(&c, f);
    fclose(f);
    assert_null(strstr(printed, ":pw@")); /* direct_url's password is masked */
    free(printed);
    config_free(&c);
}

static void test_bad_env_value_is_reported_by_name(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    setenv("UPDRAFT__WORKER__CONCURRENCY", "lots", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "UPDRAFT__WORKER__CONCURRENCY");
    assert_contains(err, "not an integer");
    assert_null(c.core.dags_folder); /* nothing left allocated */

    setenv("UPDRAFT__WORKER__CONCURRENCY", "0", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "worker.concurrency: 0 is out of range 1..4096");

    unsetenv("UPDRAFT__WORKER__CONCURRENCY");
    setenv("UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION", "maybe", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION");
    assert_contains(err, "not a boolean");

    unsetenv("UPDRAFT__CORE__DAGS_ARE_PAUSED_AT_CREATION");
    setenv("UPDRAFT__DATABASE__URL", "", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "UPDRAFT__DATABASE__URL: database.url: must not be empty");

    unsetenv("UPDRAFT__DATABASE__URL");
    setenv("UPDRAFT__LOGGING__LEVEL", "chatty", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "logging.level");
    unsetenv("UPDRAFT__LOGGING__LEVEL");

    /* logging.format: text or json, and the logger follows what is loaded */
    setenv("UPDRAFT__LOGGING__FORMAT", "logfmt", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "UPDRAFT__LOGGING__FORMAT: logging.format: 'logfmt' is not a log format "
                         "(text, json)");
    setenv("UPDRAFT__LOGGING__FORMAT", "json", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.logging.format, "json");
    assert_int_equal(log_get_format(), LOG_FORMAT_JSON);
    config_free(&c);
    unsetenv("UPDRAFT__LOGGING__FORMAT");
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
    config_free(&c);
}

/*
 * A malformed or weak core.fernet_key stops every program at start: the
 * load fails naming where the key came from and why, never the key.
 */
static void test_weak_fernet_key_is_a_configuration_error(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    static const char zero[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    setenv("UPDRAFT__CORE__FERNET_KEY", zero, 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "UPDRAFT__CORE__FERNET_KEY");
    assert_contains(err, "core.fernet_key: key 1 is not random (one byte repeated)");
    assert_null(strstr(err, zero));

    setenv("UPDRAFT__CORE__FERNET_KEY", "short", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_contains(err, "is not the base64 encoding of 32 bytes");

    unsetenv("UPDRAFT__CORE__FERNET_KEY");
    write_file("other.yaml", "core:\n  fernet_key: \"aGu3Lm2tJ5hxxkBybqlUbHnHsPQwVRcZf4B5gxt4bDA=, "
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n");
    assert_int_equal(config_load("other.yaml", &c, err, sizeof(err)), -1);
    assert_contains(err, "other.yaml");
    assert_contains(err, "key 2 is not random");

    write_file("other.yaml",
               "core:\n  fernet_key: \"aGu3Lm2tJ5hxxkBybqlUbHnHsPQwVRcZf4B5gxt4bDA=\"\n");
    assert_int_equal(config_load("other.yaml", &c, err, sizeof(err)), 0);
    config_free(&c);
}

/*
 * core.dag_env_allowlist: names and PREFIX*; a list naming one of
 * updraft's own variables (which DAG files never read) or malformed is
 * refused by name.
 */
static void test_dag_env_allowlist_refuses_updrafts_own_names(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.core.dag_env_allowlist, "CONFIG_ROOT_DIR,AIRFLOW_HOME");
    config_free(&c);

    setenv("UPDRAFT__CORE__DAG_ENV_ALLOWLIST", "BUCKET, TEAM_*", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.core.dag_env_allowlist, "BUCKET, TEAM_*");
    config_free(&c);

    static const char *const reserved[] = {"HOME,PGPASSWORD", "UPDRAFT_*", "AIRFLOW_CONN_X", "PG*",
                                           "AIRFLOW__CORE__FERNET_KEY"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        setenv("UPDRAFT__CORE__DAG_ENV_ALLOWLIST", reserved[i], 1);
        assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
        assert_contains(err, "core.dag_env_allowlist");
        assert_contains(err, "one of updraft's own variables");
    }
    static const char *const malformed[] = {"*", "A,,B", "A,", "A-B", "A*B", "$HOME"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        setenv("UPDRAFT__CORE__DAG_ENV_ALLOWLIST", malformed[i], 1);
        assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
        assert_contains(err, "not a comma-separated list of environment variable names");
    }
    unsetenv("UPDRAFT__CORE__DAG_ENV_ALLOWLIST");
}

static void expect_file_error(const char *text, const char *want1, const char *want2)
{
    config_t c;
    char err[512] = "";
    write_file("other.yaml", text);
    assert_int_equal(config_load("other.yaml", &c, err, sizeof(err)), -1);
    assert_contains(err, want1);
    if (want2)
        assert_contains(err, want2);
}

static void test_bad_file_key_is_reported_with_line_and_column(void **state)
{
    (void)state;
    /* unknown keys and sections, with the position libcyaml reports */
    expect_file_error("core:\n  dags_foldr: x\n", "other.yaml:2:3: unknown key 'core.dags_foldr'",
                      NULL);
    expect_file_error("cor:\n  dags_folder: x\n", "other.yaml:1:1: unknown key 'cor'", NULL);
    /* values typed here, positioned by the libyaml pass */
    expect_file_error("redis:\n  timeout_ms: 50\n",
                      "other.yaml:2:15: redis.timeout_ms: 50 is out of range 100..600000", NULL);
    expect_file_error("worker:\n  concurrency: 12abc\n", "other.yaml:2:16: worker.concurrency",
                      "not an integer");
    expect_file_error("core:\n  dags_are_paused_at_creation: maybe\n",
                      "core.dags_are_paused_at_creation", "not a boolean");
    /* structure */
    expect_file_error("worker:\n  concurrency: [1, 2]\n", "other.yaml:2:16", "worker.concurrency");
    expect_file_error("core:\n  hostname: a\n  hostname: b\n", "other.yaml", "hostname");
    expect_file_error("core: {dags_folder: x\n", "other.yaml", "did not find expected");
    expect_file_error("- 1\n- 2\n", "other.yaml", "expecting MAPPING");
}

static void test_empty_file_keeps_defaults(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    write_file("other.yaml", "# nothing set\n");
    assert_int_equal(config_load("other.yaml", &c, err, sizeof(err)), 0);
    assert_int_equal(c.worker.concurrency, 16);
    config_free(&c);
    /* an empty or null value in the file means "unset": the default */
    write_file("other.yaml", "database:\n  url: \"\"\nworker:\n  concurrency: ~\ncore:\n");
    assert_int_equal(config_load("other.yaml", &c, err, sizeof(err)), 0);
    assert_string_equal(c.database.url, "postgresql:///updraft");
    assert_int_equal(c.worker.concurrency, 16);
    config_free(&c);
}

static void check_mask(const char *in, const char *want)
{
    char buf[256];
    config_mask_url(in, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_url_passwords_are_masked(void **state)
{
    (void)state;
    check_mask("postgresql://user:s3cret@db.example.com:5432/updraft",
               "postgresql://user:***@db.example.com:5432/updraft");
    check_mask("postgres://user:p@ss@db/x", "postgres://user:***@db/x");
    check_mask("redis://:pw@host:6379/0", "redis://:***@host:6379/0");
    check_mask("redis://user:pw@host", "redis://user:***@host");
    check_mask("rediss://user:pw@host:6380", "rediss://user:***@host:6380");
    check_mask("postgresql:///updraft", "postgresql:///updraft");
    check_mask("postgresql://user@host/db", "postgresql://user@host/db");
    check_mask("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0");
    check_mask("postgresql://h/db?user=u&password=s3cret&sslmode=require",
               "postgresql://h/db?user=u&password=***&sslmode=require");
    check_mask("host=db user=u password=s3cret dbname=x", "host=db user=u password=*** dbname=x");
    check_mask("host=db PASSWORD = 'a b\\' c' dbname=x", "host=db PASSWORD = *** dbname=x");
    check_mask("password=s3cret", "password=***");
    check_mask("host=db passwordfile=x", "host=db passwordfile=x");
    check_mask("", "");
    char small[12];
    config_mask_url("postgresql://u:pw@h/d", small, sizeof(small));
    assert_string_equal(small, "postgresql:"); /* truncated, still terminated */
}

static void test_printed_config_masks_secrets_and_reloads(void **state)
{
    (void)state;
    config_t c, again;
    char err[512] = "";
    setenv("UPDRAFT__DATABASE__URL", "postgresql://u:topsecret@db/updraft", 1);
    setenv("UPDRAFT__REDIS__URL", "redis://:alsosecret@cache:6379/0", 1);
    setenv("UPDRAFT__CORE__DAGS_FOLDER", "/srv/\"odd\" dags", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_print(&c, f);
    fclose(f);
    assert_null(strstr(text, "topsecret"));
    assert_null(strstr(text, "alsosecret"));
    assert_contains(text, "database:\n  url: \"postgresql://u:***@db/updraft\"\n");
    assert_contains(text, "redis:\n  url: \"redis://:***@cache:6379/0\"\n  timeout_ms: 5000\n");
    assert_contains(text, "worker:\n  queues: \"default\"\n  concurrency: 16\n");
    assert_contains(text, "  dags_are_paused_at_creation: true\n");
    /* what is printed loads back to the same values */
    write_file("printed.yaml", text);
    free(text);
    clear_env();
    assert_int_equal(config_load("printed.yaml", &again, err, sizeof(err)), 0);
    assert_string_equal(again.core.dags_folder, "/srv/\"odd\" dags");
    assert_string_equal(again.database.url, "postgresql://u:***@db/updraft");
    assert_int_equal(again.worker.concurrency, c.worker.concurrency);
    assert_string_equal(again.core.hostname, c.core.hostname);
    config_free(&again);
    config_free(&c);
}

/* Collects what config_visit hands over as "section.key=value" lines. */
static void collect_option(const char *section, const char *key, const char *value, bool is_string,
                           void *arg)
{
    fprintf(arg, "%s.%s=%s%s\n", section, key, value, is_string ? "" : " (not a string)");
}

static void test_visited_config_hides_every_secret_that_has_a_value(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "", *text = NULL;
    size_t len = 0;
    FILE *f;
    setenv("UPDRAFT__DATABASE__URL", "postgresql://u:topsecret@db/updraft", 1);
    setenv("UPDRAFT__CORE__FERNET_KEY", "aGu3Lm2tJ5hxxkBybqlUbHnHsPQwVRcZf4B5gxt4bDA=", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(config_visit(&c, "< hidden >", collect_option, f), 0);
    fclose(f);
    assert_null(strstr(text, "topsecret"));
    assert_null(strstr(text, "aGu3Lm2t"));
    assert_contains(text, "database.url=< hidden >\n");
    assert_contains(text, "core.fernet_key=< hidden >\n");
    assert_contains(text, "redis.url=< hidden >\n"); /* the default has a value too */
    assert_contains(text, "core.dags_folder=./dags\n");
    assert_contains(text, "core.test_connection=Disabled\n");
    assert_contains(text, "worker.concurrency=16 (not a string)\n");
    assert_contains(text, "core.dags_are_paused_at_creation=true (not a string)\n");
    /* sections in the table's order, each key once */
    assert_true(strstr(text, "core.dags_folder") < strstr(text, "database.url"));
    assert_true(strstr(text, "database.url") < strstr(text, "alerts."));
    free(text);
    config_free(&c);
}

static void test_get_value_and_the_key_reference(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "", *v = NULL, *md = NULL;
    size_t len = 0;
    setenv("UPDRAFT__DATABASE__URL", "postgresql://u:topsecret@db/updraft", 1);
    setenv("UPDRAFT__SCHEDULER__DAG_DIR_LIST_INTERVAL", "17", 1);
    setenv("UPDRAFT__CORE__DAG_IGNORE_FILE_SYNTAX", "regexp", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(config_get_text(&c, "scheduler", "dag_dir_list_interval", CONFIG_HIDDEN, &v),
                     0);
    assert_string_equal(v, "17");
    free(v);
    assert_int_equal(config_get_text(&c, "core", "dag_ignore_file_syntax", CONFIG_HIDDEN, &v), 0);
    assert_string_equal(v, "regexp");
    free(v);
    assert_int_equal(config_get_text(&c, "database", "url", CONFIG_HIDDEN, &v), 0);
    assert_string_equal(v, "< hidden >");
    free(v);
    assert_int_equal(config_get_text(&c, "core", "dags_are_paused_at_creation", NULL, &v), 0);
    assert_string_equal(v, "true");
    free(v);
    assert_int_equal(config_get_text(&c, "core", "no_such_key", NULL, &v), UPDRAFT_ENOTFOUND);
    assert_null(v);
    assert_int_equal(config_get_text(&c, "nosection", "url", NULL, &v), UPDRAFT_ENOTFOUND);
    assert_int_equal(config_get_text(&c, "redis", "dags_folder", NULL, &v), UPDRAFT_ENOTFOUND);
    config_free(&c);

    /* the reference: every key a row with its variable and default, every section a table */
    FILE *f = open_memstream(&md, &len);
    assert_non_null(f);
    assert_int_equal(config_write_markdown(f, err, sizeof(err)), 0);
    fclose(f);
    assert_contains(md, "### core\n\n| key | environment variable | default | range | what it "
                        "does |\n|---|---|---|---|---|\n| `dags_folder` | "
                        "`UPDRAFT__CORE__DAGS_FOLDER` | `./dags` | non-empty | ");
    assert_contains(md, "| `dag_ignore_file_syntax` | `UPDRAFT__CORE__DAG_IGNORE_FILE_SYNTAX` | "
                        "`glob` | `glob` or `regexp` | ");
    assert_contains(md, "| `hostname` | `UPDRAFT__CORE__HOSTNAME` | empty | ");
    assert_contains(md, "| `10485760` (10 MiB) | ");
    assert_contains(md, "### alerts\n\nSlack and webhook alerts");
    size_t rows = 0;
    for (const char *p = md; (p = strstr(p, "\n| `")) != NULL; p++)
        rows++;
    char *list = NULL;
    size_t llen = 0;
    f = open_memstream(&list, &llen);
    assert_non_null(f);
    assert_int_equal(config_visit_defaults(collect_option, f), 0);
    fclose(f);
    size_t keys = 0;
    for (const char *p = list; (p = strchr(p, '\n')) != NULL; p++)
        keys++;
    assert_true(keys > 50);
    assert_int_equal(rows, keys);
    assert_contains(list, "database.url=postgresql:///updraft\n"); /* defaults, not the env */
    free(list);
    free(md);
}

static void test_config_option_is_taken_out_of_argv(void **state)
{
    (void)state;
    config_t c;
    write_file("other.yaml", "worker:\n  concurrency: 7\n");
    char a0[] = "updraft-worker", a1[] = "--queues", a2[] = "gpu", a3[] = "--config",
         a4[] = "other.yaml", a5[] = "-v";
    char *argv[] = {a0, a1, a2, a3, a4, a5, NULL};
    int argc = 6;
    assert_int_equal(config_from_args(&argc, argv, &c), 0);
    assert_int_equal(argc, 4);
    assert_string_equal(argv[1], "--queues");
    assert_string_equal(argv[2], "gpu");
    assert_string_equal(argv[3], "-v");
    assert_null(argv[4]);
    assert_int_equal(c.worker.concurrency, 7);
    config_free(&c);

    char b0[] = "updraft", b1[] = "--config=other.yaml", b2[] = "--print-config";
    char *argv2[] = {b0, b1, b2, NULL};
    argc = 3;
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = config_from_args(&argc, argv2, &c);
    fclose(stdout);
    stdout = saved;
    assert_int_equal(rc, 1);
    assert_int_equal(argc, 1);
    assert_null(argv2[1]);

    char d0[] = "updraft", d1[] = "--config";
    char *argv3[] = {d0, d1, NULL};
    argc = 2;
    assert_int_equal(config_from_args(&argc, argv3, &c), -1);

    char e0[] = "updraft", e1[] = "--config", e2[] = "missing.yaml";
    char *argv4[] = {e0, e1, e2, NULL};
    argc = 3;
    assert_int_equal(config_from_args(&argc, argv4, &c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_apply_without_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_values_are_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_is_found_in_lookup_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_env_value_is_reported_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pooler_mode_needs_a_direct_url_and_gives_a_pooled_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_file_key_is_reported_with_line_and_column, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_weak_fernet_key_is_a_configuration_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_keeps_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_passwords_are_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_printed_config_masks_secrets_and_reloads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_visited_config_hides_every_secret_that_has_a_value,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_option_is_taken_out_of_argv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_value_and_the_key_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dag_env_allowlist_refuses_updrafts_own_names, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
