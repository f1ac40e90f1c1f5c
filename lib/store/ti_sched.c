/*
 * ti_sched.c - the scheduler's task-instance statements (see ti_sched.h).
 * Statements are prepared once per connection by name.
 *
 * The reaper's reads go through partial indexes on live states
 * (ti_running, ti_queued), so their cost follows the number of running
 * and queued tries, never history. Its ends are guarded updates: the
 * state, try number and staleness are repeated in the WHERE clause, so a
 * worker that reports meanwhile wins and one that comes back later finds
 * its own guard failed.
 */
#include "store/ti_sched.h"
#include "store/result.h"
#include "store/locks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---- the enqueue critical section --------------------------------------- */

static const char SQL_ENQUEUE_LOCK[] = "SELECT pg_try_advisory_xact_lock(" LOCK_ENQUEUE ")";

int ti_sched_try_enqueue_lock(db_t *db, bool *taken)
{
    PGresult *r = db_query(db, "ti_sched_enqueue_lock", SQL_ENQUEUE_LOCK, 0, NULL);
    if (!r)
        return UPDRAFT_EDB;
    *taken = db_get_bool(r, 0, 0);
    PQclear(r);
    return UPDRAFT_OK;
}

static const char SQL_LOCK_SCHEDULED_DAGS[] =
    "SELECT coalesce(array_agg(dag_id), '{}') FROM"
    " (SELECT DISTINCT dag_id FROM task_instance WHERE state = 'scheduled'"
    "  LIMIT 10000) s"
    " WHERE pg_try_advisory_xact_lock(" LOCK_DAG_CLASS ", hashtext(dag_id))";

int ti_sched_lock_scheduled_dags(db_t *db, char **dags_arr)
{
    *dags_arr = NULL;
    PGresult *r = db_query(db, "ti_sched_lock_dags", SQL_LOCK_SCHEDULED_DAGS, 0, NULL);
    if (!r)
        return UPDRAFT_EDB;
    *dags_arr = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return *dags_arr ? UPDRAFT_OK : UPDRAFT_ENOMEM;
}

static const char SQL_RESEND[] = "UPDATE task_instance t SET queued_at = now()"
                                 " FROM (SELECT id FROM task_instance WHERE state = 'queued'"
                                 "   AND queued_at <= now() - make_interval(secs => $1::int)"
                                 "   ORDER BY queued_at LIMIT $2::int FOR UPDATE SKIP LOCKED) s"
                                 " WHERE t.id = s.id AND t.state = 'queued'"
                                 " RETURNING t.id, t.try_number, t.queue";

int ti_sched_resend(db_t *db, int older_than_sec, int max, PGresult **out)
{
    char secs[16], lim[16];
    snprintf(secs, sizeof(secs), "%d", older_than_sec);
    snprintf(lim, sizeof(lim), "%d", max);
    const char *p[] = {secs, lim};
    return store_query_rows(db, "ti_sched_resend", SQL_RESEND, 2, p, out);
}

/* ---- the reaper ----------------------------------------------------------- */

/* Candidates: id, try, max_tries, dag_run_id, dag_id, task_id, logical date (epoch us), retry
 * spec, run_id, map_index. */
#define CANDIDATE_COLS                                                                             \
    "t.id, t.try_number, t.max_tries, t.dag_run_id, t.dag_id, t.task_id,"                          \
    " (extract(epoch FROM dr.logical_date) * 1000000)::bigint,"                                    \
    " coalesce((v.data->'tasks'->t.task_id->>'retry_delay_sec')::int, 300),"                       \
    " coalesce((v.data->'tasks'->t.task_id->>'retry_exponential_backoff')::boolean, false),"       \
    " coalesce((v.data->'tasks'->t.task_id->>'max_retry_delay_sec')::int, 0),"                     \
    " dr.run_id, t.map_index"                                                                      \
    " FROM task_instance t JOIN dag_run dr ON dr.id = t.dag_run_id"                                \
    " JOIN dag_version v ON v.id = dr.dag_version_id"

static const char SQL_LIST_ZOMBIES[] =
    "SELECT " CANDIDATE_COLS " WHERE t.state = 'running'"
    " AND coalesce(t.heartbeat_at, t.start_date, t.updated_at)"
    "   < now() - make_interval(secs => $1::int) LIMIT $2::bigint";

static const char SQL_LIST_STUCK[] =
    "SELECT " CANDIDATE_COLS " WHERE t.state = 'queued'"
    " AND t.queued_at < now() - make_interval(secs => $1::int) LIMIT $2::bigint";

static int list_candidates(db_t *db, const char *name, const char *sql, int limit_sec, size_t max,
                           PGresult **out)
{
    char sec[16], lim[24];
    snprintf(sec, sizeof(sec), "%d", limit_sec);
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *p[] = {sec, lim};
    return store_query_rows(db, name, sql, 2, p, out);
}

int ti_sched_list_zombies(db_t *db, int threshold_sec, size_t max, PGresult **out)
{
    return list_candidates(db, "ti_sched_zombies", SQL_LIST_ZOMBIES, threshold_sec, max, out);
}

int ti_sched_list_stuck(db_t *db, int timeout_sec, size_t max, PGresult **out)
{
    return list_candidates(db, "ti_sched_stuck", SQL_LIST_STUCK, timeout_sec, max, out);
}

/* The guarded end of a try; $5 is the staleness limit in seconds, $6 the expected state. */
static const char SQL_END_ZOMBIE[] =
    "UPDATE task_instance SET state = $3, end_date = now(),"
    " duration = extract(epoch FROM now() - start_date),"
    " next_try_at = CASE WHEN $3 = 'up_for_retry' THEN now() + make_interval(secs => $4::bigint) "
    "END,"
    " first_poke_at = NULL, poke_count = 0, updated_at = now()"
    " WHERE id = $1::bigint AND try_number = $2::int AND state = $6"
    " AND coalesce(heartbeat_at, start_date, updated_at) < now() - make_interval(secs => $5::int)";

static const char SQL_END_STUCK[] = "UPDATE task_instance SET state = $3, end_date = now(),"
                                    " next_try_at = CASE WHEN $3 = 'up_for_retry' THEN now() + "
                                    "make_interval(secs => $4::bigint) END,"
                                    " first_poke_at = NULL, poke_count = 0, updated_at = now()"
                                    " WHERE id = $1::bigint AND try_number = $2::int AND state = $6"
                                    " AND queued_at < now() - make_interval(secs => $5::int)";

static const char SQL_LOG[] =
    "INSERT INTO task_log (ti_id, try_number, data) VALUES ($1::bigint, $2::int, $3)";

int ti_sched_end_stale(db_t *db, ti_sched_stale_t kind, int64_t id, int try_number, bool retry,
                       long long delay_sec, int limit_sec, const char *log_line, bool *changed)
{
    char idb[24], tryb[16], delayb[24], limb[16];
    bool zombie = kind == TI_SCHED_ZOMBIE;
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    snprintf(tryb, sizeof(tryb), "%d", try_number);
    snprintf(delayb, sizeof(delayb), "%lld", delay_sec);
    snprintf(limb, sizeof(limb), "%d", limit_sec);
    const char *p[] = {idb,    tryb, retry ? "up_for_retry" : "failed",
                       delayb, limb, zombie ? "running" : "queued"};
    const char *lp[] = {idb, tryb, log_line};

    *changed = false;
    if (db_begin(db) < 0)
        return UPDRAFT_EDB;
    long n = db_exec(db, zombie ? "ti_sched_end_zombie" : "ti_sched_end_stuck",
                     zombie ? SQL_END_ZOMBIE : SQL_END_STUCK, 6, p);
    if (n < 0 || (n > 0 && db_exec(db, "ti_sched_log", SQL_LOG, 3, lp) < 0)) {
        db_rollback(db);
        return UPDRAFT_EDB;
    }
    if (db_commit(db) < 0)
        return UPDRAFT_EDB;
    *changed = n > 0;
    return UPDRAFT_OK;
}

/* ---- what falls due --------------------------------------------------------- */

static const char SQL_RETRY_DUE[] =
    "SELECT dag_run_id FROM task_instance"
    " WHERE state = 'up_for_retry' AND next_try_at <= now()"
    " UNION SELECT dag_run_id FROM task_instance"
    " WHERE state = 'up_for_reschedule' AND next_try_at <= now() LIMIT 10000";

int ti_sched_list_retry_due(db_t *db, PGresult **out)
{
    return store_query_rows(db, "ti_sched_retry_due", SQL_RETRY_DUE, 0, NULL, out);
}

static const char SQL_NEXT_DUE[] =
    "SELECT extract(epoch FROM least("
    " (SELECT min(next_dagrun_create_after) FROM dag d WHERE is_active AND NOT is_paused"
    "   AND schedule IS NOT NULL AND (SELECT count(*) FROM dag_run dr"
    "     WHERE dr.dag_id = d.dag_id AND dr.state IN ('queued', 'running'))"
    "     < d.max_active_runs),"
    " (SELECT min(next_try_at) FROM task_instance WHERE state = 'up_for_retry'),"
    " (SELECT min(next_try_at) FROM task_instance WHERE state = 'up_for_reschedule'),"
    " (SELECT min(timeout_at) FROM dag_run WHERE state = 'running' AND timeout_at IS NOT NULL),"
    " (SELECT min(queued_at) FROM task_instance WHERE state = 'queued')"
    "   + make_interval(secs => $1::int)) - now())::float8";

int ti_sched_next_due_in(db_t *db, int resend_after_sec, double *secs)
{
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", resend_after_sec);
    const char *p[] = {ra};
    PGresult *r = db_query(db, "ti_sched_next_due", SQL_NEXT_DUE, 1, p);
    if (!r)
        return UPDRAFT_EDB;
    *secs = PQgetisnull(r, 0, 0) ? 1e9 : strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return UPDRAFT_OK;
}
