/*
 * ti.h - task-instance transitions with the fencing guard: what a worker
 * writes to the task_instance rows of the tries it runs (claim, log
 * chunks, heartbeats, outcomes, the hand-back at shutdown), and the
 * statements of its mini-scheduler that run inside the outcome
 * transaction.
 *
 * The transitions held here (docs/design.md "State machine", the worker's
 * row): queued -> running (the claim); running -> success, failed,
 * up_for_retry, up_for_reschedule or skipped (the outcomes); running ->
 * scheduled (the hand-back at shutdown). The scheduler's transitions are
 * store/ti_sched.h, store/runplan.h and store/pools.h; the users'
 * store/ti_admin.h.
 *
 * Every write for a try after its claim carries the fencing guard of
 * proto/PROTOCOL.md (id, try_number, worker_id, state = 'running'); a
 * write the guard rejects tells the caller the try was taken away. Each
 * call is one statement (one round trip, atomic on its own), so a broken
 * connection never leaves a transaction half done: the caller keeps what
 * it wanted to write and tries again later. Statements are prepared once
 * per connection by name.
 *
 * Nothing here knows the worker's types: a try is its (id, try_number)
 * pair, and what the worker decides (a retry delay, a reschedule delay)
 * is passed in as plain values.
 */
#ifndef UPDRAFT_STORE_TI_H
#define UPDRAFT_STORE_TI_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"

#define TI_STATE_LEN 32

/* ---- the claim ---------------------------------------------------------- */

/*
 * Column order of the claim's rows: id, try_number, max_tries, map_index,
 * dag_run_id, logical_date (epoch microseconds), dag_id, run_id, task_id,
 * operator, spec (json text; NULL when the version is one of the cached
 * ones), dag_version_id, the run's conf (json text), data_interval_start,
 * data_interval_end, first_poke_at (epoch microseconds), poke_count,
 * start_date (epoch microseconds), queued_at (epoch microseconds, the
 * queued_dttm of the try being claimed).
 */
#define TI_CLAIM_COLUMNS 19
#define TI_CLAIM_COL_SPEC 10
#define TI_CLAIM_COL_VERSION 11
#define TI_CLAIM_COL_CONF 12
#define TI_CLAIM_COL_INTERVAL_START 13
#define TI_CLAIM_COL_INTERVAL_END 14
#define TI_CLAIM_COL_FIRST_POKE 15
#define TI_CLAIM_COL_POKE_COUNT 16
#define TI_CLAIM_COL_START_DATE 17
#define TI_CLAIM_COL_QUEUED_AT 18

/*
 * The claim of proto/PROTOCOL.md for n (id, try) pairs in one statement:
 * 'queued' -> 'running' with hostname, pid and worker_id = job_id. The
 * spec column is NULL for rows whose DAG version is among the ncached
 * cached_versions. direct: the worker's mini-scheduler claims inside its
 * outcome transaction, so start_date is the claim's own time
 * (clock_timestamp()) rather than the transaction's start.
 * Returns 0 with *out (TI_CLAIM_COLUMNS columns per claimed row; the
 * caller PQclear()s it), UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int ti_claim(db_t *db, bool direct, const char *hostname, int pid, int64_t job_id,
             const int64_t *ids, const int *tries, size_t n, const int64_t *cached_versions,
             size_t ncached, PGresult **out);

/* ---- while the try runs ------------------------------------------------- */

/*
 * Stores one log chunk of a running try (data: valid UTF-8, non-empty),
 * and in the same statement, when rendered is not NULL, the try's
 * rendered fields (JSON text of an object: the instance's row of
 * rendered_task_instance_fields, replacing an earlier try's), then trims
 * the rows of the same task outside the DAG's latest keep_runs runs
 * (0: keep all). Returns 0 when stored, UPDRAFT_ECONFLICT when the guard
 * rejected it (nothing written), UPDRAFT_EDB on a database error.
 */
int ti_log(db_t *db, int64_t job_id, int64_t ti_id, int try_number, const char *data,
           const char *rendered, int keep_runs);

/*
 * Refreshes the job's heartbeat and the heartbeat of the n given tries.
 * alive[i] is set to whether try i still holds its guard. Returns 0,
 * UPDRAFT_ENOMEM or UPDRAFT_EDB (alive untouched).
 */
int ti_heartbeat(db_t *db, int64_t job_id, const int64_t *ti_ids, const int *tries, size_t n,
                 bool *alive);

/* ---- outcomes ----------------------------------------------------------- */

/* One outcome to write. */
typedef struct ti_outcome {
    int64_t ti_id;
    int try_number; /* the try number it was claimed with */
    bool success;
    bool skipped;    /* ends skipped (no retry) */
    bool no_retry;   /* failed without retry */
    bool reschedule; /* a sensor in reschedule mode is not done */
    /*
     * Seconds until the next try: the retry delay of a failure, or the
     * time to the next poke of a reschedule (ignored for a success or a
     * skip). The caller bounds it.
     */
    long long delay_sec;
    const char *log_tail; /* the last log chunk, NULL or "" for none */
    const char *rendered; /* the try's rendered fields not stored yet (JSON text), NULL none */
    /* out: whether the guard held (state holds the new state) */
    bool written;
    char state[TI_STATE_LEN];
} ti_outcome_t;

/*
 * Writes n outcomes in one statement, inside the caller's transaction or
 * on its own: success, skipped, up_for_reschedule, or else up_for_retry
 * (next_try_at = now + delay_sec) while try_number <= max_tries and not
 * no_retry, else failed; end_date and duration; the last log chunks.
 *
 * Reschedule: next_try_at = now + delay_sec, try_number - 1 (queueing
 * adds 1 again: the next poke keeps the try number and appends to the
 * same try's log), poke_count + 1, first_poke_at = coalesce(first_poke_at,
 * start_date). Every other outcome resets first_poke_at and poke_count.
 * Each outcome carries the fencing guard; o[i].written says whether it
 * held. The rendered fields of the outcomes that have them are stored and
 * trimmed as ti_log does (keep_runs). Nothing is NOTIFYed here (the caller's mini-scheduler
 * decides). Returns 0, UPDRAFT_ENOMEM or UPDRAFT_EDB (nothing written).
 */
int ti_finish_batch(db_t *db, int64_t job_id, ti_outcome_t *o, size_t n, int keep_runs);

/*
 * Shutdown: gives the n running tries back, in one guarded statement, as
 * 'scheduled' with max_tries + 1 (the next try does not consume a retry),
 * with a warning line in each try's log, and NOTIFYs the schedulers of
 * their runs. Returns 0 with *handed (rows given back) or UPDRAFT_ENOMEM
 * / UPDRAFT_EDB.
 */
int ti_hand_back(db_t *db, int64_t job_id, const int64_t *ti_ids, const int *tries, size_t n,
                 long *handed);

/* ---- the worker's mini-scheduler (inside the outcome transaction) -------- */

/*
 * Takes the per-DAG queueing lock (store/locks.h LOCK_DAG_CLASS), waiting
 * for it, of those of the n dag_ids that have 'scheduled' task instances,
 * in one statement and in the (hashtext, name) order every planner uses.
 * locked[0..*nlocked) receives the indexes into dag_ids of the DAGs locked,
 * in lock order (locked: room for n). Returns 0, UPDRAFT_ENOMEM or
 * UPDRAFT_EDB.
 */
int ti_lock_scheduled_dags(db_t *db, const char *const *dag_ids, size_t n, size_t *locked,
                           size_t *nlocked);

/*
 * Which of the n runs have no task instance left in a live state (none,
 * scheduled, queued, running, up_for_retry, up_for_reschedule, deferred,
 * restarting): idle[0..*nidle), each run once (idle: room for n). Returns
 * 0, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int ti_runs_idle(db_t *db, const int64_t *runs, size_t n, int64_t *idle, size_t *nidle);

/*
 * NOTIFYs the schedulers (store/channels.h CHANNEL_SCHEDULER) once per
 * given run id (payload: the id), delivered at the caller's commit.
 * Returns 0, UPDRAFT_ENOMEM or UPDRAFT_EDB.
 */
int ti_notify_runs(db_t *db, const int64_t *runs, size_t n);

/*
 * The savepoint that separates the outcomes from the mini-scheduler's
 * planning in one transaction: set it, and roll back to it when the
 * planning failed (the outcomes stay). 0 or UPDRAFT_EDB.
 */
int ti_savepoint_minisched(db_t *db);
int ti_rollback_minisched(db_t *db);

#endif
