/*
 * fuzz_sentinel_list.c - the redis.sentinels list (core/sentinel.c) on
 * arbitrary input: sentinel_parse_list on the whole input, and for every
 * list that parses, the invariants queue.c relies on (at most max items,
 * each host non-empty, NUL-terminated, without a comma, blank or '/',
 * each port in 1..65535), and the list written back as host:port (IPv6 in
 * brackets) parses again to the same items.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sentinel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sentinel_addr_t a[4], b[4];
    size_t n, m;
    char err[256];

    if (size > SENTINEL_LIST_MAX + 16)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (sentinel_parse_list(buf, a, 4, &n, err, sizeof(err)) == 0) {
        if (n > 4)
            abort();
        char again[4 * 300] = "";
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            size_t hl = strnlen(a[i].host, sizeof(a[i].host));
            if (hl == 0 || hl >= sizeof(a[i].host) || strpbrk(a[i].host, ", \t/@"))
                abort();
            if (a[i].port < 1 || a[i].port > 65535)
                abort();
            /* Only a bracketed host holds ':' or starts with '[', and never ']'. */
            if (strchr(a[i].host, ':') || a[i].host[0] == '[')
                len += (size_t)snprintf(again + len, sizeof(again) - len, "%s[%s]:%d", i ? "," : "",
                                        a[i].host, a[i].port);
            else
                len += (size_t)snprintf(again + len, sizeof(again) - len, "%s%s:%d", i ? "," : "",
                                        a[i].host, a[i].port);
        }
        if (sentinel_parse_list(again, b, 4, &m, err, sizeof(err)) != 0 || m != n)
            abort();
        for (size_t i = 0; i < n; i++)
            if (strcmp(a[i].host, b[i].host) != 0 || a[i].port != b[i].port)
                abort();
    }
    free(buf);
    return 0;
}
