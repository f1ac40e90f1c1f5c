/*
 * test_apiwrite.c - the webserver's JSON writer (jsonw) and response cache
 * (apicache) without a server: comma placement, escaping, timestamps
 * against ts_format_iso, and the cache's generation, LRU and size rules.
 *
 * The test links the webserver's library and reaches the modules through
 * their headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "webserver/apicache.h"
#include "webserver/jsonw.h"

static void test_json_writer_nests_objects_and_arrays(void **state)
{
    jsonw_t w;
    (void)state;
    jsonw_init(&w, 0);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "a");
    jsonw_arr_begin(&w);
    jsonw_i64(&w, 1);
    jsonw_i64(&w, -2);
    jsonw_obj_begin(&w);
    jsonw_obj_end(&w);
    jsonw_null(&w);
    jsonw_arr_end(&w);
    jsonw_key(&w, "b");
    jsonw_bool(&w, true);
    jsonw_key(&w, "c");
    jsonw_arr_begin(&w);
    jsonw_arr_end(&w);
    jsonw_key(&w, "d");
    jsonw_raw(&w, "{\"x\":1}", 7);
    jsonw_obj_end(&w);
    assert_false(jsonw_failed(&w));
    assert_string_equal(jsonw_data(&w),
                        "{\"a\":[1,-2,{},null],\"b\":true,\"c\":[],\"d\":{\"x\":1}}");
    assert_int_equal(jsonw_len(&w), strlen(jsonw_data(&w)));
    jsonw_free(&w);
}

static void test_json_writer_writes_integer_limits_and_doubles(void **state)
{
    jsonw_t w;
    (void)state;
    jsonw_init(&w, 16);
    jsonw_arr_begin(&w);
    jsonw_i64(&w, INT64_MIN);
    jsonw_i64(&w, INT64_MAX);
    jsonw_i64(&w, 0);
    jsonw_arr_end(&w);
    assert_string_equal(jsonw_data(&w), "[-9223372036854775808,9223372036854775807,0]");
    jsonw_free(&w);
    assert_true(jsonw_is_number("12.5", 4));
    assert_true(jsonw_is_number("-1e+20", 6));
    assert_false(jsonw_is_number("NaN", 3));
    assert_false(jsonw_is_number("Infinity", 8));
    assert_false(jsonw_is_number("1.", 2));
    assert_false(jsonw_is_number("01", 2));
    assert_true(jsonw_is_int_text("-42", 3));
    assert_false(jsonw_is_int_text("4x", 2));
    assert_false(jsonw_is_int_text("-", 1));
}

static void test_json_writer_escapes_strings_readable_by_cjson(void **state)
{
    static const char in[] = "q\"b\\n\nt\tc\x01 \xc3\xa9";
    jsonw_t w;
    cJSON *back;
    (void)state;
    jsonw_init(&w, 0);
    jsonw_str(&w, in);
    assert_string_equal(jsonw_data(&w), "\"q\\\"b\\\\n\\nt\\tc\\u0001 \xc3\xa9\"");
    back = cJSON_Parse(jsonw_data(&w));
    assert_non_null(back);
    assert_string_equal(cJSON_GetStringValue(back), in);
    cJSON_Delete(back);
    jsonw_free(&w);

    jsonw_init(&w, 0);
    jsonw_str(&w, NULL);
    assert_string_equal(jsonw_data(&w), "null");
    jsonw_free(&w);
    jsonw_init(&w, 0);
    jsonw_strn(&w, "ab\0c", 4); /* a NUL byte is escaped, not a terminator */
    assert_string_equal(jsonw_data(&w), "\"ab\\u0000c\"");
    jsonw_free(&w);
}

static void test_json_writer_formats_timestamps_like_ts_format(void **state)
{
    static const int64_t cases[] = {
        0,
        1710068400123456,   /* 2024-03-10T11:00:00.123456 */
        -1,                 /* 1969-12-31T23:59:59.999999 */
        -62135596800000000, /* 0001-01-01 */
        951782400000000,    /* 2000-02-29 */
        4102444799999999,   /* 2099-12-31T23:59:59.999999 */
        253402300799999999, /* 9999-12-31T23:59:59.999999 */
        -86400000001,
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[TS_ISO_LEN + 2], iso[TS_ISO_LEN];
        jsonw_t w;
        jsonw_init(&w, 0);
        jsonw_ts(&w, cases[i]);
        snprintf(want, sizeof(want), "\"%s\"", ts_format_iso(cases[i], iso));
        assert_string_equal(jsonw_data(&w), want);
        jsonw_free(&w);
    }
}

static void test_deep_nesting_fails(void **state)
{
    jsonw_t w;
    (void)state;
    jsonw_init(&w, 0);
    for (int i = 0; i <= JSONW_MAX_DEPTH; i++)
        jsonw_arr_begin(&w);
    assert_true(jsonw_failed(&w));
    jsonw_free(&w);
}

static void test_cache_serves_only_the_current_generation(void **state)
{
    apicache_t *c = apicache_new(1 << 20, 1024);
    apicache_entry_t *e;
    uint64_t gen = 0, hits, misses;
    size_t len, bytes;
    (void)state;
    assert_non_null(c);
    assert_false(apicache_begin(c, &gen)); /* no listener: bypassed */
    apicache_set_listening(c, true);
    assert_true(apicache_begin(c, &gen));
    assert_null(apicache_get(c, "k", 1, gen));
    apicache_put(c, "k", 1, gen, "body", 4);
    e = apicache_get(c, "k", 1, gen);
    assert_non_null(e);
    assert_string_equal(apicache_entry_body(e, &len), "body");
    assert_int_equal(len, 4);
    apicache_bump(c); /* a write: the entry must not be served again */
    assert_true(apicache_begin(c, &gen));
    assert_null(apicache_get(c, "k", 1, gen));
    assert_string_equal(apicache_entry_body(e, &len), "body"); /* still referenced */
    apicache_release(c, e);
    /* An answer computed under an older generation is not stored. */
    apicache_put(c, "k", 1, gen - 1, "stale", 5);
    assert_null(apicache_get(c, "k", 1, gen));
    /* Keys differ by bytes, not by prefix. */
    apicache_put(c, "ab", 2, gen, "x", 1);
    assert_null(apicache_get(c, "a", 1, gen));
    assert_null(apicache_get(c, "abc", 3, gen));
    /* Too big for one entry: not stored. */
    {
        char big[2048];
        memset(big, 'x', sizeof(big));
        apicache_put(c, "big", 3, gen, big, sizeof(big));
        assert_null(apicache_get(c, "big", 3, gen));
    }
    apicache_stats(c, &hits, &misses, &bytes);
    assert_int_equal(hits, 1);
    assert_true(misses >= 5);
    assert_true(bytes > 0);
    apicache_free(c);
}

static void test_cache_evicts_least_recently_used_over_budget(void **state)
{
    size_t per = apicache_entry_cost(2, 100);
    apicache_t *c = apicache_new(per * 3, 1024);
    char body[100];
    apicache_entry_t *e;
    uint64_t gen = 1, hits, misses;
    size_t bytes;
    (void)state;
    memset(body, 'b', sizeof(body));
    apicache_put(c, "k1", 2, gen, body, sizeof(body));
    apicache_put(c, "k2", 2, gen, body, sizeof(body));
    apicache_put(c, "k3", 2, gen, body, sizeof(body));
    e = apicache_get(c, "k1", 2, gen); /* k1 becomes most recent */
    assert_non_null(e);
    apicache_release(c, e);
    apicache_put(c, "k4", 2, gen, body, sizeof(body)); /* evicts k2 */
    apicache_stats(c, &hits, &misses, &bytes);
    assert_true(bytes <= per * 3);
    assert_null(apicache_get(c, "k2", 2, gen));
    e = apicache_get(c, "k1", 2, gen);
    assert_non_null(e);
    apicache_release(c, e);
    e = apicache_get(c, "k4", 2, gen);
    assert_non_null(e);
    apicache_release(c, e);
    apicache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_writer_nests_objects_and_arrays),
        cmocka_unit_test(test_json_writer_writes_integer_limits_and_doubles),
        cmocka_unit_test(test_json_writer_escapes_strings_readable_by_cjson),
        cmocka_unit_test(test_json_writer_formats_timestamps_like_ts_format),
        cmocka_unit_test(test_deep_nesting_fails),
        cmocka_unit_test(test_cache_serves_only_the_current_generation),
        cmocka_unit_test(test_cache_evicts_least_recently_used_over_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
