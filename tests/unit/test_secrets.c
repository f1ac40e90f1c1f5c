/*
 * test_secrets.c - AES-256-GCM at rest: round trips, tampering, wrong and
 * rotated keys, key parsing, sensitive names; the variable environment
 * override.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/secrets.h"
#include "model/sensitive.h"
#include "store/variables.h"

/* Two fixed random keys (base64 of 32 bytes), and one in URL-safe base64 unpadded. */
#define KEY_A "UOxxCEwNymBV+VhOX26JohqbGKSgjZ6pJwksNlerkr0="
#define KEY_B "NUn6LyU/MnoSr9EEXRYtxbLQaTevhJszburMZg8E7dk="
#define KEY_URLSAFE "Oel8ynjfOaiVFu8Fp_oerMAuODceV-Q7o4Ms9C3JOPg"

static secrets_keyring_t *ring_of(const char *spec)
{
    char err[256] = "";
    secrets_keyring_t *r = secrets_keyring_new(spec, err, sizeof(err));
    if (!r)
        fail_msg("keyring '%s': %s", spec, err);
    return r;
}

static void test_encrypted_values_round_trip(void **state)
{
    (void)state;
    secrets_keyring_t *r = ring_of(KEY_A);
    const char *vals[] = {"", "x", "p@ss:w/rd?&=%", "a longer value with\nnewlines\tand tabs"};
    char err[256];

    assert_int_equal(secrets_keyring_count(r), 1);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char *ct = NULL, *pt = NULL;
        size_t len = 99;
        assert_int_equal(secrets_encrypt(r, "ctx", vals[i], strlen(vals[i]), &ct, err, sizeof(err)),
                         0);
        assert_true(secrets_is_ciphertext(ct));
        assert_memory_equal(ct, "v1:", 3);
        assert_memory_equal(ct + 3, secrets_keyring_key_id(r, 0), SECRETS_KEY_ID_LEN);
        if (strlen(vals[i]) >= 8) /* a short one may occur in base64 by chance */
            assert_null(strstr(ct, vals[i]));
        assert_int_equal(secrets_decrypt(r, "ctx", ct, &pt, &len, err, sizeof(err)), 0);
        assert_string_equal(pt, vals[i]);
        assert_int_equal(len, strlen(vals[i]));
        secrets_free_str(pt);
        free(ct);
    }
    secrets_keyring_free(r);
}

static void test_nonce_is_random(void **state)
{
    (void)state;
    secrets_keyring_t *r = ring_of(KEY_A);
    char *a = NULL, *b = NULL, err[256];
    assert_int_equal(secrets_encrypt(r, "c", "same", 4, &a, err, sizeof(err)), 0);
    assert_int_equal(secrets_encrypt(r, "c", "same", 4, &b, err, sizeof(err)), 0);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    secrets_keyring_free(r);
}

static void test_tamper_detected(void **state)
{
    (void)state;
    secrets_keyring_t *r = ring_of(KEY_A);
    char *ct = NULL, *pt = NULL, err[256];
    assert_int_equal(secrets_encrypt(r, "variable:k", "hunter2", 7, &ct, err, sizeof(err)), 0);
    /* flip one base64 character in the body */
    size_t pos = strlen(ct) - 6;
    ct[pos] = ct[pos] == 'A' ? 'B' : 'A';
    assert_int_equal(secrets_decrypt(r, "variable:k", ct, &pt, NULL, err, sizeof(err)), -1);
    assert_null(pt);
    assert_non_null(strstr(err, "authentication"));
    ct[pos] = ct[pos] == 'A' ? 'B' : 'A';
    free(ct);
    /* truncated */
    assert_int_equal(secrets_encrypt(r, "c", "hunter2", 7, &ct, err, sizeof(err)), 0);
    ct[20] = '\0';
    assert_int_equal(secrets_decrypt(r, "c", ct, &pt, NULL, err, sizeof(err)), -1);
    free(ct);
    /* not ciphertext at all */
    assert_int_equal(secrets_decrypt(r, "c", "hunter2", &pt, NULL, err, sizeof(err)), -1);
    assert_false(secrets_is_ciphertext("v1:zzzzzzzz:abc"));
    assert_false(secrets_is_ciphertext(NULL));
    secrets_keyring_free(r);
}

static void test_ciphertext_is_bound_to_its_context(void **state)
{
    (void)state;
    secrets_keyring_t *r = ring_of(KEY_A);
    char *ct = NULL, *pt = NULL, err[256];
    assert_int_equal(secrets_encrypt(r, "variable:a", "v", 1, &ct, err, sizeof(err)), 0);
    assert_int_equal(secrets_decrypt(r, "variable:b", ct, &pt, NULL, err, sizeof(err)), -1);
    assert_null(pt);
    free(ct);
    secrets_keyring_free(r);
}

static void test_wrong_key_cannot_decrypt(void **state)
{
    (void)state;
    secrets_keyring_t *a = ring_of(KEY_A), *b = ring_of(KEY_B), *none = ring_of("");
    char *ct = NULL, *pt = NULL, err[256];
    assert_int_equal(secrets_encrypt(a, "c", "secret", 6, &ct, err, sizeof(err)), 0);
    assert_int_equal(secrets_decrypt(b, "c", ct, &pt, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not among the configured keys"));
    assert_int_equal(secrets_decrypt(none, "c", ct, &pt, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no key is configured"));
    /* a ring without a key cannot encrypt */
    free(ct);
    ct = NULL;
    assert_int_equal(secrets_encrypt(none, "c", "x", 1, &ct, err, sizeof(err)), -1);
    assert_null(ct);
    assert_non_null(strstr(err, "fernet_key"));
    /* a forged key id matching B but sealed under A fails authentication */
    assert_int_equal(secrets_encrypt(a, "c", "secret", 6, &ct, err, sizeof(err)), 0);
    memcpy(ct + 3, secrets_keyring_key_id(b, 0), SECRETS_KEY_ID_LEN);
    assert_int_equal(secrets_decrypt(b, "c", ct, &pt, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "authentication"));
    free(ct);
    secrets_keyring_free(a);
    secrets_keyring_free(b);
    secrets_keyring_free(none);
}

static void test_rotation_decrypts_with_either_key(void **state)
{
    (void)state;
    secrets_keyring_t *old = ring_of(KEY_A);
    secrets_keyring_t *both = ring_of(KEY_B ", " KEY_A);
    secrets_keyring_t *newonly = ring_of(KEY_B);
    char *ct_old = NULL, *ct_new = NULL, *pt = NULL, err[256];

    assert_int_equal(secrets_keyring_count(both), 2);
    assert_int_equal(secrets_encrypt(old, "c", "pw", 2, &ct_old, err, sizeof(err)), 0);
    /* both keys decrypt the old value; the first encrypts */
    assert_int_equal(secrets_decrypt(both, "c", ct_old, &pt, NULL, err, sizeof(err)), 0);
    assert_string_equal(pt, "pw");
    assert_int_equal(secrets_encrypt(both, "c", pt, strlen(pt), &ct_new, err, sizeof(err)), 0);
    secrets_free_str(pt);
    assert_memory_equal(ct_new + 3, secrets_keyring_key_id(newonly, 0), SECRETS_KEY_ID_LEN);
    /* after dropping the old key: the re-encrypted value reads, the old does not */
    assert_int_equal(secrets_decrypt(newonly, "c", ct_new, &pt, NULL, err, sizeof(err)), 0);
    assert_string_equal(pt, "pw");
    secrets_free_str(pt);
    assert_int_equal(secrets_decrypt(newonly, "c", ct_old, &pt, NULL, err, sizeof(err)), -1);
    free(ct_old);
    free(ct_new);
    secrets_keyring_free(old);
    secrets_keyring_free(both);
    secrets_keyring_free(newonly);
}

static void test_keys_parse_in_both_base64_forms(void **state)
{
    (void)state;
    char err[256];
    secrets_keyring_t *r;
    char gen[64];

    r = ring_of(KEY_URLSAFE);
    assert_int_equal(secrets_keyring_count(r), 1);
    secrets_keyring_free(r);
    /* unpadded standard base64 */
    r = ring_of("NUn6LyU/MnoSr9EEXRYtxbLQaTevhJszburMZg8E7dk");
    assert_int_equal(secrets_keyring_count(r), 1);
    secrets_keyring_free(r);
    r = ring_of(NULL);
    assert_int_equal(secrets_keyring_count(r), 0);
    assert_null(secrets_keyring_key_id(r, 0));
    secrets_keyring_free(r);

    const char *bad[] = {"short", "NUn6LyU/MnoSr9EEXRYtxbLQaTevhJszburM", KEY_A ",",
                         "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(secrets_keyring_new(bad[i], err, sizeof(err)));
        assert_non_null(strstr(err, "core.fernet_key"));
        /* the message never repeats the key */
        assert_null(strstr(err, "NUn6LyU/"));
    }
    assert_int_equal(secrets_generate_key(gen, sizeof(gen)), 0);
    assert_int_equal(strlen(gen), 44);
    r = ring_of(gen);
    assert_int_equal(secrets_keyring_count(r), 1);
    secrets_keyring_free(r);
}

/*
 * A key that is not random (all zero bytes, one byte repeated, a short
 * block repeated, a counting sequence, printable text) is refused with a
 * message that says why and never repeats the key, whichever position in
 * the list it has.
 */
static void test_weak_keys_are_refused(void **state)
{
    (void)state;
    static const char *const weak[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* 32 zero bytes */
        "//////////////////////////////////////////8=", /* 32 x 0xff */
        "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", /* "AAAA...": one byte repeated */
        "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=", /* 8 bytes repeated four times */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", /* 00 01 02 ... 1f */
        "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=", /* 1f 1e ... 00 */
        "bXktb3duLXN1cGVyLXNlY3JldC1mZXJuZXQta2V5ISE=", /* "my-own-super-secret-fernet-key!!" */
    };
    char err[256], spec[128];

    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        for (int second = 0; second < 2; second++) {
            snprintf(spec, sizeof(spec), second ? "%s,%s" : "%s", second ? KEY_A : weak[i],
                     weak[i]);
            err[0] = '\0';
            secrets_keyring_t *r = secrets_keyring_new(spec, err, sizeof(err));
            if (r)
                fail_msg("weak key %zu accepted: %s", i, weak[i]);
            assert_non_null(strstr(err, "core.fernet_key"));
            assert_non_null(strstr(err, second ? "key 2" : "key 1"));
            assert_non_null(strstr(err, "not random"));
            assert_null(strstr(err, weak[i]));
        }
    }
    /* random keys pass, generated ones included */
    for (int i = 0; i < 200; i++) {
        char gen[64];
        assert_int_equal(secrets_generate_key(gen, sizeof(gen)), 0);
        secrets_keyring_free(ring_of(gen));
    }
}

static void test_sensitive_names_are_recognised(void **state)
{
    (void)state;
    assert_true(secrets_name_is_sensitive("db_password"));
    assert_true(secrets_name_is_sensitive("MY_SECRET"));
    assert_true(secrets_name_is_sensitive("Api_Key"));
    assert_true(secrets_name_is_sensitive("github_access_token"));
    assert_true(secrets_name_is_sensitive("Authorization"));
    assert_true(secrets_name_is_sensitive("apikey"));
    assert_true(secrets_name_is_sensitive("passwd"));
    assert_false(secrets_name_is_sensitive("bucket_name"));
    assert_false(secrets_name_is_sensitive("pass"));
    assert_false(secrets_name_is_sensitive(NULL));
}

static int collect_leaf(const cJSON *leaf, void *ud)
{
    char *out = ud, *text = cJSON_PrintUnformatted(leaf);
    assert_non_null(text);
    strcat(out, text);
    strcat(out, " ");
    cJSON_free(text);
    return 0;
}

/*
 * Every value under a secret-looking key, at any depth and the whole
 * subtree of such a key, is found and redacted; the rest is kept.
 */
static void test_values_under_secret_keys_are_found_at_any_depth(void **state)
{
    (void)state;
    cJSON *doc =
        cJSON_Parse("{\"db\": {\"host\": \"h\", \"password\": \"p1\"}, \"auth\": "
                    "{\"token\": [\"t1\", {\"x\": \"t2\"}]}, \"private_key\": "
                    "{\"pem\": \"k1\", \"bits\": 2048}, \"list\": [{\"Api_Key\": \"a1\"}], "
                    "\"n\": 5}");
    char found[256] = "";
    char *text;

    assert_non_null(doc);
    assert_true(sensitive_json_has(doc));
    assert_int_equal(sensitive_json_each(doc, false, collect_leaf, found), 0);
    assert_string_equal(found, "\"p1\" \"t1\" \"t2\" \"k1\" 2048 \"a1\" ");
    assert_int_equal(sensitive_json_redact(doc), 0);
    text = cJSON_PrintUnformatted(doc);
    assert_string_equal(text, "{\"db\":{\"host\":\"h\",\"password\":\"***\"},\"auth\":{\"token\":"
                              "[\"***\",{\"x\":\"***\"}]},\"private_key\":{\"pem\":\"***\","
                              "\"bits\":\"***\"},\"list\":[{\"Api_Key\":\"***\"}],\"n\":5}");
    cJSON_free(text);
    cJSON_Delete(doc);

    doc = cJSON_Parse("{\"a\": {\"b\": [1, \"c\"]}}");
    assert_false(sensitive_json_has(doc));
    found[0] = '\0';
    assert_int_equal(sensitive_json_each(doc, false, collect_leaf, found), 0);
    assert_string_equal(found, "");
    assert_int_equal(sensitive_json_each(doc, true, collect_leaf, found), 0);
    assert_string_equal(found, "1 \"c\" ");
    cJSON_Delete(doc);
}

static void test_env_variable_overrides_by_name(void **state)
{
    (void)state;
    char *v = NULL;
    unsetenv("UPDRAFT_VAR_MY_BUCKET");
    unsetenv("AIRFLOW_VAR_MY_BUCKET");
    assert_int_equal(variables_env_lookup("my_bucket", &v), UPDRAFT_ENOTFOUND);
    assert_null(v);
    setenv("AIRFLOW_VAR_MY_BUCKET", "from-airflow", 1);
    assert_int_equal(variables_env_lookup("my_bucket", &v), 0);
    assert_string_equal(v, "from-airflow");
    secrets_free_str(v);
    setenv("UPDRAFT_VAR_MY_BUCKET", "from-updraft", 1);
    assert_int_equal(variables_env_lookup("my_bucket", &v), 0);
    assert_string_equal(v, "from-updraft");
    secrets_free_str(v);
    unsetenv("UPDRAFT_VAR_MY_BUCKET");
    unsetenv("AIRFLOW_VAR_MY_BUCKET");

    char err[128];
    assert_int_equal(variables_validate_key("ok.key-1", err, sizeof(err)), 0);
    assert_int_equal(variables_validate_key("", err, sizeof(err)), UPDRAFT_EINVALID);
    assert_int_equal(variables_validate_key("a\nb", err, sizeof(err)), UPDRAFT_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encrypted_values_round_trip),
        cmocka_unit_test(test_nonce_is_random),
        cmocka_unit_test(test_tamper_detected),
        cmocka_unit_test(test_ciphertext_is_bound_to_its_context),
        cmocka_unit_test(test_wrong_key_cannot_decrypt),
        cmocka_unit_test(test_rotation_decrypts_with_either_key),
        cmocka_unit_test(test_keys_parse_in_both_base64_forms),
        cmocka_unit_test(test_weak_keys_are_refused),
        cmocka_unit_test(test_sensitive_names_are_recognised),
        cmocka_unit_test(test_values_under_secret_keys_are_found_at_any_depth),
        cmocka_unit_test(test_env_variable_overrides_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
