/*
 * test_guard.c - what a request must be before routing (webserver/guard.c)
 * and how a JSON body's type and text are checked (webserver/http.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "webserver/guard.h"
#include "webserver/http.h"

static guard_t *make(const char *base_url, const char *allowed, const char *listen)
{
    config_t cfg;
    char err[256];
    guard_t *g;

    memset(&cfg, 0, sizeof(cfg));
    cfg.webserver.base_url = (char *)base_url;
    cfg.webserver.allowed_hosts = (char *)allowed;
    g = guard_new(&cfg, listen, err, sizeof(err));
    assert_non_null(g);
    return g;
}

static void test_hosts_of_base_url_listen_and_allowed_hosts_pass(void **state)
{
    guard_t *g =
        make("https://Updraft.Example.com/ui", "api.example.test, other.test", "127.0.0.1:8080");
    (void)state;
    assert_true(guard_host_ok(g, "updraft.example.com"));
    assert_true(guard_host_ok(g, "UPDRAFT.example.com.:443"));
    assert_true(guard_host_ok(g, "api.example.test:9999"));
    assert_true(guard_host_ok(g, "other.test"));
    assert_true(guard_host_ok(g, "127.0.0.1:8080"));
    assert_true(guard_host_ok(g, "localhost:8080")); /* listening on loopback */
    assert_true(guard_host_ok(g, "10.1.2.3"));       /* an address cannot be rebound */
    assert_true(guard_host_ok(g, "[::1]:8080"));
    /* a rebinding attacker's name, and look-alikes */
    assert_false(guard_host_ok(g, "evil.example"));
    assert_false(guard_host_ok(g, "updraft.example.com.evil.example"));
    assert_false(guard_host_ok(g, "127.0.0.1.evil.example"));
    assert_false(guard_host_ok(g, "xapi.example.test"));
    /* not a host at all */
    assert_false(guard_host_ok(g, ""));
    assert_false(guard_host_ok(g, "a b"));
    assert_false(guard_host_ok(g, "updraft.example.com:0"));
    assert_false(guard_host_ok(g, "updraft.example.com:65536"));
    assert_false(guard_host_ok(g, "updraft.example.com:80:80"));
    assert_false(guard_host_ok(g, "[::1"));
    assert_false(guard_host_ok(g, "user@updraft.example.com"));
    guard_free(g);
}

static void test_localhost_needs_a_loopback_or_wildcard_listener(void **state)
{
    guard_t *g = make("http://updraft.example.com", "", "10.0.0.5:8080");
    (void)state;
    assert_false(guard_host_ok(g, "localhost"));
    assert_true(guard_host_ok(g, "10.0.0.5:8080"));
    guard_free(g);
    g = make("http://updraft.example.com", "", "0.0.0.0:8080");
    assert_true(guard_host_ok(g, "localhost:8080"));
    assert_false(guard_host_ok(g, "evil.example"));
    guard_free(g);
    g = make("http://updraft.example.com", "*", "0.0.0.0:8080");
    assert_true(guard_host_ok(g, "evil.example"));
    guard_free(g);
}

static void test_origins_that_may_change_state(void **state)
{
    guard_t *g = make("https://updraft.example.com/", "", "127.0.0.1:8080");
    (void)state;
    assert_true(guard_origin_ok(g, "https://updraft.example.com", "127.0.0.1:8080"));
    assert_true(guard_origin_ok(g, "https://UPDRAFT.example.com:443", NULL));
    /* the page came from the very host the request goes to */
    assert_true(guard_origin_ok(g, "http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_true(guard_origin_ok(g, "http://localhost", "localhost:80"));
    assert_false(
        guard_origin_ok(g, "http://updraft.example.com", NULL)); /* not base_url's scheme */
    assert_false(guard_origin_ok(g, "https://updraft.example.com:8443", NULL));
    assert_false(guard_origin_ok(g, "http://evil.example", "127.0.0.1:8080"));
    assert_false(guard_origin_ok(g, "http://127.0.0.1:3000", "127.0.0.1:8080"));
    assert_false(guard_origin_ok(g, "null", "127.0.0.1:8080"));
    assert_false(guard_origin_ok(g, "https://updraft.example.com/path", NULL));
    assert_false(guard_origin_ok(g, "file://", NULL));
    guard_free(g);
}

static void test_bad_configuration_is_refused(void **state)
{
    config_t cfg;
    char err[256];
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.webserver.base_url = "updraft.example.com";
    cfg.webserver.allowed_hosts = "";
    assert_null(guard_new(&cfg, "127.0.0.1:8080", err, sizeof(err)));
    assert_non_null(strstr(err, "base_url"));
    cfg.webserver.base_url = "http://updraft.example.com";
    cfg.webserver.allowed_hosts = "ok.test, not a host";
    assert_null(guard_new(&cfg, "127.0.0.1:8080", err, sizeof(err)));
    assert_non_null(strstr(err, "allowed_hosts"));
}

static void test_json_media_types_match_whole(void **state)
{
    (void)state;
    assert_true(http_media_type_is("application/json", "application/json"));
    assert_true(http_media_type_is(" Application/JSON ; charset=utf-8", "application/json"));
    assert_false(http_media_type_is("application/json-evil", "application/json"));
    assert_false(http_media_type_is("application/jsonx; charset=utf-8", "application/json"));
    assert_false(http_media_type_is("application/jso", "application/json"));
    assert_false(http_media_type_is("", "application/json"));
    assert_false(http_media_type_is(NULL, "application/json"));
}

static void test_escaped_nul_in_json_strings_is_found(void **state)
{
    static const struct {
        const char *json;
        bool nul;
    } cases[] = {
        {"{\"a\":\"x\\u0000y\"}", true},
        {"{\"x\\u0000\":1}", true},
        {"[\"\\u0000\"]", true},
        {"{\"a\":\"\\\\u0000\"}", false}, /* a backslash, then the text u0000 */
        {"{\"a\":\"\\u00001\"}", true},
        {"{\"a\":\"\\u0001\"}", false},
        {"{\"a\":1} \\u0000", false}, /* outside any string: cJSON refuses it anyway */
        {"\"\\u000", false},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(http_json_has_nul(cases[i].json, strlen(cases[i].json)), cases[i].nul);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts_of_base_url_listen_and_allowed_hosts_pass),
        cmocka_unit_test(test_localhost_needs_a_loopback_or_wildcard_listener),
        cmocka_unit_test(test_origins_that_may_change_state),
        cmocka_unit_test(test_bad_configuration_is_refused),
        cmocka_unit_test(test_json_media_types_match_whole),
        cmocka_unit_test(test_escaped_nul_in_json_strings_is_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
