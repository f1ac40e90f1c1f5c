/*
 * alerter.h - the scheduler's alert sender thread (docs/alerts.md).
 *
 * It owns one db_t (LISTEN updraft_alerts), one libcurl multi handle and
 * a cache of the alert settings of DAG versions. Each turn it
 *   1. takes unprocessed callback events (FOR UPDATE SKIP LOCKED), writes
 *      an alert_delivery row per (event, connection) that should be
 *      alerted and marks the events processed, in one transaction;
 *   2. every alerts.sla_check_interval_sec, records SLA misses (sla_miss
 *      rows and their sla_miss events) in one statement;
 *   3. claims due deliveries (FOR UPDATE SKIP LOCKED; a lease of
 *      alerts.request_timeout_sec + 5 s), builds their messages and
 *      starts them on the multi handle, up to alerts.max_in_flight;
 *   4. writes each finished attempt back (delivered, retry later, failed),
 *      guarded by (leased_by, attempts) so that a delivery taken over by
 *      another scheduler is not overwritten.
 * It is also the scheduler's housekeeping: hourly, processed events older
 * than alerts.event_retention_days go; every ten minutes, task log rows
 * older than logging.retention_days (a bounded pass, store/tasklog.h).
 * It sleeps in curl_multi_poll() on curl's sockets, the database socket
 * and wake_fd, for at most the time until the next due delivery, the SLA
 * timer or the safety sweep (alerts.sweep_interval_sec). It never exits
 * on a database or network failure: it rolls back, reconnects with
 * backoff and carries on until *stop. At a stop, requests in flight get a
 * few seconds to finish; those still unanswered are released (pending) so
 * that another scheduler sends them.
 */
#ifndef UPDRAFT_SCHEDULER_ALERTER_H
#define UPDRAFT_SCHEDULER_ALERTER_H

#include <stdbool.h>

#include "core/config.h"

typedef struct alerter_args {
    const config_t *cfg;
    const char *hostname; /* names this sender in leases and messages */
    volatile bool *stop;  /* set by main on SIGINT/SIGTERM (then wake_fd is written) */
    int wake_fd;          /* eventfd; readable = "look now" */
} alerter_args_t;

/* pthread entry point; arg is an alerter_args_t. curl_global_init must have run. */
void *alerter_thread(void *arg);

#endif
