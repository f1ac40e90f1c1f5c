/*
 * api.h - the webserver's routes: /health and the REST API v1, which
 * follows Airflow 2's stable API (docs/api.md lists what is implemented).
 *
 * One table maps (method, path pattern) to a handler; the dispatcher parses
 * the path and query string, checks the query parameters against the
 * route's list, answers read-mostly routes from the response cache
 * (apicache.h) when it can, lends the handler a database connection, and turns every
 * failure into an RFC 7807 problem body. Every route names the permission
 * it needs (model/roles.h); the dispatcher identifies the caller (auth.h)
 * and answers 401/403 before the handler runs, and writes each state
 * change to the event log after it succeeds.
 */
#ifndef UPDRAFT_WEBSERVER_API_H
#define UPDRAFT_WEBSERVER_API_H

#include <civetweb.h>
#include <stdio.h>

#include "core/config.h"
#include "webserver/apicache.h"
#include "webserver/livefeed.h"
#include "webserver/auth.h"
#include "webserver/dbpool.h"
#include "webserver/guard.h"
#include "webserver/proxies.h"

typedef struct api {
    const config_t *cfg; /* borrowed, outlives the server */
    dbpool_t *pool;      /* borrowed */
    apicache_t *cache;   /* borrowed; answers of ROUTE_CACHED routes */
    auth_t *auth;        /* borrowed; who is calling */
    guard_t *guard;      /* borrowed; framing, Host and Origin of every request */
    proxies_t *proxies;  /* borrowed; peers whose X-Forwarded-For/-Proto are believed */
    livefeed_t *feed;    /* borrowed; what changed, for GET /ui/changes (NULL: off) */
    int db_wait_ms;      /* how long a request waits for a lost database */
} api_t;

/*
 * Prints the route table, one route per line: method, path pattern,
 * action, resource, the lowest role allowed ("-" for a public route) and
 * the query parameters it takes (comma-separated), tab-separated. The
 * permission matrix and hostile-input tests read it.
 */
void api_print_routes(FILE *f);

/* civetweb request handler for every path; cbdata is an api_t. Returns the
 * HTTP status sent. */
int api_handle_request(struct mg_connection *conn, void *cbdata);

#endif
