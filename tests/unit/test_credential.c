/*
 * test_credential.c - passwords (yescrypt round trip, wrong and missing
 * hashes), random passwords and tokens (alphabet, length, prefix,
 * uniqueness), SHA-256 and HMAC-SHA256 against published vectors, and
 * the constant-time comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/credential.h"

static void test_a_hashed_password_verifies_and_is_not_the_password(void **state)
{
    (void)state;
    char h[CREDENTIAL_HASH_MAX], h2[CREDENTIAL_HASH_MAX], err[128] = "";

    assert_int_equal(credential_hash_password("correct horse", h, sizeof(h), err, sizeof(err)), 0);
    assert_memory_equal(h, "$y$", 3);
    assert_null(strstr(h, "correct"));
    assert_true(credential_verify_password("correct horse", h));
    /* A fresh salt each time: the same password hashes differently. */
    assert_int_equal(credential_hash_password("correct horse", h2, sizeof(h2), err, sizeof(err)),
                     0);
    assert_string_not_equal(h, h2);
    assert_true(credential_verify_password("correct horse", h2));
}

static void test_a_wrong_password_does_not_verify(void **state)
{
    (void)state;
    char h[CREDENTIAL_HASH_MAX], err[128];

    assert_int_equal(credential_hash_password("s3cret!", h, sizeof(h), err, sizeof(err)), 0);
    assert_false(credential_verify_password("s3cret", h));
    assert_false(credential_verify_password("s3cret!!", h));
    assert_false(credential_verify_password("S3cret!", h));
    assert_false(credential_verify_password("", h));
    assert_false(credential_verify_password(NULL, h));
}

static void test_a_missing_or_garbage_stored_hash_never_verifies(void **state)
{
    (void)state;
    const char *bad[] = {NULL,          "",        "password",
                         "$y$",         "$y$j9T$", "$1$abc$def",
                         "$y$j9T$x$\n", "*0",      "$2b$10$abcdefghijklmnopqrstuv"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(credential_verify_password("password", bad[i]));
        assert_false(credential_verify_password("", bad[i]));
    }
}

static void test_passwords_outside_the_limits_are_refused_without_echo(void **state)
{
    (void)state;
    char h[CREDENTIAL_HASH_MAX], err[128] = "";
    char *longpw = malloc(CREDENTIAL_PASSWORD_MAX + 2);

    assert_non_null(longpw);
    memset(longpw, 'p', CREDENTIAL_PASSWORD_MAX + 1);
    longpw[CREDENTIAL_PASSWORD_MAX + 1] = '\0';
    assert_int_equal(credential_hash_password("", h, sizeof(h), err, sizeof(err)), -1);
    assert_int_equal(credential_hash_password(longpw, h, sizeof(h), err, sizeof(err)), -1);
    assert_null(strstr(err, "ppp"));
    assert_true(err[0] != '\0');
    /* The longest accepted one round-trips. */
    longpw[CREDENTIAL_PASSWORD_MAX] = '\0';
    assert_int_equal(credential_hash_password(longpw, h, sizeof(h), err, sizeof(err)), 0);
    assert_true(credential_verify_password(longpw, h));
    free(longpw);
}

static void test_random_passwords_are_alphanumeric_of_the_asked_length(void **state)
{
    (void)state;
    char a[65], b[65];

    assert_int_equal(credential_random_password(a, 7), -1);
    assert_int_equal(credential_random_password(a, 65), -1);
    for (size_t len = 8; len <= 64; len += 8) {
        assert_int_equal(credential_random_password(a, len), 0);
        assert_int_equal(strlen(a), len);
        assert_int_equal(
            strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), len);
    }
    assert_int_equal(credential_random_password(a, 32), 0);
    assert_int_equal(credential_random_password(b, 32), 0);
    assert_string_not_equal(a, b);
}

static void test_tokens_carry_their_prefix_and_43_url_safe_characters(void **state)
{
    (void)state;
    char t[CREDENTIAL_TOKEN_MAX], u[CREDENTIAL_TOKEN_MAX];
    const char *safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    assert_int_equal(credential_new_token(CREDENTIAL_TOKEN_PREFIX, t, sizeof(t)), 0);
    assert_int_equal(strlen(t), strlen(CREDENTIAL_TOKEN_PREFIX) + 43);
    assert_memory_equal(t, CREDENTIAL_TOKEN_PREFIX, strlen(CREDENTIAL_TOKEN_PREFIX));
    assert_int_equal(strspn(t + 4, safe), 43);
    assert_int_equal(credential_new_token("", u, sizeof(u)), 0);
    assert_int_equal(strlen(u), 43);
    assert_int_equal(strspn(u, safe), 43);
    /* Too small a buffer is refused. */
    assert_int_equal(credential_new_token("udt_", t, 47), -1);
}

static void test_tokens_do_not_repeat(void **state)
{
    (void)state;
    enum { N = 200 };
    char(*t)[CREDENTIAL_TOKEN_MAX] = calloc(N, CREDENTIAL_TOKEN_MAX);

    assert_non_null(t);
    for (int i = 0; i < N; i++) {
        assert_int_equal(credential_new_token("udt_", t[i], CREDENTIAL_TOKEN_MAX), 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(t[i], t[j]);
    }
    free(t);
}

static void test_digest_is_hex_sha256(void **state)
{
    (void)state;
    char hex[CREDENTIAL_DIGEST_LEN + 1];

    credential_digest("abc", hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    credential_digest("", hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_is_hex_hmac_sha256(void **state)
{
    (void)state;
    char hex[CREDENTIAL_DIGEST_LEN + 1];

    credential_hmac("key", "The quick brown fox jumps over the lazy dog", hex);
    assert_string_equal(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    /* RFC 4231 test case 2. */
    credential_hmac("Jefe", "what do ya want for nothing?", hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_equal_compares_whole_strings(void **state)
{
    (void)state;
    assert_true(credential_equal("abc", "abc"));
    assert_true(credential_equal("", ""));
    assert_false(credential_equal("abc", "abd"));
    assert_false(credential_equal("abc", "ab"));
    assert_false(credential_equal("ab", "abc"));
    assert_false(credential_equal(NULL, "abc"));
    assert_false(credential_equal("abc", NULL));
}

static void test_wipe_zeroes_the_buffer(void **state)
{
    (void)state;
    char buf[16] = "secret-secret";
    char zero[16] = {0};

    credential_wipe(buf, sizeof(buf));
    assert_memory_equal(buf, zero, sizeof(buf));
    credential_wipe(NULL, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_hashed_password_verifies_and_is_not_the_password),
        cmocka_unit_test(test_a_wrong_password_does_not_verify),
        cmocka_unit_test(test_a_missing_or_garbage_stored_hash_never_verifies),
        cmocka_unit_test(test_passwords_outside_the_limits_are_refused_without_echo),
        cmocka_unit_test(test_random_passwords_are_alphanumeric_of_the_asked_length),
        cmocka_unit_test(test_tokens_carry_their_prefix_and_43_url_safe_characters),
        cmocka_unit_test(test_tokens_do_not_repeat),
        cmocka_unit_test(test_digest_is_hex_sha256),
        cmocka_unit_test(test_hmac_is_hex_hmac_sha256),
        cmocka_unit_test(test_equal_compares_whole_strings),
        cmocka_unit_test(test_wipe_zeroes_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
