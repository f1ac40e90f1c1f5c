/*
 * snapshot.h - the scheduler's periodic gauges: what Postgres and Redis
 * hold right now, recorded every scheduler.heartbeat_sec by the loop
 * (never per pass).
 *
 * executor.open_slots / queued_tasks / running_tasks (cluster-wide: the
 * slots of the workers with a recent heartbeat, minus the tries running),
 * pool.open_slots / queued_slots / running_slots / starving_tasks per pool,
 * scheduler.dagruns.running, alerts.backlog, queue.length / lag / pending
 * per queue (the queues live workers serve and those queued task instances
 * name), and db.round_trip (a trivial statement, timed). One statement
 * (store/gauges.h) and one pipelined Redis round trip.
 */
#ifndef UPDRAFT_SCHEDULER_SNAPSHOT_H
#define UPDRAFT_SCHEDULER_SNAPSHOT_H

#include "core/db.h"
#include "core/queue.h"

/*
 * Records the gauges. q may be NULL or down (the queue gauges are then
 * left as they were). The caller has no transaction open. Returns 0, or
 * -1 when a statement failed (logged; db_ok() tells whether the
 * connection is gone).
 */
int snapshot_record(db_t *db, queue_t *q);

#endif
