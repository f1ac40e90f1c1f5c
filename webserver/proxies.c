/*
 * proxies.c - see proxies.h.
 *
 * Addresses are kept in the 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d)
 * with a prefix length counted in that form, so one comparison covers
 * both families and an IPv4 peer seen through an IPv6 socket.
 */
#include "webserver/proxies.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PROXIES 64
#define XFF_MAX 4096 /* longer X-Forwarded-For headers are not read (the peer is the client) */

typedef struct {
    uint8_t addr[16];
    int prefix; /* bits of addr that must match, 0..128 */
} net_t;

struct proxies {
    net_t nets[MAX_PROXIES];
    size_t n;
};

bool proxies_addr_key(const char *text, uint8_t addr[16])
{
    char buf[PROXIES_ADDR_MAX];
    size_t n = strcspn(text, "%");
    struct in_addr v4;

    if (n >= sizeof(buf))
        return false;
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        memset(addr, 0, 10);
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, buf, addr) == 1;
}

static bool in_net(const net_t *net, const uint8_t addr[16])
{
    int full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (addr[full] & mask);
}

/* Parses "ADDRESS" or "ADDRESS/PREFIX" (len bytes of s). */
static bool parse_net(const char *s, size_t len, net_t *net)
{
    char buf[PROXIES_ADDR_MAX];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    int prefix = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || v < 0 || v > 128)
            return false;
        prefix = (int)v;
    }
    if (strchr(buf, '%') || !proxies_addr_key(buf, net->addr))
        return false;
    bool v4 = strchr(buf, ':') == NULL;
    if (prefix < 0)
        prefix = v4 ? 32 : 128;
    else if (v4 && prefix > 32)
        return false;
    net->prefix = v4 ? prefix + 96 : prefix;
    return true;
}

/* Parses list into p (may be NULL: only checks). 0, or -1 with err filled. */
static int parse_list(const char *list, proxies_t *p, char *err, size_t errlen)
{
    size_t n = 0;
    const char *s = list ? list : "";
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, ", ");
        net_t net;
        if (!parse_net(s, len, &net)) {
            snprintf(err, errlen,
                     "webserver.trusted_proxies: '%.*s' is not an IP address or ADDRESS/PREFIX",
                     (int)(len > 64 ? 64 : len), s);
            return -1;
        }
        if (n == MAX_PROXIES) {
            snprintf(err, errlen, "webserver.trusted_proxies: more than %d entries", MAX_PROXIES);
            return -1;
        }
        if (p)
            p->nets[n] = net;
        n++;
        s += len;
    }
    if (p)
        p->n = n;
    return 0;
}

proxies_t *proxies_new(const char *list, char *err, size_t errlen)
{
    proxies_t *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (parse_list(list, p, err, errlen) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

void proxies_free(proxies_t *p)
{
    free(p);
}

bool proxies_trusts(const proxies_t *p, const uint8_t addr[16])
{
    for (size_t i = 0; p && i < p->n; i++)
        if (in_net(&p->nets[i], addr))
            return true;
    return false;
}

static bool peer_trusted(const proxies_t *p, const struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    uint8_t addr[16];
    return p && p->n && ri && proxies_addr_key(ri->remote_addr, addr) && proxies_trusts(p, addr);
}

/*
 * The right-most entry of xff that is not a trusted proxy, into out; the
 * left-most good one when all are. false when none is an IP address.
 */
static bool walk_forwarded(const proxies_t *p, const char *xff, char *out, size_t len)
{
    size_t end = strlen(xff);
    bool found = false;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        const char *s = xff + start;
        size_t n = end - start;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        char text[PROXIES_ADDR_MAX];
        uint8_t addr[16];
        if (n == 0 || n >= sizeof(text))
            break;
        memcpy(text, s, n);
        text[n] = '\0';
        if (strchr(text, '%') || !proxies_addr_key(text, addr))
            break; /* not an address: trust nothing further left */
        snprintf(out, len, "%s", text);
        found = true;
        if (!proxies_trusts(p, addr))
            break;
        end = start > 0 ? start - 1 : 0;
    }
    return found;
}

void proxies_resolve(const proxies_t *p, const char *peer, const char *xff, char *out, size_t len)
{
    uint8_t addr[16];
    char client[PROXIES_ADDR_MAX];
    snprintf(out, len, "%s", peer ? peer : "");
    if (!peer || !proxies_addr_key(peer, addr) || !proxies_trusts(p, addr))
        return;
    if (xff && strlen(xff) <= XFF_MAX && walk_forwarded(p, xff, client, sizeof(client)))
        snprintf(out, len, "%s", client);
}

void proxies_client(const proxies_t *p, const struct mg_connection *conn, char *out, size_t len)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    proxies_resolve(p, ri ? ri->remote_addr : NULL, mg_get_header(conn, "X-Forwarded-For"), out,
                    len);
}

bool proxies_forwarded_https(const proxies_t *p, const struct mg_connection *conn)
{
    if (!peer_trusted(p, conn))
        return false;
    const char *proto = mg_get_header(conn, "X-Forwarded-Proto");
    return proto && strcasecmp(proto, "https") == 0;
}
