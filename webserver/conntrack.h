/*
 * conntrack.h - the webserver's open connections: how many one client
 * address may hold, and a deadline on reading a request body.
 *
 * civetweb gives each connection a worker thread from the moment it is
 * accepted until it closes, and calls nothing of ours before a request's
 * head has arrived; so a client that connects and sends nothing, or
 * sends its head or body a byte at a time, holds a thread that no
 * callback can take back. Two things bound that here:
 *
 *   - at accept: a connection from an address that already holds
 *     max_per_address is answered 429 and closed at once, in civetweb's
 *     accepting thread, before it can wait for a worker. The count is of
 *     connections accepted and not yet closed, queued ones included.
 *   - while a body is read: conntrack_body_begin gives the connection a
 *     deadline; conntrack_expire (called every 100 ms by the server loop)
 *     shuts the reading side of a connection past it, which ends the
 *     blocked read at once (civetweb's own request timeout bounds each
 *     wait for a byte, not a body sent a byte at a time).
 *
 * civetweb (1.15) calls accept() from its master thread and offers no hook
 * between accept() and a worker: this module defines accept() itself, so
 * that libcivetweb's call binds to it (a program's own definition comes
 * before the C library's). It passes through every accept() of the process
 * unchanged until conntrack_start, and after conntrack_stop. A connection
 * leaves the table when civetweb's connection_close callback reports it
 * (server.c calls conntrack_closed).
 *
 * The mutex guards the table; conntrack_expire holds it while it shuts a
 * socket, and civetweb closes a socket only after connection_close (which
 * takes the mutex) has returned, so a file descriptor found in the table
 * is still the connection's.
 */
#ifndef UPDRAFT_WEBSERVER_CONNTRACK_H
#define UPDRAFT_WEBSERVER_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "webserver/proxies.h"

struct mg_connection;

/*
 * Starts tracking connections accepted from now on: at most max_conns open
 * at once (beyond it every new one is refused), at most max_per_address
 * from one address (0: no limit per address) unless trusted (borrowed,
 * may be NULL; until conntrack_stop) trusts it as a proxy (proxies.h).
 * body_timeout_ms is the time a request body has to arrive whole.
 * Returns 0, or -1 when out of memory. One tracker per process.
 */
int conntrack_start(int max_conns, int max_per_address, const proxies_t *trusted,
                    int body_timeout_ms);

/* Stops tracking (accept() passes everything through again) and frees the table. */
void conntrack_stop(void);

/* Forgets conn (civetweb's connection_close callback). */
void conntrack_closed(const struct mg_connection *conn);

/* Gives conn's body read a deadline (body_timeout_ms from now), or clears it. */
void conntrack_body_begin(const struct mg_connection *conn);
void conntrack_body_end(const struct mg_connection *conn);

/*
 * Whether conn's body deadline has passed and its reading side was shut
 * (the read that failed timed out).
 */
bool conntrack_body_expired(const struct mg_connection *conn);

/* Shuts the reading side of every connection whose body deadline is before now_us (monotonic). */
void conntrack_expire(int64_t now_us);

#endif
