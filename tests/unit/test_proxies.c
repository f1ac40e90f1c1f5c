/*
 * test_proxies.c - whose X-Forwarded-For is believed and which address it
 * yields (webserver/proxies.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "webserver/proxies.h"

static void test_a_list_that_is_not_addresses_is_refused_with_the_item(void **state)
{
    static const struct {
        const char *list, *item;
    } bad[] = {
        {"10.0.0.1, proxy.example", "'proxy.example'"},
        {"10.0.0.0/33", "'10.0.0.0/33'"},
        {"::1/129", "'::1/129'"},
        {"10.0.0.0/", "'10.0.0.0/'"},
        {"10.0.0.0/8x", "'10.0.0.0/8x'"},
        {"fe80::1%eth0", "'fe80::1%eth0'"},
    };
    char err[256];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(proxies_new(bad[i].list, err, sizeof(err)));
        assert_non_null(strstr(err, "webserver.trusted_proxies"));
        assert_non_null(strstr(err, bad[i].item));
    }
}

static void test_networks_match_by_prefix_in_both_families(void **state)
{
    char err[256];
    proxies_t *p = proxies_new(" 10.1.0.0/16,192.168.0.7 , 2001:db8::/32", err, sizeof(err));
    uint8_t a[16];
    (void)state;
    assert_non_null(p);
    static const struct {
        const char *addr;
        bool trusted;
    } cases[] = {
        {"10.1.200.3", true},      {"10.2.0.1", false},   {"192.168.0.7", true},
        {"192.168.0.8", false},    {"2001:db8::5", true}, {"2001:db9::5", false},
        {"::ffff:10.1.0.1", true}, {"127.0.0.1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(proxies_addr_key(cases[i].addr, a));
        assert_int_equal(proxies_trusts(p, a), cases[i].trusted);
    }
    proxies_free(p);
}

static void test_the_forwarded_client_is_believed_only_from_a_trusted_peer(void **state)
{
    char err[256], out[PROXIES_ADDR_MAX];
    proxies_t *p = proxies_new("127.0.0.1, 10.0.0.0/8", err, sizeof(err));
    proxies_t *none = proxies_new("", err, sizeof(err));
    (void)state;
    assert_non_null(p);
    assert_non_null(none);
    static const struct {
        const char *peer, *xff, *client;
    } cases[] = {
        /* an untrusted peer is the client, whatever it says */
        {"203.0.113.9", "198.51.100.1", "203.0.113.9"},
        /* the proxy forwards its client */
        {"127.0.0.1", "198.51.100.1", "198.51.100.1"},
        /* what the client claimed itself (left) is not believed */
        {"127.0.0.1", "1.2.3.4, 198.51.100.1", "198.51.100.1"},
        /* through two trusted proxies */
        {"127.0.0.1", "198.51.100.1, 10.0.0.5", "198.51.100.1"},
        /* garbage ends the walk: the last good entry */
        {"127.0.0.1", "junk, 198.51.100.1", "198.51.100.1"},
        {"127.0.0.1", "198.51.100.1, junk", "127.0.0.1"},
        /* no header: the proxy's own request */
        {"127.0.0.1", NULL, "127.0.0.1"},
        {"127.0.0.1", "", "127.0.0.1"},
        /* every entry a proxy: the left-most */
        {"127.0.0.1", "10.0.0.9, 10.0.0.5", "10.0.0.9"},
        {"127.0.0.1", " 2001:db8::1 ", "2001:db8::1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proxies_resolve(p, cases[i].peer, cases[i].xff, out, sizeof(out));
        assert_string_equal(out, cases[i].client);
    }
    /* with no trusted proxy (the default) the peer is always the client */
    proxies_resolve(none, "127.0.0.1", "198.51.100.1", out, sizeof(out));
    assert_string_equal(out, "127.0.0.1");
    proxies_free(p);
    proxies_free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_list_that_is_not_addresses_is_refused_with_the_item),
        cmocka_unit_test(test_networks_match_by_prefix_in_both_families),
        cmocka_unit_test(test_the_forwarded_client_is_believed_only_from_a_trusted_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
