/*
 * test_xcom.c - the pure parts of store/xcom.c: the $UPDRAFT_XCOM_FILE
 * format and the UTF-8 check that keeps jsonb from refusing a value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/xcom.h"
#include "core/utf8.h"

static int parse(const char *text, size_t max, xcom_kv_t **kv, size_t *n, char *err)
{
    return xcom_parse_file(text, strlen(text), max, kv, n, err, 256);
}

static void test_xcom_file_values_parse(void **state)
{
    (void)state;
    xcom_kv_t *kv;
    size_t n;
    char err[256];
    assert_int_equal(
        parse("{\"a\": {\"b\": [1, 2]}, \"s\": \"x\", \"z\": null}", 1024, &kv, &n, err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(kv[0].key, "a");
    assert_string_equal(kv[0].json, "{\"b\":[1,2]}");
    assert_string_equal(kv[1].json, "\"x\"");
    assert_string_equal(kv[2].json, "null");
    xcom_kv_free(kv, n);
    assert_int_equal(parse(" \n", 1024, &kv, &n, err), 0); /* empty: nothing pushed */
    assert_int_equal(n, 0);
    assert_null(kv);
}

static void test_bad_xcom_files_are_refused(void **state)
{
    (void)state;
    xcom_kv_t *kv;
    size_t n;
    char err[256];
    assert_int_equal(parse("[1, 2]", 1024, &kv, &n, err), UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "JSON object"));
    assert_int_equal(parse("{\"a\": 1", 1024, &kv, &n, err), UPDRAFT_EINVALID);
    assert_int_equal(parse("{\"\": 1}", 1024, &kv, &n, err), UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "key"));
    assert_int_equal(parse("{\"big\": \"0123456789\"}", 8, &kv, &n, err), UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "'big' is larger than 8 bytes"));
    assert_int_equal(parse("{\"a\": \"\xff\"}", 1024, &kv, &n, err), UPDRAFT_EINVALID);
    assert_non_null(strstr(err, "UTF-8"));
    assert_null(kv);
    assert_int_equal(n, 0);
}

static void test_utf8_validity(void **state)
{
    (void)state;
    assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    assert_false(utf8_valid("\xc3", 1));         /* truncated */
    assert_false(utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(utf8_valid("a\0b", 3));         /* NUL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xcom_file_values_parse),
        cmocka_unit_test(test_bad_xcom_files_are_refused),
        cmocka_unit_test(test_utf8_validity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
