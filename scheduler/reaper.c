/*
 * reaper.c - see reaper.h.
 *
 * Both checks read through partial indexes on live states (ti_running,
 * ti_queued), so their cost follows the number of running and queued
 * tries, never history. The retry delay of a reaped try is the task's own
 * (retry_delay, retry_exponential_backoff, max_retry_delay, read from the
 * run's DAG version), computed as the worker computes it for a failure.
 */
#include "scheduler/reaper.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "model/planner.h"
#include "core/timeutil.h"

/* Candidates: id, try, max_tries, dag_run_id, dag_id, task_id, logical date (epoch us), retry spec. */
#define CANDIDATE_COLS                                                                             \
    "t.id, t.try_number, t.max_tries, t.dag_run_id, t.dag_id, t.task_id,"                        \
    " (extract(epoch FROM dr.logical_date) * 1000000)::bigint,"                                  \
    " coalesce((v.data->'tasks'->t.task_id->>'retry_delay_sec')::int, 300),"                     \
    " coalesce((v.data->'tasks'->t.task_id->>'retry_exponential_backoff')::boolean, false),"     \
    " coalesce((v.data->'tasks'->t.task_id->>'max_retry_delay_sec')::int, 0)"                    \
    " FROM task_instance t JOIN dag_run dr ON dr.id = t.dag_run_id"                              \
    " JOIN dag_version v ON v.id = dr.dag_version_id"

static int add_run(int64_t **ids, size_t *n, int64_t id)
{
    for (size_t i = 0; i < *n; i++)
        if ((*ids)[i] == id)
            return 0;
    int64_t *g = realloc(*ids, (*n + 1) * sizeof(*g));
    if (!g)
        return -1;
    *ids = g;
    g[(*n)++] = id;
    return 0;
}

/*
 * Ends one candidate row of r as failed or up_for_retry, guarded by
 * from_state and the stale condition. 1 when it changed, 0 when the try
 * moved on meanwhile, -1 on error.
 */
static int end_try(db_t *db, const PGresult *r, int row, const char *from_state,
                   const char *guard_sql_name, const char *guard_sql, const char *limit_sec,
                   const char *why)
{
    int64_t id = db_get_i64(r, row, 0);
    int try_number = db_get_int(r, row, 1), max_tries = db_get_int(r, row, 2);
    ts_us_t logical = db_get_i64(r, row, 6);
    char ld[TS_ISO_LEN];
    const char *lds = logical % TS_US_PER_SEC ? ts_format_iso(logical, ld)
                                              : ts_format_iso_sec(logical, ld);
    bool retry = try_number <= max_tries;
    long long delay = retry ? planner_retry_delay_sec(db_get_int(r, row, 7), db_get_bool(r, row, 8),
                                                      db_get_int(r, row, 9), PQgetvalue(r, row, 4),
                                                      PQgetvalue(r, row, 5), lds, try_number)
                            : 0;
    char idb[24], tryb[16], delayb[24], msg[512];
    snprintf(idb, sizeof(idb), "%" PRId64, id);
    snprintf(tryb, sizeof(tryb), "%d", try_number);
    snprintf(delayb, sizeof(delayb), "%lld", delay);
    snprintf(msg, sizeof(msg), "[%s] ERROR - %s; marking the task %s\n", "reaper", why,
             retry ? "up_for_retry" : "failed");
    const char *p[] = {idb, tryb, retry ? "up_for_retry" : "failed", delayb, limit_sec,
                       from_state};
    if (db_begin(db) < 0)
        return -1;
    long changed = db_exec(db, guard_sql_name, guard_sql, 6, p);
    if (changed < 0) {
        db_rollback(db);
        return -1;
    }
    if (changed > 0 &&
        db_exec(db, "reaper_log",
                "INSERT INTO task_log (ti_id, try_number, data) VALUES ($1::bigint, $2::int, $3)",
                3, (const char *[]){idb, tryb, msg}) < 0) {
        db_rollback(db);
        return -1;
    }
    if (db_commit(db) < 0)
        return -1;
    if (changed > 0)
        log_warn("%s dag_id=%s task_id=%s ti=%s try=%d state=%s", why, PQgetvalue(r, row, 4),
                 PQgetvalue(r, row, 5), idb, try_number, retry ? "up_for_retry" : "failed");
    return changed > 0;
}

/* The guarded end of a try; $5 is the staleness limit in seconds, $6 the expected state. */
static const char SQL_END_ZOMBIE[] =
    "UPDATE task_instance SET state = $3, end_date = now(),"
    " duration = extract(epoch FROM now() - start_date),"
    " next_try_at = CASE WHEN $3 = 'up_for_retry' THEN now() + make_interval(secs => $4::bigint) END,"
    " first_poke_at = NULL, poke_count = 0, updated_at = now()"
    " WHERE id = $1::bigint AND try_number = $2::int AND state = $6"
    " AND coalesce(heartbeat_at, start_date, updated_at) < now() - make_interval(secs => $5::int)";

static const char SQL_END_STUCK[] =
    "UPDATE task_instance SET state = $3, end_date = now(),"
    " next_try_at = CASE WHEN $3 = 'up_for_retry' THEN now() + make_interval(secs => $4::bigint) END,"
    " first_poke_at = NULL, poke_count = 0, updated_at = now()"
    " WHERE id = $1::bigint AND try_number = $2::int AND state = $6"
    " AND queued_at < now() - make_interval(secs => $5::int)";

int reaper_run(db_t *db, int threshold_sec, int queued_timeout_sec, size_t max,
               int64_t **run_ids, size_t *n_runs, size_t *n_zombies, size_t *n_stuck)
{
    char thr[16], qto[16], lim[24];
    snprintf(thr, sizeof(thr), "%d", threshold_sec);
    snprintf(qto, sizeof(qto), "%d", queued_timeout_sec);
    snprintf(lim, sizeof(lim), "%zu", max);
    *n_zombies = *n_stuck = 0;

    for (int pass = 0; pass < 2; pass++) {
        bool zombies = pass == 0;
        const char *p[] = {zombies ? thr : qto, lim};
        PGresult *r = db_query(
            db, zombies ? "reaper_zombies" : "reaper_stuck",
            zombies ? "SELECT " CANDIDATE_COLS " WHERE t.state = 'running'"
                      " AND coalesce(t.heartbeat_at, t.start_date, t.updated_at)"
                      "   < now() - make_interval(secs => $1::int) LIMIT $2::bigint"
                    : "SELECT " CANDIDATE_COLS " WHERE t.state = 'queued'"
                      " AND t.queued_at < now() - make_interval(secs => $1::int) LIMIT $2::bigint",
            2, p);
        if (!r)
            return -1;
        for (int i = 0; i < PQntuples(r); i++) {
            char why[160];
            if (zombies)
                snprintf(why, sizeof(why),
                         "zombie: no heartbeat from the try's worker for %d seconds "
                         "(scheduler.zombie_threshold_sec)",
                         threshold_sec);
            else
                snprintf(why, sizeof(why),
                         "queued for more than %d seconds without a worker taking it "
                         "(scheduler.task_queued_timeout_sec)",
                         queued_timeout_sec);
            int rc = end_try(db, r, i, zombies ? "running" : "queued",
                             zombies ? "reaper_end_zombie" : "reaper_end_stuck",
                             zombies ? SQL_END_ZOMBIE : SQL_END_STUCK, zombies ? thr : qto, why);
            if (rc < 0) {
                PQclear(r);
                return -1;
            }
            if (rc > 0) {
                if (zombies)
                    (*n_zombies)++;
                else
                    (*n_stuck)++;
                if (add_run(run_ids, n_runs, db_get_i64(r, i, 3)) < 0) {
                    PQclear(r);
                    return -1;
                }
            }
        }
        PQclear(r);
    }
    return 0;
}
