/* Unit tests for the queue message codec (proto/queue_msg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/queue_msg.h"

static int decode_pairs(const char *const *kv, size_t n, queue_msg_t *m, char *err)
{
    const char *keys[16], *vals[16];
    size_t kl[16], vl[16];
    for (size_t i = 0; i < n; i++) {
        keys[i] = kv[2 * i];
        vals[i] = kv[2 * i + 1];
        kl[i] = strlen(keys[i]);
        vl[i] = strlen(vals[i]);
    }
    return queue_msg_decode(keys, kl, vals, vl, n, m, err, 128);
}

static void test_message_round_trips(void **state)
{
    (void)state;
    queue_msg_t in = {.ti_id = 123456789012LL, .try_number = 3, .enqueued_us = 1700000000123456LL};
    queue_msg_fields_t f;
    assert_int_equal(queue_msg_encode(&in, &f), 0);
    assert_string_equal(f.argv[0], "v");
    assert_string_equal(f.argv[1], "1");
    assert_string_equal(f.argv[3], "123456789012");
    assert_string_equal(f.argv[5], "3");
    queue_msg_t out;
    char err[128];
    const char *keys[4] = {f.argv[0], f.argv[2], f.argv[4], f.argv[6]};
    const char *vals[4] = {f.argv[1], f.argv[3], f.argv[5], f.argv[7]};
    size_t kl[4] = {f.argvlen[0], f.argvlen[2], f.argvlen[4], f.argvlen[6]};
    size_t vl[4] = {f.argvlen[1], f.argvlen[3], f.argvlen[5], f.argvlen[7]};
    assert_int_equal(queue_msg_decode(keys, kl, vals, vl, 4, &out, err, sizeof(err)), 0);
    assert_int_equal(out.ti_id, in.ti_id);
    assert_int_equal(out.try_number, in.try_number);
    assert_int_equal(out.enqueued_us, in.enqueued_us);
}

static void test_encode_rejects_invalid(void **state)
{
    (void)state;
    queue_msg_fields_t f;
    queue_msg_t zero_id = {.ti_id = 0, .try_number = 1};
    queue_msg_t zero_try = {.ti_id = 5, .try_number = 0};
    assert_int_equal(queue_msg_encode(&zero_id, &f), -1);
    assert_int_equal(queue_msg_encode(&zero_try, &f), -1);
}

static void test_unknown_fields_ignored(void **state)
{
    (void)state;
    const char *kv[] = {"future", "x", "v", "1", "ti", "7", "try", "2"};
    queue_msg_t m;
    char err[128];
    assert_int_equal(decode_pairs(kv, 4, &m, err), 0);
    assert_int_equal(m.ti_id, 7);
    assert_int_equal(m.try_number, 2);
    assert_int_equal(m.enqueued_us, 0);
}

static void test_bad_messages_are_refused_with_the_reason(void **state)
{
    (void)state;
    queue_msg_t m;
    char err[128];
    const char *no_v[] = {"ti", "7", "try", "2"};
    assert_int_equal(decode_pairs(no_v, 2, &m, err), -1);
    assert_string_equal(err, "missing field 'v'");
    const char *v2[] = {"v", "2", "ti", "7", "try", "2"};
    assert_int_equal(decode_pairs(v2, 3, &m, err), -1);
    assert_string_equal(err, "unsupported message version 2");
    const char *neg[] = {"v", "1", "ti", "-7", "try", "2"};
    assert_int_equal(decode_pairs(neg, 3, &m, err), -1);
    assert_string_equal(err, "field 'ti' is not a decimal number");
    const char *zero[] = {"v", "1", "ti", "0", "try", "2"};
    assert_int_equal(decode_pairs(zero, 3, &m, err), -1);
    assert_string_equal(err, "field 'ti' must be positive");
    const char *notry[] = {"v", "1", "ti", "9"};
    assert_int_equal(decode_pairs(notry, 2, &m, err), -1);
    assert_string_equal(err, "missing field 'try'");
    const char *bigtry[] = {"v", "1", "ti", "9", "try", "99999999999"};
    assert_int_equal(decode_pairs(bigtry, 3, &m, err), -1);
    assert_string_equal(err, "field 'try' out of range");
    const char *huge[] = {"v", "1", "ti", "9999999999999999999999", "try", "1"};
    assert_int_equal(decode_pairs(huge, 3, &m, err), -1);
    const char *empty[] = {"v", "1", "ti", "", "try", "1"};
    assert_int_equal(decode_pairs(empty, 3, &m, err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_round_trips),
        cmocka_unit_test(test_encode_rejects_invalid),
        cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_bad_messages_are_refused_with_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
