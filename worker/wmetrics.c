/*
 * wmetrics.c - the worker's metrics (see wmetrics.h).
 *
 * Airflow counts ti_failures in handle_failure, which ends a try both as
 * up_for_retry and as failed: so does this. A skip and a reschedule are
 * neither a success nor a failure.
 */
#include "worker/wmetrics.h"

#include <string.h>

#include "core/metrics.h"
#include "core/timeutil.h"

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

void wmetrics_claimed(const wtry_t *t)
{
    const char *dag = str_or_empty(t->dag_id), *task = str_or_empty(t->task_id);
    metric_count(M_TI_START, 1, dag, task, NULL);
    if (t->queued_at != TS_NONE && t->start_date != TS_NONE && t->start_date >= t->queued_at)
        metric_observe(M_TASK_QUEUED_DURATION,
                       (double)(t->start_date - t->queued_at) / (double)TS_US_PER_SEC, dag, task,
                       NULL);
}

void wmetrics_claim_latency(const char *queue, int64_t read_mono_us, int64_t now_mono_us)
{
    int64_t d = now_mono_us - read_mono_us;
    metric_observe(M_CLAIM_LATENCY, d > 0 ? (double)d / (double)TS_US_PER_SEC : 0.0,
                   str_or_empty(queue), NULL, NULL);
}

void wmetrics_hop(const wtry_t *t, int64_t upstream_exit_mono_us, int64_t now_mono_us)
{
    int64_t d;
    if (upstream_exit_mono_us > 0) {
        d = now_mono_us - upstream_exit_mono_us;
    } else {
        if (t->delivery.msg.enqueued_us <= 0)
            return; /* an older publisher: no enqueue time */
        d = ts_now() - t->delivery.msg.enqueued_us;
    }
    /* Another host's clock may be ahead of ours: a negative hop reads 0. */
    metric_observe(M_HOP_LATENCY, d > 0 ? (double)d / (double)TS_US_PER_SEC : 0.0,
                   t->delivery.queue, NULL, NULL);
}

void wmetrics_finished(const wtry_t *t, const char *state, double ran_sec)
{
    const char *dag = str_or_empty(t->dag_id), *task = str_or_empty(t->task_id);
    metric_count(M_TI_FINISH, 1, dag, task, state);
    if (!strcmp(state, "success"))
        metric_count(M_TI_SUCCESSES, 1, NULL, NULL, NULL);
    else if (!strcmp(state, "failed") || !strcmp(state, "up_for_retry"))
        metric_count(M_TI_FAILURES, 1, NULL, NULL, NULL);
    metric_observe(M_TASK_DURATION, ran_sec > 0 ? ran_sec : 0.0, dag, task, NULL);
}

void wmetrics_slots(int used, int total)
{
    metric_gauge(M_WORKER_SLOTS_USED, used, NULL, NULL, NULL);
    metric_gauge(M_WORKER_SLOTS_FREE, total - used > 0 ? total - used : 0, NULL, NULL, NULL);
}
