/*
 * healthsrv.c - see healthsrv.h.
 */
#include "core/healthsrv.h"

#include <civetweb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/timeutil.h"

struct healthsrv {
    struct mg_context *ctx;
    char component[32];
    int threshold_sec;
    _Atomic int64_t last_beat_us; /* monotonic, 0 = never */
    int64_t started_us;
};

void healthsrv_beat(healthsrv_t *h)
{
    if (h)
        atomic_store(&h->last_beat_us, ts_mono_us());
}

static int on_health(struct mg_connection *conn, void *arg)
{
    healthsrv_t *h = arg;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (strcmp(ri->request_method, "GET") != 0 && strcmp(ri->request_method, "HEAD") != 0) {
        mg_send_http_error(conn, 405, "%s", "method not allowed");
        return 405;
    }
    int64_t now = ts_mono_us(), last = atomic_load(&h->last_beat_us);
    double age = last ? (double)(now - last) / 1e6 : -1;
    bool ok = last && now - last <= (int64_t)h->threshold_sec * 1000000;
    char body[256], since[32];
    if (age < 0)
        snprintf(since, sizeof(since), "null");
    else
        snprintf(since, sizeof(since), "%.3f", age);
    int n = snprintf(body, sizeof(body),
                     "{\"status\": \"%s\", \"component\": \"%s\", \"seconds_since_progress\": %s,"
                     " \"uptime_seconds\": %.0f}\n",
                     ok ? "healthy" : "unhealthy", h->component, since,
                     (double)(now - h->started_us) / 1e6);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              ok ? 200 : 503, ok ? "OK" : "Service Unavailable", n);
    if (strcmp(ri->request_method, "HEAD") != 0)
        mg_write(conn, body, (size_t)n);
    return ok ? 200 : 503;
}

/* GET /metrics: this process's metrics for Prometheus (core/metrics.h). */
static int on_metrics(struct mg_connection *conn, void *arg)
{
    (void)arg;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (strcmp(ri->request_method, "GET") != 0 && strcmp(ri->request_method, "HEAD") != 0) {
        mg_send_http_error(conn, 405, "%s", "method not allowed");
        return 405;
    }
    char *text = NULL;
    size_t len = 0;
    if (metrics_render_prometheus(&text, &len) < 0) {
        mg_send_http_error(conn, 500, "%s", "out of memory");
        return 500;
    }
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: " METRICS_CONTENT_TYPE "\r\n"
              "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
              len);
    if (strcmp(ri->request_method, "HEAD") != 0)
        mg_write(conn, text, len);
    free(text);
    return 200;
}

static int on_log(const struct mg_connection *conn, const char *msg)
{
    (void)conn;
    (void)msg;
    return 1; /* quiet: failures are reported by healthsrv_start */
}

healthsrv_t *healthsrv_start(const char *listen, const char *component, int threshold_sec,
                             char *err, size_t errlen)
{
    char ports[128];
    if (!listen || !*listen || strlen(listen) > 100) {
        snprintf(err, errlen, "invalid health listen address");
        return NULL;
    }
    if (strspn(listen, "0123456789") == strlen(listen))
        snprintf(ports, sizeof(ports), "127.0.0.1:%s", listen);
    else
        snprintf(ports, sizeof(ports), "%s", listen);
    healthsrv_t *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(h->component, sizeof(h->component), "%s", component);
    h->threshold_sec = threshold_sec > 0 ? threshold_sec : 30;
    h->started_us = ts_mono_us();
    /* A probe asks and goes: a few threads and a short request timeout, so
     * idle or slow sockets hold the endpoint for two seconds at most; no
     * CORS header (civetweb's default allows every origin). */
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             "4",
                             "request_timeout_ms",
                             "2000",
                             "enable_keep_alive",
                             "no",
                             "access_control_allow_origin",
                             "",
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.log_message = on_log;
    mg_init_library(0);
    h->ctx = mg_start(&cb, NULL, options);
    if (!h->ctx) {
        snprintf(err, errlen, "cannot listen on %s for the health endpoint", ports);
        free(h);
        return NULL;
    }
    mg_set_request_handler(h->ctx, "/health", on_health, h);
    mg_set_request_handler(h->ctx, "/metrics$", on_metrics, h);
    return h;
}

void healthsrv_stop(healthsrv_t *h)
{
    if (!h)
        return;
    mg_stop(h->ctx);
    free(h);
}
