/*
 * reaper.h - tries whose worker is gone, and tries nobody took.
 *
 * A running try whose heartbeat is older than zombie_threshold_sec is a
 * zombie (its worker died, hung, or lost Postgres for that long): it is
 * failed, or made up_for_retry with its normal retry delay when tries
 * remain, exactly as if it had failed. A queued try older than
 * task_queued_timeout_sec (no worker serves its queue, or its message and
 * every re-send were lost) is ended the same way, as Airflow 2.6's
 * task_queued_timeout. Each change is one guarded UPDATE per try (the
 * state, try number and the stale timestamp are repeated), so a worker
 * that reports meanwhile wins, and a worker that comes back later finds
 * its guard failed and kills the try without writing anything.
 */
#ifndef UPDRAFT_SCHEDULER_REAPER_H
#define UPDRAFT_SCHEDULER_REAPER_H

#include <stddef.h>
#include <stdint.h>

#include "core/db.h"

/*
 * Ends at most max zombie tries (running, heartbeat older than
 * threshold_sec) and at most max stuck queued tries (queued_at older than
 * queued_timeout_sec), each in its own transaction, writing a line to the
 * try's log. The runs they belong to are appended to *run_ids (malloc'd,
 * grown; caller frees) so the caller plans them. Each try ended counts
 * in task_instances_without_heartbeats_killed (by dag_id, task_id) or
 * scheduler.tasks.stuck_in_queued. The caller has no
 * transaction open. Returns 0 (counts in *n_zombies, *n_stuck) or -1 on a
 * database error.
 */
int reaper_run(db_t *db, int threshold_sec, int queued_timeout_sec, size_t max, int64_t **run_ids,
               size_t *n_runs, size_t *n_zombies, size_t *n_stuck);

#endif
