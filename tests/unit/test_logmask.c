/*
 * test_logmask.c - secrets masking in the per-try log buffer
 * (worker/logbuf.h, linked from libworker).
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_secrets_are_masked),
        cmocka_unit_test(test_secret_split_across_reads_is_masked),
        cmocka_unit_test(test_false_prefix_comes_out_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
