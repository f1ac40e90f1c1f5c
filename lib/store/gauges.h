/*
 * gauges.h - the reads behind the scheduler's periodic gauges (executor
 * slots, pools, running DAG runs, the alert outbox, the queues to look at
 * in Redis), the Postgres round trip it times, and the DAG processor's
 * totals (DAGs and import errors).
 *
 * The snapshot is one statement. Every part of it reads through a partial
 * index on a live state (job_live, ti_active_pool, ti_scheduled,
 * dag_run_live, alert_delivery_due), so its cost follows what is live
 * now, never history.
 *
 * Functions return 0 or UPDRAFT_EDB (db_error() says why), UPDRAFT_ENOMEM.
 */
#ifndef UPDRAFT_STORE_GAUGES_H
#define UPDRAFT_STORE_GAUGES_H

#include <stddef.h>

#include "core/db.h"

#define GAUGES_MAX_POOLS 1000 /* pools read by one snapshot, by name */
#define GAUGES_MAX_QUEUES 100 /* queue names read by one snapshot */

typedef struct gauges_pool {
    char *name;
    long slots;    /* -1: unlimited */
    long open;     /* slots - running - queued (at least 0); -1 when unlimited */
    long queued;   /* slots of queued task instances */
    long running;  /* slots of running task instances */
    long starving; /* scheduled task instances that do not fit in the open slots */
} gauges_pool_t;

typedef struct gauges {
    long worker_slots;  /* sum of the concurrency of workers with a recent heartbeat */
    long running_tasks; /* task instances running, cluster-wide */
    long queued_tasks;  /* task instances queued, cluster-wide */
    long dagruns_running;
    long outbox_backlog; /* alert deliveries pending or being sent */
    gauges_pool_t *pools;
    size_t n_pools;
    char **queues; /* queues served by live workers or named by queued task instances */
    size_t n_queues;
    void *res_; /* owns the strings */
} gauges_t;

/* Reads the snapshot into *out (gauges_free() releases it). */
int gauges_read(db_t *db, gauges_t *out);
void gauges_free(gauges_t *g);

/* A trivial statement (SELECT 1), for timing the round trip. */
int gauges_ping(db_t *db);

/* The active DAGs and the files with import errors. */
int gauges_dagbag(db_t *db, long *dags, long *import_errors);

#endif
