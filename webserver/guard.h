/*
 * guard.h - what every request must be before a route sees it
 * (docs/security.md, "HTTP hardening"):
 *
 *   - framed one way only: two Content-Length headers, or Content-Length
 *     with Transfer-Encoding, are refused (400) and the connection closed,
 *     so that no proxy in front can read a different request boundary;
 *   - addressed to this server: the Host header names base_url's host,
 *     the listen address, a name of webserver.allowed_hosts, localhost
 *     when listening on loopback or on every address, or an IP address
 *     (which a DNS rebinding cannot produce); anything else is 400;
 *   - a state change (any method but GET, HEAD, OPTIONS) that carries an
 *     Origin comes from base_url's origin or from the very host it is
 *     sent to; another origin, or "null", is 403.
 *
 * A request without Host (HTTP/1.0) or without Origin (not a browser, or
 * a same-origin GET) passes those two checks.
 */
#ifndef UPDRAFT_WEBSERVER_GUARD_H
#define UPDRAFT_WEBSERVER_GUARD_H

#include <civetweb.h>
#include <stdbool.h>

#include "core/config.h"

typedef struct guard guard_t;

/*
 * From cfg's webserver.base_url and webserver.allowed_hosts and the listen
 * address ("HOST:PORT"). NULL with err filled when base_url is not an
 * http(s) URL or an allowed host is not a host name.
 */
guard_t *guard_new(const config_t *cfg, const char *listen, char *err, size_t errlen);
void guard_free(guard_t *g);

/* Checks conn's request as above: 0, or the status of the problem answered. */
int guard_check(const guard_t *g, struct mg_connection *conn);

/* Whether a Host header value ("name[:port]", "[v6][:port]") is one this server answers to. */
bool guard_host_ok(const guard_t *g, const char *host);

/*
 * Whether an Origin header value may change state on a request sent to
 * host (its Host header, or NULL).
 */
bool guard_origin_ok(const guard_t *g, const char *origin, const char *host);

#endif
