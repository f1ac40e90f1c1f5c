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

#include "core/db.h"
#include "worker/wtry.h"

#define REPORTER_STATE_LEN 32
#define REPORTER_MAX_RESCHEDULE_SEC (366LL * 86400) /* a later next poke is brought forward */

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

/* One outcome to write: the try, whether it succeeded, its last log chunk (may be NULL). */
typedef struct reporter_outcome {
    const wtry_t *t;
    bool success;
    bool skipped; /* exit code in skip_on_exit_code: the try ends skipped (no retry) */
    bool no_retry;   /* failed without retry (OPERATOR_EXIT_FAIL_NO_RETRY) */
    bool reschedule; /* a sensor in reschedule mode is not done (OPERATOR_EXIT_RESCHEDULE) */
    long long reschedule_sec; /* reschedule: seconds until the next poke */
    const char *log_tail;
    /* out: 1 written (state holds the new state), 0 rejected by the guard */
    int written;
    char state[REPORTER_STATE_LEN];
} reporter_outcome_t;

/*
 * Writes n outcomes in one statement, inside the caller's transaction or
 * on its own: success, skipped, up_for_reschedule, or else up_for_retry
 * (next_try_at = now + the retry delay of wtry_retry_delay) while
 * try_number <= max_tries and not no_retry, else failed; end_date and
 * duration; the last log chunks.
 *
 * Reschedule: next_try_at = now + reschedule_sec, try_number - 1 (queueing
 * adds 1 again: the next poke keeps the try number and appends to the same
 * try's log), poke_count + 1, first_poke_at = coalesce(first_poke_at,
 * start_date). Every other outcome resets first_poke_at and poke_count. Each outcome carries the fencing guard; o[i].written
 * says whether it held. Nothing is NOTIFYed here (the caller's
 * mini-scheduler decides). Returns 0, or -1 on a database error (nothing
 * written).
 */
int reporter_finish_batch(db_t *db, int64_t job_id, reporter_outcome_t *o, size_t n);

#endif
