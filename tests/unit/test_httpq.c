/* test_httpq.c - query string, path, paging and ordering parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "webserver/httpq.h"

static void test_url_decode_handles_plus_and_percent(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(httpq_url_decode("a%2Bb+c", 7, true, out, sizeof(out)), 5);
    assert_string_equal(out, "a+b c");
    assert_int_equal(httpq_url_decode("a+b", 3, false, out, sizeof(out)), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(httpq_url_decode("%zz", 3, true, out, sizeof(out)), -1);
    assert_int_equal(httpq_url_decode("%2", 2, true, out, sizeof(out)), -1);
    assert_int_equal(httpq_url_decode("a%00", 4, true, out, sizeof(out)), -1);
    assert_int_equal(httpq_url_decode("abcdef", 6, true, out, 4), -1);
}

static void test_query_string_parses_repeated_keys(void **state)
{
    httpq_t q = {0};
    char err[128];
    (void)state;
    assert_int_equal(httpq_parse(&q, "state=success&state=failed&x&limit=5&&", err, sizeof(err)),
                     0);
    assert_int_equal(q.n, 4);
    assert_int_equal(httpq_count(&q, "state"), 2);
    assert_string_equal(httpq_get_nth(&q, "state", 1), "failed");
    assert_string_equal(httpq_get(&q, "x"), "");
    assert_null(httpq_get(&q, "nope"));
    static const char *const allowed[] = {"state", "limit", NULL};
    assert_int_equal(httpq_check_allowed(&q, allowed, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "x"));
    httpq_free(&q);

    assert_int_equal(httpq_parse(&q, "=1", err, sizeof(err)), -1);
    assert_int_equal(httpq_parse(&q, "a=%G0", err, sizeof(err)), -1);
    assert_int_equal(httpq_parse(&q, NULL, err, sizeof(err)), 0);
    assert_int_equal(q.n, 0);
}

static void test_limit_and_offset_are_bounded(void **state)
{
    httpq_t q = {0};
    char err[128];
    int64_t limit, offset;
    (void)state;
    assert_int_equal(httpq_parse(&q, "", err, sizeof(err)), 0);
    assert_int_equal(httpq_get_page(&q, 100, 1000, &limit, &offset, err, sizeof(err)), 0);
    assert_int_equal(limit, 100);
    assert_int_equal(offset, 0);
    assert_int_equal(httpq_parse(&q, "limit=5000&offset=7", err, sizeof(err)), 0);
    assert_int_equal(httpq_get_page(&q, 100, 1000, &limit, &offset, err, sizeof(err)), 0);
    assert_int_equal(limit, 1000);
    assert_int_equal(offset, 7);
    httpq_free(&q);
    assert_int_equal(httpq_parse(&q, "limit=abc", err, sizeof(err)), 0);
    assert_int_equal(httpq_get_page(&q, 100, 1000, &limit, &offset, err, sizeof(err)), -1);
    httpq_free(&q);
    assert_int_equal(httpq_parse(&q, "offset=-1", err, sizeof(err)), 0);
    assert_int_equal(httpq_get_page(&q, 100, 1000, &limit, &offset, err, sizeof(err)), -1);
    httpq_free(&q);
}

static void test_boolean_parameters_parse(void **state)
{
    httpq_t q = {0};
    char err[128];
    bool b = false;
    (void)state;
    assert_int_equal(httpq_parse(&q, "a=TRUE&b=0&c=yes", err, sizeof(err)), 0);
    assert_int_equal(httpq_get_bool(&q, "a", &b, err, sizeof(err)), 1);
    assert_true(b);
    assert_int_equal(httpq_get_bool(&q, "b", &b, err, sizeof(err)), 1);
    assert_false(b);
    assert_int_equal(httpq_get_bool(&q, "c", &b, err, sizeof(err)), -1);
    assert_int_equal(httpq_get_bool(&q, "d", &b, err, sizeof(err)), 0);
    httpq_free(&q);
}

static void test_order_by_resolves_to_allowed_columns(void **state)
{
    static const httpq_sort_t s[] = {{"id", "dr.id"}, {"dag_run_id", "dr.run_id"}};
    const char *sql = NULL;
    bool desc = false;
    char err[128];
    (void)state;
    assert_int_equal(httpq_order_by("-dag_run_id", s, 2, "id", &sql, &desc, err, sizeof(err)), 0);
    assert_string_equal(sql, "dr.run_id");
    assert_true(desc);
    assert_int_equal(httpq_order_by(NULL, s, 2, "id", &sql, &desc, err, sizeof(err)), 0);
    assert_string_equal(sql, "dr.id");
    assert_false(desc);
    assert_int_equal(httpq_order_by("id; drop table x", s, 2, "id", &sql, &desc, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "disallowed"));
}

static void test_path_splits_and_decodes(void **state)
{
    httpq_path_t p;
    const char *caps[4];
    size_t n = 0;
    char err[128];
    (void)state;
    assert_int_equal(
        httpq_path_split("/api/v1/dags/etl/dagRuns/manual__2024-01-01T00%3A00%3A00+00:00/", true,
                         &p, err, sizeof(err)),
        0);
    assert_int_equal(p.n, 6);
    assert_true(httpq_path_match(&p, "/api/v1/dags/{}/dagRuns/{}", caps, 4, &n));
    assert_int_equal(n, 2);
    assert_string_equal(caps[0], "etl");
    assert_string_equal(caps[1], "manual__2024-01-01T00:00:00+00:00");
    assert_false(httpq_path_match(&p, "/api/v1/dags/{}", caps, 4, &n));
    assert_false(httpq_path_match(&p, "/api/v1/dags/{}/dagRuns/{}/taskInstances", caps, 4, &n));
    /* A last "*" takes the rest of the path, however long, even none of it. */
    assert_true(httpq_path_match(&p, "/api/v1/dags/{}/*", caps, 4, &n));
    assert_int_equal(n, 1);
    assert_string_equal(caps[0], "etl");
    assert_true(httpq_path_match(&p, "/api/v1/dags/{}/dagRuns/{}/*", caps, 4, &n));
    assert_false(httpq_path_match(&p, "/api/v2/*", caps, 4, &n));
    httpq_path_free(&p);
    assert_int_equal(httpq_path_split("/a/%0a", true, &p, err, sizeof(err)), -1);
    assert_int_equal(httpq_path_split("no-slash", true, &p, err, sizeof(err)), -1);
    assert_int_equal(
        httpq_path_split("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", true, &p, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode_handles_plus_and_percent),
        cmocka_unit_test(test_query_string_parses_repeated_keys),
        cmocka_unit_test(test_limit_and_offset_are_bounded),
        cmocka_unit_test(test_boolean_parameters_parse),
        cmocka_unit_test(test_order_by_resolves_to_allowed_columns),
        cmocka_unit_test(test_path_splits_and_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
