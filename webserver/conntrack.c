/*
 * conntrack.c - the table of open connections behind the per-address limit
 * and the body deadline (see conntrack.h for why accept() is defined here).
 *
 * The table is the one piece of process state outside the config and the
 * logger: accept() is called without a context, so it finds the table in
 * a static. Entries are found by scanning (the table holds at most the
 * worker threads plus civetweb's queue), under one mutex, never held
 * across anything that blocks.
 */
#include "webserver/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <civetweb.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "webserver/proxies.h"

#define REFUSAL_LOG_EVERY_US (10 * 1000000LL)

typedef struct entry {
    bool used;
    bool expired;        /* its reading side was shut at the deadline */
    int fd;              /* the accepted socket */
    uint16_t port;       /* the client's port */
    uint8_t addr[16];    /* the client's address (IPv4 as ::ffff:a.b.c.d) */
    int64_t deadline_us; /* the body must have arrived by then (0: no body read) */
} entry_t;

static struct {
    pthread_mutex_t mu;
    entry_t *tab;
    int cap;
    int max_per_address;
    const proxies_t *trusted; /* exempt from max_per_address */
    int body_timeout_ms;
    int64_t last_refusal_log_us;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};
static atomic_bool g_on;
static atomic_long g_refused, g_untracked;

/* The 16-byte form of a socket address and its port; false for other families. */
static bool sockaddr_key(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        memset(addr, 0, 10);
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        memcpy(addr, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}

/* Whether fd is still connected to addr:port (else its entry outlived its connection). */
static bool entry_live(const entry_t *e)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    uint8_t addr[16];
    uint16_t port;

    return getpeername(e->fd, (struct sockaddr *)&ss, &len) == 0 &&
           sockaddr_key(&ss, addr, &port) && port == e->port && memcmp(addr, e->addr, 16) == 0;
}

/* Records fd from addr:port unless addr holds its share already. Caller holds the mutex. */
static bool admit_locked(int fd, const uint8_t addr[16], uint16_t port)
{
    entry_t *free_slot = NULL;
    int same = 0;

    for (int i = 0; i < g.cap; i++) {
        entry_t *e = &g.tab[i];
        if (!e->used) {
            if (!free_slot)
                free_slot = e;
        } else if (memcmp(e->addr, addr, 16) == 0) {
            same++;
        }
    }
    if (g.max_per_address > 0 && same >= g.max_per_address && !proxies_trusts(g.trusted, addr)) {
        /* At its share: first drop entries whose connection is gone
         * (a close civetweb did not report), then count again. */
        same = 0;
        for (int i = 0; i < g.cap; i++) {
            entry_t *e = &g.tab[i];
            if (!e->used || memcmp(e->addr, addr, 16) != 0)
                continue;
            if (entry_live(e)) {
                same++;
            } else {
                e->used = false;
                if (!free_slot)
                    free_slot = e;
            }
        }
        if (same >= g.max_per_address)
            return false;
    }
    if (!free_slot) {
        /* More open than civetweb can hold: serve it untracked rather than
         * refuse everyone because of a bookkeeping fault. */
        atomic_fetch_add(&g_untracked, 1);
        return true;
    }
    *free_slot = (entry_t){.used = true, .fd = fd, .port = port};
    memcpy(free_slot->addr, addr, 16);
    return true;
}

/* Answers 429 without waiting (the client may not even have sent its request) and closes. */
static void refuse(int fd)
{
    static const char body[] =
        "{\"detail\":\"too many connections from this address at once\",\"instance\":\"/\","
        "\"status\":429,\"title\":\"Too Many Requests\",\"type\":\"https://airflow.apache.org/"
        "docs/apache-airflow/stable/stable-rest-api-ref.html#section/Errors/TooManyRequests\"}";
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 429 Too Many Requests\r\n"
                     "Content-Type: application/problem+json\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "Retry-After: 1\r\n"
                     "Connection: close\r\n\r\n",
                     sizeof(body) - 1);
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, sizeof(body) - 1}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t sent = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

    (void)sent; /* best effort: the connection is closed either way */
    shutdown(fd, SHUT_WR);
    close(fd);
    atomic_fetch_add(&g_refused, 1);
}

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    uint8_t key[16];
    uint16_t port;
    bool ok;
    int c = accept4(fd, (struct sockaddr *)&ss, &len, 0);

    if (c < 0)
        return c;
    if (addr && addrlen) {
        memcpy(addr, &ss, len < *addrlen ? len : *addrlen);
        *addrlen = len;
    }
    if (!atomic_load(&g_on) || !sockaddr_key(&ss, key, &port))
        return c;
    pthread_mutex_lock(&g.mu);
    ok = g.tab && admit_locked(c, key, port);
    pthread_mutex_unlock(&g.mu);
    if (ok)
        return c;
    refuse(c);
    errno = ECONNABORTED;
    return -1;
}

int conntrack_start(int max_conns, int max_per_address, const proxies_t *trusted,
                    int body_timeout_ms)
{
    entry_t *tab = calloc((size_t)max_conns, sizeof(*tab));

    if (!tab)
        return -1;
    pthread_mutex_lock(&g.mu);
    free(g.tab);
    g.tab = tab;
    g.cap = max_conns;
    g.max_per_address = max_per_address;
    g.trusted = trusted;
    g.body_timeout_ms = body_timeout_ms;
    g.last_refusal_log_us = ts_mono_us();
    pthread_mutex_unlock(&g.mu);
    atomic_store(&g_on, true);
    return 0;
}

void conntrack_stop(void)
{
    atomic_store(&g_on, false);
    pthread_mutex_lock(&g.mu);
    free(g.tab);
    g.tab = NULL;
    g.cap = 0;
    pthread_mutex_unlock(&g.mu);
}

/* conn's entry, or NULL. Caller holds the mutex. */
static entry_t *find_locked(const struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    uint8_t addr[16];

    if (!ri || !proxies_addr_key(ri->remote_addr, addr))
        return NULL;
    for (int i = 0; i < g.cap; i++) {
        entry_t *e = &g.tab[i];
        if (e->used && e->port == (uint16_t)ri->remote_port && memcmp(e->addr, addr, 16) == 0)
            return e;
    }
    return NULL;
}

void conntrack_closed(const struct mg_connection *conn)
{
    entry_t *e;

    pthread_mutex_lock(&g.mu);
    if ((e = find_locked(conn)) != NULL)
        e->used = false;
    pthread_mutex_unlock(&g.mu);
}

void conntrack_body_begin(const struct mg_connection *conn)
{
    entry_t *e;

    pthread_mutex_lock(&g.mu);
    if ((e = find_locked(conn)) != NULL && g.body_timeout_ms > 0)
        e->deadline_us = ts_mono_us() + (int64_t)g.body_timeout_ms * 1000;
    pthread_mutex_unlock(&g.mu);
}

void conntrack_body_end(const struct mg_connection *conn)
{
    entry_t *e;

    pthread_mutex_lock(&g.mu);
    if ((e = find_locked(conn)) != NULL)
        e->deadline_us = 0;
    pthread_mutex_unlock(&g.mu);
}

bool conntrack_body_expired(const struct mg_connection *conn)
{
    entry_t *e;
    bool expired;

    pthread_mutex_lock(&g.mu);
    expired = (e = find_locked(conn)) != NULL && e->expired;
    pthread_mutex_unlock(&g.mu);
    return expired;
}

void conntrack_expire(int64_t now_us)
{
    long refused, untracked;
    int max_per_address;

    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < g.cap; i++) {
        entry_t *e = &g.tab[i];
        if (e->used && e->deadline_us && now_us > e->deadline_us && !e->expired) {
            shutdown(e->fd, SHUT_RD);
            e->expired = true;
        }
    }
    if (now_us - g.last_refusal_log_us < REFUSAL_LOG_EVERY_US) {
        pthread_mutex_unlock(&g.mu);
        return;
    }
    g.last_refusal_log_us = now_us;
    max_per_address = g.max_per_address;
    pthread_mutex_unlock(&g.mu);
    /* One line per interval, not one per refused connection: a flood stays a line. */
    refused = atomic_exchange(&g_refused, 0);
    untracked = atomic_exchange(&g_untracked, 0);
    if (refused > 0)
        log_warn("connections refused: an address held its share already refused=%ld "
                 "max_connections_per_address=%d",
                 refused, max_per_address);
    if (untracked > 0)
        log_warn("connections served untracked: the connection table was full count=%ld",
                 untracked);
}
