/*
 * healthsrv.h - the small health endpoint each daemon can answer on its
 * own port (`--health-port`), as Airflow's scheduler health check server,
 * for Kubernetes liveness and readiness probes.
 *
 * GET /health answers 200 {"status": "healthy", ...} while the daemon's
 * main loop has reported progress (healthsrv_beat) within threshold_sec,
 * else 503 {"status": "unhealthy", ...}. GET /metrics answers the
 * process's metrics in Prometheus's text format (core/metrics.h), without
 * authentication, like /health. Anything else is 404. One
 * civetweb thread, loopback by default ("127.0.0.1:PORT"); the probe
 * reads only an atomic timestamp, never the database.
 */
#ifndef UPDRAFT_HEALTHSRV_H
#define UPDRAFT_HEALTHSRV_H

#include <stddef.h>

typedef struct healthsrv healthsrv_t;

/*
 * Starts answering on listen ("PORT" or "HOST:PORT"; a bare port listens
 * on 127.0.0.1). component names the daemon in the answer. Returns NULL
 * with err filled when the port cannot be opened.
 */
healthsrv_t *healthsrv_start(const char *listen, const char *component, int threshold_sec,
                             char *err, size_t errlen);

/* Records progress now (thread-safe; NULL is a no-op). */
void healthsrv_beat(healthsrv_t *h);

/* Stops and frees (NULL is a no-op). */
void healthsrv_stop(healthsrv_t *h);

#endif
