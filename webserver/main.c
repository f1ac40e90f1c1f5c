/*
 * updraft-webserver - the REST API (and later the UI) over Postgres.
 *
 *   updraft-webserver [--config PATH] [--print-config] [--listen HOST:PORT] [--routes]
 *
 * --routes prints the route table with each route's permission and exits.
 *
 * Threads: the main thread loads the config, starts civetweb and waits for
 * SIGINT/SIGTERM; civetweb's master thread accepts connections; its
 * webserver.threads worker threads run the handlers (api.c), each request
 * borrowing one Postgres connection from the pool (dbpool.c) for its
 * duration; the response cache's listener thread (apicache.c) owns one more
 * connection, LISTENs on updraft_api and invalidates the cache; the live
 * update listener (livefeed.c) owns one more, LISTENing for /ui/changes
 * (behind a transaction pooler, database.pooler, both go to
 * database.direct_url and the pool through the pooler). The cache
 * (mutex-guarded table, atomic generation) is the only state requests share
 * (libcurl's global state, for connection tests, is set up before them).
 * The metrics sender (core/metrics.c) drains what the threads record into
 * the registry behind GET /metrics and sends StatsD datagrams.
 * Under systemd (Type=notify, core/notify.h) the main thread sends READY=1
 * once civetweb listens and a database connection works, WATCHDOG=1 from
 * its wait loop and STOPPING=1 on a stop.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "webserver/api.h"
#include "webserver/server.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: updraft-webserver [--config PATH] [--print-config] [--listen HOST:PORT] "
               "[--routes]\n");
}

int main(int argc, char **argv)
{
    config_t cfg;
    const char *listen = NULL;
    log_level_t level = LOG_LEVEL_INFO;
    struct sigaction sa;
    int rc;

    log_init("webserver", LOG_LEVEL_INFO); /* the configuration's warnings name us too */
    rc = config_from_args(&argc, argv, &cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strncmp(argv[i], "--listen=", 9) == 0) {
            listen = argv[i] + 9;
        } else if (strcmp(argv[i], "--routes") == 0) {
            api_print_routes(stdout);
            config_free(&cfg);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            config_free(&cfg);
            return 0;
        } else {
            fprintf(stderr, "updraft-webserver: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            config_free(&cfg);
            return 2;
        }
    }
    if (log_parse_level(cfg.logging.level, &level) < 0)
        level = LOG_LEVEL_INFO;
    log_init("webserver", level);
    notify_init();

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    /* before any thread: POST /connections/test uses libcurl (sched/conntest.h) */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("libcurl could not be initialised");
        config_free(&cfg);
        return 1;
    }
    char hostname[256] = "", merr[256];
    if (cfg.core.hostname && cfg.core.hostname[0])
        snprintf(hostname, sizeof(hostname), "%s", cfg.core.hostname);
    else if (gethostname(hostname, sizeof(hostname) - 1) < 0)
        snprintf(hostname, sizeof(hostname), "localhost");
    if (metrics_start(&cfg, "webserver", hostname, merr, sizeof(merr)) < 0) {
        log_error("cannot start the metrics sender error=\"%s\"", merr);
        curl_global_cleanup();
        config_free(&cfg);
        return 1;
    }
    rc = server_run(&cfg, listen ? listen : cfg.webserver.listen, &g_stop);
    metrics_stop();
    curl_global_cleanup();
    config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
