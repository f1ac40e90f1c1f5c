/*
 * reporter.h - the worker's writes to Postgres after the claim: log chunks,
 * heartbeats, outcomes, and its own job row.
 *
 * Every write for a try carries the fencing guard of proto/PROTOCOL.md
 * (id, try_number, worker_id, state = 'running'); a write the guard rejects
 * tells the caller the try was taken away. Each call is one statement (one
 * round trip, atomic on its own), so a broken connection never leaves a
 * transaction half done: the caller keeps what it wanted to write and
 * tries again later.
 */
#ifndef UPDRAFT_WORKER_REPORTER_H
#define UPDRAFT_WORKER_REPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/db.h"
#include "worker/wtry.h"

#define REPORTER_STATE_LEN 32

/* Inserts a job row (WorkerJob). 0 with *job_id, or -1. */
int reporter_job_start(db_t *db, const char *hostname, int pid, const char *queues_csv,
                       int64_t *job_id);
/* Marks the job row ended with state ("success" / "failed"). 0 or -1. */
int reporter_job_end(db_t *db, int64_t job_id, const char *state);

/*
 * Stores one log chunk of a running try (data: valid UTF-8, non-empty).
 * Returns 1 when stored, 0 when the guard rejected it, -1 on a database error.
 */
int reporter_log(db_t *db, int64_t job_id, int64_t ti_id, int try_number, const char *data);

/*
 * Refreshes the job's heartbeat and the heartbeat of the n given tries.
 * alive[i] is set to whether try i still holds its guard. Returns 0, or -1
 * on a database error (alive untouched).
 */
int reporter_heartbeat(db_t *db, int64_t job_id, const int64_t *ti_ids, const int *tries, size_t n,
                       bool *alive);

/*
 * Writes a try's outcome: success, or else up_for_retry (next_try_at = now +
 * retry delay) while try_number <= max_tries, else failed; end_date and
 * duration; the last log chunk (may be NULL/empty); and NOTIFY
 * updraft_scheduler '<dag_run id>' - one statement, so all or nothing.
 * Returns 1 with the new state in state_out, 0 when the guard rejected it,
 * -1 on a database error.
 */
int reporter_finish(db_t *db, int64_t job_id, const wtry_t *t, bool success, const char *log_tail,
                    char *state_out, size_t statelen);

#endif
