/*
 * server.c - starts civetweb hardened for an API server (see server.h).
 *
 * No document_root: civetweb serves no files, lists no directories and
 * runs no CGI; every path goes to api_handle_request. URL decoding of the
 * path is left to us (decode_url=no) so that an encoded '/' inside a
 * segment cannot change which route matches. civetweb's CORS answers are
 * off (access_control_allow_origin empty): it would otherwise grant every
 * origin's preflight, letting any web page send JSON to the API.
 *
 * Slow clients (docs/security.md, "HTTP hardening"): a request's head must
 * arrive whole within webserver.request_timeout_ms (civetweb's
 * request_timeout_ms bounds the whole head, not each byte), and its body
 * too (conntrack.h: the reading side of a late body is shut); an idle
 * keep-alive connection is closed after 5 s; one client address holds at
 * most webserver.max_connections_per_address connections, refused with 429
 * in the accepting thread beyond that, so that it cannot occupy every
 * worker thread. /health is a route like any other: with the threads
 * free of any one address's slow sockets, it is answered at once.
 *
 * civetweb's own error answers (a request it cannot parse, an HTTP
 * version it does not speak) go out as problem bodies like ours.
 */
#include "webserver/server.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "core/log.h"
#include "core/notify.h"
#include "core/timeutil.h"
#include "webserver/api.h"
#include "webserver/conntrack.h"
#include "webserver/dbpool.h"
#include "webserver/guard.h"
#include "webserver/http.h"

#define DB_WAIT_MS 500
#define CACHE_ENTRY_MAX (1 << 20) /* answers above 1 MiB are not cached */
#define CONNECTION_QUEUE 20       /* accepted connections waiting for a worker thread */

static int on_log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("civetweb: %s", message);
    return 1;
}

/* civetweb refused a request before any route saw it: the same problem body as ours. */
static int on_http_error(struct mg_connection *conn, int status, const char *msg)
{
    mg_disable_connection_keep_alive(conn);
    http_send_problem(conn, status, NULL, "%s",
                      msg && *msg ? msg : "the request could not be read as HTTP/1.1");
    return 0;
}

static void on_connection_close(const struct mg_connection *conn)
{
    conntrack_closed(conn);
}

static bool listen_valid(const char *listen)
{
    if (!listen || !*listen || strlen(listen) > 256)
        return false;
    for (const char *p = listen; *p; p++)
        if (*p == ',' || *p == ' ' || *p == '\t' || (unsigned char)*p < 0x20)
            return false; /* one address only: a comma would add listeners */
    return strrchr(listen, ':') != NULL;
}

/* Whether listen's host (before the last ':') is a loopback address. */
static bool listen_is_loopback(const char *listen)
{
    char host[257];
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : 0;

    if (n == 0 || n >= sizeof(host))
        return false;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0;
}

/* Refuses auth "none" beyond loopback; says where TLS belongs otherwise. */
static int check_exposure(const config_t *cfg, const char *listen)
{
    bool loopback = listen_is_loopback(listen);

    if (strcmp(cfg->webserver.auth, "none") == 0) {
        if (!loopback) {
            log_error("webserver.auth is none, which is only allowed on a loopback address: "
                      "listen on 127.0.0.1, or set webserver.auth to password (the default) "
                      "listen=%s",
                      listen);
            return -1;
        }
        log_warn("webserver.auth is none: every local caller may do everything");
        return 0;
    }
    if (!loopback)
        log_info("listening beyond loopback: serve it through a TLS reverse proxy "
                 "(docs/security.md) and set webserver.base_url to its https:// address, "
                 "so that passwords and session cookies never cross the network in clear "
                 "listen=%s",
                 listen);
    return 0;
}

/*
 * Whether a pool connection can be had: the webserver tells the service
 * manager it is ready only once it listens and reaches the database.
 */
static bool database_reachable(dbpool_t *pool)
{
    char err[256];
    db_t *db = dbpool_acquire(pool, 0, err, sizeof(err));
    if (!db) {
        log_warn("not ready yet: cannot reach the database error=\"%s\"", err);
        return false;
    }
    dbpool_release(pool, db);
    return true;
}

int server_run(const config_t *cfg, const char *listen, volatile sig_atomic_t *stop)
{
    char threads[16], timeout[16], queue[16];
    const char *options[] = {
        "listening_ports",
        listen,
        "num_threads",
        threads,
        "request_timeout_ms",
        timeout,
        "connection_queue",
        queue,
        "keep_alive_timeout_ms",
        "5000",
        "enable_keep_alive",
        "yes",
        /* Responses are written whole; Nagle would hold the last segment
         * back until the client's delayed ACK (40 ms per request). */
        "tcp_nodelay",
        "1",
        "max_request_size",
        "16384",
        "enable_directory_listing",
        "no",
        "decode_url",
        "no",
        "additional_header",
        "X-Content-Type-Options: nosniff",
        "access_control_allow_origin",
        "",
        NULL,
    };
    struct mg_callbacks cb;
    struct mg_context *ctx = NULL;
    struct mg_server_port ports[4];
    api_t api = {.cfg = cfg, .db_wait_ms = DB_WAIT_MS};
    char err[256];
    int n, rc = -1;
    bool tracking = false;

    if (!listen_valid(listen)) {
        log_error("invalid listen address, expected HOST:PORT listen=%s", listen ? listen : "");
        return -1;
    }
    if (check_exposure(cfg, listen) < 0)
        return -1;
    api.guard = guard_new(cfg, listen, err, sizeof(err));
    if (!api.guard) {
        log_error("%s", err);
        return -1;
    }
    api.proxies = proxies_new(cfg->webserver.trusted_proxies, err, sizeof(err));
    if (!api.proxies) {
        log_error("%s", err);
        guard_free(api.guard);
        proxies_free(api.proxies);
        return -1;
    }
    snprintf(threads, sizeof(threads), "%d", cfg->webserver.threads);
    snprintf(timeout, sizeof(timeout), "%d", cfg->webserver.request_timeout_ms);
    snprintf(queue, sizeof(queue), "%d", CONNECTION_QUEUE);
    if (cfg->webserver.max_connections_per_address >= cfg->webserver.threads)
        log_warn("webserver.max_connections_per_address is not below webserver.threads: one "
                 "client address can hold every worker thread max_connections_per_address=%d "
                 "threads=%d",
                 cfg->webserver.max_connections_per_address, cfg->webserver.threads);
    mg_init_library(0);
    db_target_t target;
    config_db_target(cfg, &target);
    /* The listeners only LISTEN: behind a pooler they go straight to Postgres. */
    const char *listen_url = target.pooled ? target.direct_url : target.url;
    api.pool = dbpool_new(&target, (size_t)cfg->webserver.threads);
    api.cache = apicache_new((size_t)cfg->webserver.cache_mb << 20, CACHE_ENTRY_MAX);
    api.auth = auth_new(cfg);
    if (!api.pool || !api.cache || !api.auth) {
        log_error("out of memory");
        goto out;
    }
    if (apicache_start_listener(api.cache, listen_url) < 0) {
        log_error("cannot start the api cache listener");
        goto out;
    }
    if (!(api.feed = livefeed_start(listen_url))) {
        log_error("cannot start the live update listener");
        goto out;
    }
    /* Open connections are at most the worker threads, civetweb's queue
     * and the one being accepted. */
    if (conntrack_start(cfg->webserver.threads + CONNECTION_QUEUE + 8,
                        cfg->webserver.max_connections_per_address, api.proxies,
                        cfg->webserver.request_timeout_ms) < 0) {
        log_error("out of memory");
        goto out;
    }
    tracking = true;
    memset(&cb, 0, sizeof(cb));
    cb.log_message = on_log_message;
    cb.http_error = on_http_error;
    cb.connection_close = on_connection_close;
    ctx = mg_start(&cb, NULL, options);
    if (!ctx) {
        log_error("cannot start http server listen=%s", listen);
        goto out;
    }
    mg_set_request_handler(ctx, "/", api_handle_request, &api);
    n = mg_get_server_ports(ctx, 4, ports);
    log_info("webserver listening listen=%s port=%d threads=%d cache_mb=%d", listen,
             n > 0 ? ports[0].port : 0, cfg->webserver.threads, cfg->webserver.cache_mb);
    int64_t next_probe_us = 0;
    bool ready = false;
    while (!*stop) {
        /* this loop's turns are the webserver's proof of life to the
         * service manager's watchdog (core/notify.h) */
        notify_watchdog();
        int64_t now = ts_mono_us();
        if (!ready && now >= next_probe_us) {
            ready = database_reachable(api.pool);
            next_probe_us = now + TS_US_PER_SEC;
            if (ready)
                notify_ready("serving");
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        conntrack_expire(ts_mono_us());
    }
    log_info("webserver stopping");
    notify_stopping("stopping");
    rc = 0;
out:
    livefeed_shutdown(api.feed); /* a page waiting for a change gets its answer now */
    if (ctx)
        mg_stop(ctx);
    if (tracking)
        conntrack_stop();
    mg_exit_library();
    guard_free(api.guard);
    apicache_free(api.cache);
    livefeed_free(api.feed);
    auth_free(api.auth);
    dbpool_free(api.pool);
    return rc;
}
