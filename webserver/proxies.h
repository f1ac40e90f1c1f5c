/*
 * proxies.h - which peers are trusted reverse proxies
 * (webserver.trusted_proxies), and what a request's client address and
 * scheme are once that is known.
 *
 * A TLS proxy in front of the webserver (deploy/nginx/updraft.conf)
 * connects from its own address and says who the client is in
 * X-Forwarded-For and whether it spoke https in X-Forwarded-Proto. Those
 * headers are anyone's to send, so they are read only on a connection
 * whose peer is in webserver.trusted_proxies (comma-separated addresses
 * or CIDR networks, IPv4 or IPv6; empty, the default, trusts no one):
 *
 *   - the client address (login throttling, the audit log, the address
 *     a session records) is the right-most X-Forwarded-For entry that is
 *     not itself a trusted proxy (nginx's real_ip_recursive); an entry
 *     that is not an IP address ends the walk at the last good one, and a
 *     request without the header is the proxy's own;
 *   - the request came over https when X-Forwarded-Proto is "https": the
 *     session cookies are then Secure;
 *   - a trusted proxy is exempt from webserver.max_connections_per_address
 *     (every client behind it shares its address; the proxy limits them).
 *
 * An untrusted peer's headers are ignored: its own address is the client.
 */
#ifndef UPDRAFT_WEBSERVER_PROXIES_H
#define UPDRAFT_WEBSERVER_PROXIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mg_connection;
typedef struct proxies proxies_t;

/* Longest client address text proxies_client writes, NUL included. */
#define PROXIES_ADDR_MAX 64

/*
 * Parses list (NULL or empty: trust no one). NULL with err filled when an
 * item is neither an IP address nor ADDRESS/PREFIX, or on out-of-memory.
 */
proxies_t *proxies_new(const char *list, char *err, size_t errlen);
void proxies_free(proxies_t *p);

/*
 * The 16-byte form of an address's text ("127.0.0.1" as ::ffff:127.0.0.1,
 * "::1", "fe80::1%eth0" without its zone). false when it is not one.
 */
bool proxies_addr_key(const char *text, uint8_t addr[16]);

/* Whether the address (16-byte form) is a trusted proxy; p NULL: no. */
bool proxies_trusts(const proxies_t *p, const uint8_t addr[16]);

/*
 * The client address of a request from peer (text) that carried xff as
 * its X-Forwarded-For (NULL: none), as above, into out (PROXIES_ADDR_MAX
 * bytes). The pure part of proxies_client.
 */
void proxies_resolve(const proxies_t *p, const char *peer, const char *xff, char *out, size_t len);

/* conn's client address as above, into out (PROXIES_ADDR_MAX bytes). */
void proxies_client(const proxies_t *p, const struct mg_connection *conn, char *out, size_t len);

/* Whether conn's request reached a trusted proxy over https. */
bool proxies_forwarded_https(const proxies_t *p, const struct mg_connection *conn);

#endif
