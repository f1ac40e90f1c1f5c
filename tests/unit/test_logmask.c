/*
 * test_logmask.c - secrets masking in the per-try log buffer
 * (worker/logbuf.h, linked from libworker), and the rendered fields
 * stored with the same masks (worker/wrender.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "worker/logbuf.h"
#include "worker/wrender.h"

/* Everything the buffer hands out after the output ended, consumed. */
static char *drain(logbuf_t *lb, char *acc, size_t cap)
{
    size_t have = strlen(acc), n = logbuf_pending(lb);
    assert_true(have + n < cap);
    memcpy(acc + have, logbuf_data(lb), n);
    acc[have + n] = '\0';
    logbuf_consume(lb, n);
    return acc;
}

static void test_whole_secrets_are_masked(void **state)
{
    (void)state;
    logbuf_t *lb = logbuf_new(1 << 20);
    assert_int_equal(logbuf_add_secret(lb, "hunter2pw"), 0);
    assert_int_equal(logbuf_add_secret(lb, "hunter2pw"), 0); /* duplicates kept once */
    assert_int_equal(logbuf_add_secret(lb, "ab"), 0);        /* too short: ignored */
    assert_int_equal(logbuf_secret_count(lb), 1);
    const char *out = "user=me pass=hunter2pw ab hunter2pwhunter2pw\n";
    assert_int_equal(logbuf_append_output(lb, out, strlen(out)), 0);
    logbuf_end_output(lb);
    char acc[4096] = "";
    drain(lb, acc, sizeof(acc));
    assert_string_equal(acc, "user=me pass=*** ab ******\n");
    logbuf_free(lb);
}

/* A secret split over every possible pair of reads is still masked. */
static void test_secret_split_across_reads_is_masked(void **state)
{
    (void)state;
    const char *out = "x=s3cr\xc3\xa9tvalue;y=s3cr\xc3\xa9tvalue\n";
    size_t len = strlen(out);
    for (size_t cut = 0; cut <= len; cut++) {
        logbuf_t *lb = logbuf_new(1 << 20);
        assert_int_equal(logbuf_add_secret(lb, "s3cr\xc3\xa9tvalue"), 0);
        char acc[4096] = "";
        assert_int_equal(logbuf_append_output(lb, out, cut), 0);
        drain(lb, acc, sizeof(acc)); /* what would be shipped between reads */
        assert_null(strstr(acc, "tvalue"));
        /* what is handed out is always whole characters */
        assert_int_equal(utf8_valid_prefix((const unsigned char *)acc, strlen(acc)), strlen(acc));
        assert_int_equal(logbuf_append_output(lb, out + cut, len - cut), 0);
        logbuf_end_output(lb);
        drain(lb, acc, sizeof(acc));
        assert_string_equal(acc, "x=***;y=***\n");
        logbuf_free(lb);
    }
}

/* Held-back output that turns out not to be a secret comes out unchanged. */
static void test_false_prefix_comes_out_unchanged(void **state)
{
    (void)state;
    logbuf_t *lb = logbuf_new(1 << 20);
    assert_int_equal(logbuf_add_secret(lb, "topsecret"), 0);
    char acc[4096] = "";
    assert_int_equal(logbuf_append_output(lb, "a top", 5), 0);
    drain(lb, acc, sizeof(acc));
    assert_string_equal(acc, "a "); /* "top" may start the secret */
    assert_int_equal(logbuf_append_output(lb, "ic\n", 3), 0);
    drain(lb, acc, sizeof(acc));
    assert_string_equal(acc, "a topic\n");
    /* Worker lines are masked too, and end held output first. */
    assert_int_equal(logbuf_append_output(lb, "topsec", 6), 0);
    assert_int_equal(logbuf_append_line(lb, "INFO", "Running command: echo topsecret"), 0);
    drain(lb, acc, sizeof(acc));
    assert_null(strstr(acc, "topsecret"));
    assert_non_null(strstr(acc, "topsec\n"));
    assert_non_null(strstr(acc, "Running command: echo ***\n"));
    logbuf_free(lb);
}

static void test_mask_copy_masks_as_the_log_does(void **state)
{
    (void)state;
    logbuf_t *lb = logbuf_new(1 << 20);
    assert_int_equal(logbuf_add_secret(lb, "hunter2"), 0);
    assert_int_equal(logbuf_add_secret(lb, "hunter2pw"), 0);
    char *m = logbuf_mask_copy(lb, "a=hunter2pw b=hunter2 c=hunter");
    assert_string_equal(m, "a=*** b=*** c=hunter"); /* the longest at one position */
    free(m);
    m = logbuf_mask_copy(lb, "");
    assert_string_equal(m, "");
    free(m);
    logbuf_free(lb);
}

static void test_rendered_fields_are_masked_and_bounded(void **state)
{
    (void)state;
    logbuf_t *lb = logbuf_new(1 << 20);
    assert_int_equal(logbuf_add_secret(lb, "tok-ABCDEF"), 0);
    char long_cmd[300];
    memset(long_cmd, 'y', sizeof(long_cmd) - 1);
    long_cmd[sizeof(long_cmd) - 1] = '\0';
    taskenv_var_t env[] = {{"API", "x tok-ABCDEF y"}, {"DB_PASSWORD", "plain"}, {"HOME", "/h"}};
    wtry_t t = {.kind = WTRY_BASH,
                .op = DAG_OP_BASH,
                .bash_command = (char *)"echo tok-ABCDEF",
                .has_env = true,
                .env = env,
                .n_env = 3};

    char *json = wrender_fields_json(&t, lb, 100);
    assert_string_equal(json, "{\"bash_command\":\"echo ***\",\"env\":{\"API\":\"x *** y\","
                              "\"DB_PASSWORD\":\"***\",\"HOME\":\"/h\"},\"cwd\":null}");
    free(json);

    t.bash_command = long_cmd; /* 299 characters, 100 allowed: Airflow keeps 100 - 79 */
    t.has_env = false;
    json = wrender_fields_json(&t, lb, 100);
    assert_string_equal(json, "{\"bash_command\":\"Truncated. You can change this behaviour in "
                              "[core]max_templated_field_length. 'yyyyyyyyyyyyyyyyyyyyy'... \","
                              "\"env\":null,\"cwd\":null}");
    free(json);
    logbuf_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_secrets_are_masked),
        cmocka_unit_test(test_secret_split_across_reads_is_masked),
        cmocka_unit_test(test_false_prefix_comes_out_unchanged),
        cmocka_unit_test(test_mask_copy_masks_as_the_log_does),
        cmocka_unit_test(test_rendered_fields_are_masked_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
