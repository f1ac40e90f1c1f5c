/*
 * enqueue.h - moving 'scheduled' task instances to 'queued' and sending
 * them to the workers' Redis streams; re-sending 'queued' ones whose
 * message may have been lost.
 *
 * Both are commit-then-XADD (proto/PROTOCOL.md): the row change commits
 * first, then every message of the batch goes out in one pipeline. A crash
 * or a Redis failure between the two leaves 'queued' rows without a
 * message, which the resend pass covers; duplicates are fenced by the
 * worker's claim.
 */
#ifndef UPDRAFT_SCHEDULER_ENQUEUE_H
#define UPDRAFT_SCHEDULER_ENQUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/db.h"
#include "core/queue.h"

/*
 * The critical section: under pg_try_advisory_xact_lock (one scheduler at a
 * time; the others skip it), takes up to max 'scheduled' task instances by
 * priority_weight DESC, id, and queues (next try number) those within
 * their DAG's max_active_tasks, their task's max_active_tis_per_dag/_dagrun
 * and their pool's slots (pools_queue_scheduled, under the DAGs' and
 * pools' advisory locks). Then publishes them (q may be NULL or broken: the rows stay
 * queued for the resend pass). *n_queued: rows queued; *publish_failed:
 * true when the XADDs did not go out. Each time it holds the lock it sets
 * the gauges scheduler.tasks.executable (rows queued) and
 * scheduler.tasks.starving (rows left for lack of pool slots), as
 * Airflow's critical section does. Returns 0, or -1 on a database error.
 */
int enqueue_scheduled(db_t *db, queue_t *q, int max, size_t *n_queued, bool *publish_failed);

/*
 * Re-sends up to max 'queued' task instances whose queued_at is older than
 * older_than_sec (0: all of them), refreshing queued_at so that they are
 * not re-sent on every pass. Returns 0, or -1 on a database error.
 */
int enqueue_resend(db_t *db, queue_t *q, int older_than_sec, int max, size_t *n_sent,
                   bool *publish_failed);

#endif
