/* test_http.c - the webserver's response helpers: gzip negotiation and compression. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "core/error.h"
#include "webserver/http.h"

static void test_accept_encoding_takes_gzip_unless_refused(void **state)
{
    static const struct {
        const char *header;
        bool takes;
    } cases[] = {
        {"gzip", true},
        {"gzip, deflate, br", true},
        {"br;q=1.0, GZIP;q=0.5", true},
        {"deflate , gzip ; q=0.001", true},
        {"gzip;q=1", true},
        {"gzip;q=0", false},
        {"gzip; q=0.0", false},
        {"deflate, br", false},
        {"x-gzip", false},
        {"gzipped", false},
        {"identity", false},
        {"", false},
        {NULL, false},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (http_takes_gzip(cases[i].header) != cases[i].takes)
            fail_msg("Accept-Encoding: %s: expected %s",
                     cases[i].header ? cases[i].header : "(none)",
                     cases[i].takes ? "gzip" : "no gzip");
    }
}

/* Inflates a gzip stream of gzlen bytes into out (cap bytes); the length, or -1. */
static long gunzip(const unsigned char *gz, size_t gzlen, char *out, size_t cap)
{
    z_stream z = {0};
    long n;

    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -1;
    z.next_in = (Bytef *)(uintptr_t)gz;
    z.avail_in = (uInt)gzlen;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    n = inflate(&z, Z_FINISH) == Z_STREAM_END && z.avail_in == 0 ? (long)z.total_out : -1;
    inflateEnd(&z);
    return n;
}

static void test_gzip_round_trips_and_shrinks_json(void **state)
{
    size_t len = 0, gzlen;
    unsigned char *gz;
    char *json = malloc(200000), *back = malloc(200000);
    (void)state;

    assert_non_null(json);
    assert_non_null(back);
    len += (size_t)sprintf(json, "{\"runs\":[");
    for (int i = 0; i < 2000; i++)
        len += (size_t)sprintf(json + len, "%s[\"success\",%d,1704067200.%d,null]", i ? "," : "",
                               i % 3, i % 10);
    len += (size_t)sprintf(json + len, "]}");
    assert_int_equal(http_gzip(json, len, HTTP_GZIP_LEVEL, &gz, &gzlen), 0);
    assert_true(gzlen < len / 4);
    assert_int_equal(gz[0], 0x1f); /* the gzip magic, not a bare deflate stream */
    assert_int_equal(gz[1], 0x8b);
    assert_int_equal(gunzip(gz, gzlen, back, 200000), (long)len);
    assert_memory_equal(back, json, len);
    free(gz);
    free(json);
    free(back);
}

static void test_gzip_of_nothing_is_a_valid_empty_stream(void **state)
{
    unsigned char *gz;
    size_t gzlen;
    char back[8];
    (void)state;

    assert_int_equal(http_gzip("", 0, 1, &gz, &gzlen), 0);
    assert_true(gzlen > 0);
    assert_int_equal(gunzip(gz, gzlen, back, sizeof(back)), 0);
    free(gz);
}

static void test_gzip_refuses_a_bad_level(void **state)
{
    unsigned char *gz = (unsigned char *)"x";
    size_t gzlen = 7;
    (void)state;

    assert_int_equal(http_gzip("abc", 3, 10, &gz, &gzlen), UPDRAFT_EINVALID);
    assert_null(gz);
    assert_int_equal(gzlen, 0);
    assert_int_equal(http_gzip("abc", 3, -1, &gz, &gzlen), UPDRAFT_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_encoding_takes_gzip_unless_refused),
        cmocka_unit_test(test_gzip_round_trips_and_shrinks_json),
        cmocka_unit_test(test_gzip_of_nothing_is_a_valid_empty_stream),
        cmocka_unit_test(test_gzip_refuses_a_bad_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
