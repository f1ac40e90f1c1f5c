/*
 * sentinel.h - finding the Redis master through Redis Sentinel.
 *
 * With redis.sentinels set, nothing in updraft connects to a fixed Redis
 * address: queue.c asks the sentinels which node is the master of
 * redis.master_name (SENTINEL get-master-addr-by-name), connects there and
 * checks that the node calls itself master (ROLE) before using it. After a
 * failover the old connection breaks (or answers READONLY), and the next
 * reconnect asks the sentinels again.
 */
#ifndef UPDRAFT_SENTINEL_H
#define UPDRAFT_SENTINEL_H

#include <stddef.h>

#define SENTINEL_MAX 16
#define SENTINEL_DEFAULT_PORT 26379
#define SENTINEL_LIST_MAX 4096 /* bytes of a redis.sentinels value */

typedef struct sentinel_addr {
    char host[256];
    int port;
} sentinel_addr_t;

/*
 * Parses a comma-separated list of host[:port] (port defaults to 26379;
 * an IPv6 address is written in brackets, [::1]:26379). Spaces around the
 * items are ignored. At most max items (max <= SENTINEL_MAX). Returns 0
 * with *n items (0 for an empty or all-blank list), or -1 with err naming
 * the bad item.
 */
int sentinel_parse_list(const char *list, sentinel_addr_t *out, size_t max, size_t *n, char *err,
                        size_t errlen);

/*
 * Asks the sentinels s[0..n) in turn, starting at *first, for the address
 * of master_name's master; the first that answers with an address wins and
 * *first is set to it, so the next discovery asks it first. password (may
 * be NULL or empty) is sent with AUTH to each sentinel. Each sentinel gets
 * timeout_ms to connect and answer. Returns 0 with host (hostlen bytes)
 * and *port filled, or -1 with err (no sentinel reachable, or none knows
 * the master). Never logs the password.
 */
int sentinel_get_master(const sentinel_addr_t *s, size_t n, size_t *first, const char *master_name,
                        const char *password, int timeout_ms, char *host, size_t hostlen, int *port,
                        char *err, size_t errlen);

#endif
