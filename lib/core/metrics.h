/*
 * metrics.h - Airflow's metrics, recorded once and published two ways:
 * pushed as StatsD lines under Airflow's names (metrics.statsd_on), and
 * exposed for Prometheus at /metrics under updraft_ names with labels.
 *
 * Every metric is one row of the table in metrics.c: its id below, its kind,
 * its Prometheus name and label names, its StatsD name template (Airflow's,
 * with the label values spliced in, e.g. "ti.finish.{dag_id}.{task_id}.{state}")
 * and its help text. docs/metrics.md lists the same table.
 *
 * Recording never blocks and never allocates on the caller's path: a call
 * appends one fixed-size event to the calling thread's buffer; one sender
 * thread per process drains the buffers, folds the events into the
 * registry that /metrics renders and sends the StatsD datagrams. When a
 * buffer is full the event is dropped and counted
 * (updraft_metrics_dropped_total). Label values longer than
 * METRIC_LABEL_MAX bytes are cut; the series of one metric are bounded
 * (metrics.max_series_per_metric), past which new label sets fold into one
 * series whose labels read "__overflow__".
 *
 * Labels are passed positionally in the order the table names them; pass
 * NULL for a metric with fewer labels. Durations are in seconds (StatsD
 * timers are sent in milliseconds, as Airflow's).
 */
#ifndef UPDRAFT_METRICS_H
#define UPDRAFT_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "core/config.h"

#define METRIC_LABEL_MAX 250

typedef enum metric_id {
    /* scheduler: loop and DAG processing */
    M_SCHEDULER_HEARTBEAT,             /* counter   scheduler_heartbeat */
    M_SCHEDULER_LOOP_DURATION,         /* histogram scheduler.scheduler_loop_duration */
    M_SCHEDULER_TASKS_STARVING,        /* gauge     scheduler.tasks.starving */
    M_SCHEDULER_TASKS_EXECUTABLE,      /* gauge     scheduler.tasks.executable */
    M_SCHEDULER_DAGRUNS_RUNNING,       /* gauge     scheduler.dagruns.running */
    M_SCHEDULER_TASKS_STUCK_IN_QUEUED, /* counter   scheduler.tasks.stuck_in_queued */
    M_ZOMBIES_KILLED,                  /* counter   task_instances_without_heartbeats_killed
                                          [dag_id, task_id] */
    M_DAG_PROCESSING_TOTAL_PARSE_TIME, /* gauge     dag_processing.total_parse_time */
    M_DAG_PROCESSING_IMPORT_ERRORS,    /* gauge     dag_processing.import_errors */
    M_DAGBAG_SIZE,                     /* gauge     dagbag_size */
    M_DAG_PROCESSING_LAST_DURATION,    /* gauge     dag_processing.last_duration.{file} [file] */
    /* executor and pools (the scheduler's periodic snapshot of Postgres) */
    M_EXECUTOR_OPEN_SLOTS,    /* gauge executor.open_slots */
    M_EXECUTOR_QUEUED_TASKS,  /* gauge executor.queued_tasks */
    M_EXECUTOR_RUNNING_TASKS, /* gauge executor.running_tasks */
    M_POOL_OPEN_SLOTS,        /* gauge pool.open_slots.{pool} [pool] */
    M_POOL_QUEUED_SLOTS,      /* gauge pool.queued_slots.{pool} [pool] */
    M_POOL_RUNNING_SLOTS,     /* gauge pool.running_slots.{pool} [pool] */
    M_POOL_STARVING_TASKS,    /* gauge pool.starving_tasks.{pool} [pool] */
    /* DAG runs */
    M_DAGRUN_DURATION_SUCCESS,            /* histogram dagrun.duration.success.{dag_id} [dag_id] */
    M_DAGRUN_DURATION_FAILED,             /* histogram dagrun.duration.failed.{dag_id} [dag_id] */
    M_DAGRUN_SCHEDULE_DELAY,              /* histogram dagrun.schedule_delay.{dag_id} [dag_id] */
    M_DAGRUN_FIRST_TASK_SCHEDULING_DELAY, /* histogram dagrun.{dag_id}.first_task_scheduling_delay
                                             [dag_id] */
    /* task instances */
    M_TI_START,             /* counter   ti.start.{dag_id}.{task_id} [dag_id, task_id] */
    M_TI_FINISH,            /* counter   ti.finish.{dag_id}.{task_id}.{state}
                               [dag_id, task_id, state] */
    M_TI_SUCCESSES,         /* counter   ti_successes */
    M_TI_FAILURES,          /* counter   ti_failures */
    M_TASK_DURATION,        /* histogram dag.{dag_id}.{task_id}.duration [dag_id, task_id] */
    M_TASK_QUEUED_DURATION, /* histogram dag.{dag_id}.{task_id}.queued_duration
                               [dag_id, task_id] */
    /* updraft's own */
    M_CLAIM_LATENCY,     /* histogram claim.latency [queue]: message read to claim committed */
    M_HOP_LATENCY,       /* histogram hop.latency [queue]: upstream end to downstream start */
    M_OUTBOX_BACKLOG,    /* gauge     alerts.backlog: alert deliveries pending */
    M_QUEUE_LENGTH,      /* gauge     queue.length.{queue} [queue]: stream entries */
    M_QUEUE_LAG,         /* gauge     queue.lag.{queue} [queue]: entries not yet delivered */
    M_QUEUE_PENDING,     /* gauge     queue.pending.{queue} [queue]: delivered, not acked */
    M_DB_ROUND_TRIP,     /* histogram db.round_trip: a trivial Postgres query */
    M_WORKER_SLOTS_USED, /* gauge     worker.slots.used */
    M_WORKER_SLOTS_FREE, /* gauge     worker.slots.free */
    M_METRICS_DROPPED,   /* counter   metrics.dropped: events lost to a full buffer */
    M__COUNT
} metric_id_t;

/*
 * Starts the sender thread for this process. component ("scheduler",
 * "worker", "webserver") and hostname become constant labels of every
 * series. Without a call (or with StatsD off and nobody scraping) the
 * recording functions still work and cost one buffer append. Returns 0, or
 * -1 with err filled (a bad statsd_host, a thread that cannot start).
 */
int metrics_start(const config_t *cfg, const char *component, const char *hostname, char *err,
                  size_t errlen);

/* Flushes what is buffered (StatsD included) and stops the sender. */
void metrics_stop(void);

/* Adds n to a counter. */
void metric_count(metric_id_t m, double n, const char *l1, const char *l2, const char *l3);
/* Sets a gauge. */
void metric_gauge(metric_id_t m, double v, const char *l1, const char *l2, const char *l3);
/* Records one observation (seconds for durations) into a histogram. */
void metric_observe(metric_id_t m, double v, const char *l1, const char *l2, const char *l3);

/*
 * Renders the Prometheus text exposition (format 0.0.4) of every series
 * this process has recorded into a malloc'd buffer (*out, *outlen).
 * Returns 0, or -1 when out of memory.
 */
int metrics_render_prometheus(char **out, size_t *outlen);

/*
 * Writes the metric table of docs/metrics.md (Prometheus name, type,
 * labels, StatsD name, buckets, description) from the table in metrics.c,
 * so that the document cannot drift from the code (`make docs-metrics`).
 * 0, or -1 on a write error.
 */
int metrics_write_markdown(FILE *f);

/* The Content-Type of what metrics_render_prometheus renders. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
