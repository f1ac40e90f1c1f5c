/*
 * wmetrics.h - what the worker records through core/metrics.h, in one
 * place, so that the claim and outcome paths each make one call per try.
 *
 * Every function here is called only once the database holds what it
 * counts (the claim or the outcome committed), so that counts equal the
 * database's; each costs the metric_* buffer appends it makes, nothing
 * else (no allocation, no lock, no I/O). docs/metrics.md "What the worker
 * reports" says what each figure measures.
 */
#ifndef UPDRAFT_WORKER_WMETRICS_H
#define UPDRAFT_WORKER_WMETRICS_H

#include <stdint.h>

#include "worker/wtry.h"

/*
 * A claim of t committed: ti.start, and the queued duration (start_date -
 * queued_at, both the database's clock) when both are known.
 */
void wmetrics_claimed(const wtry_t *t);

/*
 * Claim latency of one try taken from a queue: read_mono_us is when the
 * read that delivered it returned, now_mono_us when its claim committed
 * (both monotonic).
 */
void wmetrics_claim_latency(const char *queue, int64_t read_mono_us, int64_t now_mono_us);

/*
 * Hop latency of a try whose process just started. Taken directly by the
 * mini-scheduler (upstream_exit_mono_us > 0): from the exit of the
 * upstream try whose outcome transaction claimed it, on this process's
 * monotonic clock. Taken from a queue (upstream_exit_mono_us 0): from the
 * message's enqueue time (the publisher's wall clock) to now on this
 * host's wall clock; nothing is recorded when the message has none.
 */
void wmetrics_hop(const wtry_t *t, int64_t upstream_exit_mono_us, int64_t now_mono_us);

/*
 * An outcome of t committed with state (the state the database now
 * holds): ti.finish by state, ti_successes or ti_failures, and the task
 * duration (ran_sec: the try's process start to its exit).
 */
void wmetrics_finished(const wtry_t *t, const char *state, double ran_sec);

/* The slot gauges (used and free of total). */
void wmetrics_slots(int used, int total);

#endif
