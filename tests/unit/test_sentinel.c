/* Unit tests for the redis.sentinels list (core/sentinel.c) and its config checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/queue.h"
#include "core/sentinel.h"

typedef struct good_case {
    const char *list;
    size_t n;
    const char *hosts[3];
    int ports[3];
} good_case_t;

static const good_case_t good[] = {
    {"", 0, {NULL}, {0}},
    {"   ", 0, {NULL}, {0}},
    {"10.0.0.1:26379", 1, {"10.0.0.1"}, {26379}},
    {"s1", 1, {"s1"}, {SENTINEL_DEFAULT_PORT}},
    {"s1:5000,s2:5001,s3", 3, {"s1", "s2", "s3"}, {5000, 5001, 26379}},
    {" s1:1 , s2:65535 ,\ts3:2 ", 3, {"s1", "s2", "s3"}, {1, 65535, 2}},
    {"[::1]:26380,[fe80::1]", 2, {"::1", "fe80::1"}, {26380, 26379}},
    {"redis-sentinel-0.redis.svc.cluster.local:26379",
     1,
     {"redis-sentinel-0.redis.svc.cluster.local"},
     {26379}},
};

static void test_lists_that_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        sentinel_addr_t a[SENTINEL_MAX];
        size_t n = 99;
        char err[256] = "";
        if (sentinel_parse_list(good[i].list, a, SENTINEL_MAX, &n, err, sizeof(err)) != 0)
            fail_msg("'%s' refused: %s", good[i].list, err);
        assert_int_equal(n, good[i].n);
        for (size_t k = 0; k < n; k++) {
            assert_string_equal(a[k].host, good[i].hosts[k]);
            assert_int_equal(a[k].port, good[i].ports[k]);
        }
    }
    size_t n = 99;
    assert_int_equal(sentinel_parse_list(NULL, NULL, 0, &n, NULL, 0), 0);
    assert_int_equal(n, 0);
}

typedef struct bad_case {
    const char *list;
    const char *err; /* exact message */
} bad_case_t;

static const bad_case_t bad[] = {
    {"s1:", "redis.sentinels: 's1:': expected host:port"},
    {"s1:abc", "redis.sentinels: 's1:abc': bad port"},
    {"s1:0", "redis.sentinels: 's1:0': port out of range 1..65535"},
    {"s1:65536", "redis.sentinels: 's1:65536': port out of range 1..65535"},
    {"s1:1234567", "redis.sentinels: 's1:1234567': expected host:port"},
    {"s1:26379:1", "redis.sentinels: 's1:26379:1': expected host:port"},
    {":26379", "redis.sentinels: ':26379': bad host"},
    {"s1,,s2", "redis.sentinels: empty item in the list"},
    {"s1,", "redis.sentinels: empty item in the list"},
    {",s1", "redis.sentinels: empty item in the list"},
    {"s1 s2", "redis.sentinels: 's1 s2': bad host"},
    {"redis://s1:26379", "redis.sentinels: 'redis://s1:26379': expected host:port"},
    {"u:pw@s1:26379", "redis.sentinels: 'u:pw@s1:26379': expected host:port"},
    {"[::1", "redis.sentinels: '[::1': missing ']'"},
    {"[]:1", "redis.sentinels: '[]:1': bad host"},
    {"[::1]x", "redis.sentinels: '[::1]x': expected host:port"},
};

static void test_lists_that_are_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sentinel_addr_t a[SENTINEL_MAX];
        size_t n;
        char err[256] = "";
        if (sentinel_parse_list(bad[i].list, a, SENTINEL_MAX, &n, err, sizeof(err)) != -1)
            fail_msg("'%s' accepted", bad[i].list);
        assert_string_equal(err, bad[i].err);
    }
}

static void test_list_size_limits(void **state)
{
    (void)state;
    sentinel_addr_t a[SENTINEL_MAX];
    size_t n;
    char err[256] = "";
    assert_int_equal(sentinel_parse_list("a,b,c", a, 2, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "redis.sentinels: more than 2 sentinels");

    /* A host longer than the field, and a list longer than the cap, before any copy. */
    char host[300];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    assert_int_equal(sentinel_parse_list(host, a, SENTINEL_MAX, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad host"));
    char *big = malloc(SENTINEL_LIST_MAX + 2);
    assert_non_null(big);
    memset(big, 'x', SENTINEL_LIST_MAX + 1);
    big[SENTINEL_LIST_MAX + 1] = '\0';
    assert_int_equal(sentinel_parse_list(big, a, SENTINEL_MAX, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "redis.sentinels: longer than 4096 bytes");
    free(big);
}

static void test_config_checks_and_fills_the_target(void **state)
{
    (void)state;
    config_t c;
    char err[512] = "";
    unsetenv("UPDRAFT_CONFIG");
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    assert_string_equal(c.redis.sentinels, "");
    assert_string_equal(c.redis.master_name, "mymaster");
    assert_string_equal(c.redis.sentinel_password, "");
    config_free(&c);

    setenv("UPDRAFT__REDIS__SENTINELS", "10.0.0.1:26379,10.0.0.2,10.0.0.3:26379", 1);
    setenv("UPDRAFT__REDIS__MASTER_NAME", "updraft", 1);
    setenv("UPDRAFT__REDIS__SENTINEL_PASSWORD", "s3cret", 1);
    setenv("UPDRAFT__REDIS__URL", "redis://:pw@ignored:6379/3", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
    queue_target_t t;
    config_queue_target(&c, &t);
    assert_string_equal(t.sentinels, "10.0.0.1:26379,10.0.0.2,10.0.0.3:26379");
    assert_string_equal(t.master_name, "updraft");
    assert_string_equal(t.sentinel_password, "s3cret");
    assert_string_equal(t.url, "redis://:pw@ignored:6379/3");
    assert_int_equal(t.timeout_ms, 5000);
    /* The sentinel password is printed masked, like the url's. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    config_print(&c, f);
    fclose(f);
    assert_null(strstr(text, "s3cret"));
    free(text);
    config_free(&c);

    setenv("UPDRAFT__REDIS__SENTINELS", "s1:26379,,s2", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "redis.sentinels: empty item in the list"));

    setenv("UPDRAFT__REDIS__SENTINELS", "s1", 1);
    setenv("UPDRAFT__REDIS__URL", "unix:///run/redis.sock", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot be used with a unix:// redis.url"));

    setenv("UPDRAFT__REDIS__MASTER_NAME", "", 1);
    setenv("UPDRAFT__REDIS__URL", "redis://127.0.0.1:6379/0", 1);
    assert_int_equal(config_load(NULL, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "redis.master_name"));

    unsetenv("UPDRAFT__REDIS__SENTINELS");
    unsetenv("UPDRAFT__REDIS__MASTER_NAME");
    unsetenv("UPDRAFT__REDIS__SENTINEL_PASSWORD");
    unsetenv("UPDRAFT__REDIS__URL");
}

/* No sentinel listening: a connect fails with a message, and nothing leaks. */
static void test_connect_without_a_reachable_sentinel_fails_cleanly(void **state)
{
    (void)state;
    queue_target_t t = {.url = "redis://:pw@127.0.0.1:1/0",
                        .sentinels = "127.0.0.1:1,127.0.0.1:2",
                        .master_name = "mymaster",
                        .timeout_ms = 200};
    char err[512] = "";
    assert_null(queue_connect(&t, err, sizeof(err)));
    assert_non_null(strstr(err, "no sentinel knows master 'mymaster'"));
    assert_null(strstr(err, "pw"));
    t.sentinels = "127.0.0.1:1,,x";
    assert_null(queue_connect(&t, err, sizeof(err)));
    assert_string_equal(err, "redis.sentinels: empty item in the list");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists_that_parse),
        cmocka_unit_test(test_lists_that_are_refused),
        cmocka_unit_test(test_list_size_limits),
        cmocka_unit_test(test_config_checks_and_fills_the_target),
        cmocka_unit_test(test_connect_without_a_reachable_sentinel_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
