/*
 * snapshot.c - see snapshot.h.
 */
#include "scheduler/snapshot.h"

#include <stdlib.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "store/gauges.h"

static void record_queues(queue_t *q, const gauges_t *g)
{
    if (g->n_queues == 0 || !q || !queue_ok(q))
        return;
    queue_stats_t *st = calloc(g->n_queues, sizeof(*st));
    if (!st)
        return;
    if (queue_stats(q, (const char *const *)g->queues, g->n_queues, st) == 0) {
        for (size_t i = 0; i < g->n_queues; i++) {
            const char *name = g->queues[i];
            if (st[i].length >= 0)
                metric_gauge(M_QUEUE_LENGTH, (double)st[i].length, name, NULL, NULL);
            if (st[i].lag >= 0)
                metric_gauge(M_QUEUE_LAG, (double)st[i].lag, name, NULL, NULL);
            if (st[i].pending >= 0)
                metric_gauge(M_QUEUE_PENDING, (double)st[i].pending, name, NULL, NULL);
        }
    } else {
        log_debug("queue gauges skipped: redis did not answer");
    }
    free(st);
}

int snapshot_record(db_t *db, queue_t *q)
{
    int64_t t0 = ts_mono_us();
    if (gauges_ping(db) < 0) {
        log_warn("metrics snapshot failed error=\"%s\"", db_error(db));
        return -1;
    }
    metric_observe(M_DB_ROUND_TRIP, (double)(ts_mono_us() - t0) / 1e6, NULL, NULL, NULL);

    gauges_t g;
    if (gauges_read(db, &g) < 0) {
        log_warn("metrics snapshot failed error=\"%s\"", db_error(db));
        return -1;
    }
    long open = g.worker_slots - g.running_tasks;
    metric_gauge(M_EXECUTOR_OPEN_SLOTS, (double)(open > 0 ? open : 0), NULL, NULL, NULL);
    metric_gauge(M_EXECUTOR_QUEUED_TASKS, (double)g.queued_tasks, NULL, NULL, NULL);
    metric_gauge(M_EXECUTOR_RUNNING_TASKS, (double)g.running_tasks, NULL, NULL, NULL);
    metric_gauge(M_SCHEDULER_DAGRUNS_RUNNING, (double)g.dagruns_running, NULL, NULL, NULL);
    metric_gauge(M_OUTBOX_BACKLOG, (double)g.outbox_backlog, NULL, NULL, NULL);
    for (size_t i = 0; i < g.n_pools; i++) {
        const gauges_pool_t *p = &g.pools[i];
        metric_gauge(M_POOL_OPEN_SLOTS, (double)p->open, p->name, NULL, NULL);
        metric_gauge(M_POOL_QUEUED_SLOTS, (double)p->queued, p->name, NULL, NULL);
        metric_gauge(M_POOL_RUNNING_SLOTS, (double)p->running, p->name, NULL, NULL);
        metric_gauge(M_POOL_STARVING_TASKS, (double)p->starving, p->name, NULL, NULL);
    }
    record_queues(q, &g);
    gauges_free(&g);
    return 0;
}
