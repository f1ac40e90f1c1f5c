/*
 * reaper.c - see reaper.h.
 *
 * Both checks read through partial indexes on live states (ti_running,
 * ti_queued), so their cost follows the number of running and queued
 * tries, never history. The retry delay of a reaped try is the task's own
 * (retry_delay, retry_exponential_backoff, max_retry_delay, read from the
 * run's DAG version), computed as the worker computes it for a failure.
 * The statements are store/ti_sched.c's.
 */
#include "scheduler/reaper.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "model/planner.h"
#include "store/ti_sched.h"

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
 * Ends one candidate row of r (ti_sched_list_zombies' columns) as failed or
 * up_for_retry, guarded by its state and the stale condition. 1 when it
 * changed, 0 when the try moved on meanwhile, -1 on error.
 */
static int end_try(db_t *db, const PGresult *r, int row, ti_sched_stale_t kind, int limit_sec,
                   const char *why)
{
    int64_t id = db_get_i64(r, row, 0);
    int try_number = db_get_int(r, row, 1), max_tries = db_get_int(r, row, 2);
    ts_us_t logical = db_get_i64(r, row, 6);
    char ld[TS_ISO_LEN];
    const char *lds =
        logical % TS_US_PER_SEC ? ts_format_iso(logical, ld) : ts_format_iso_sec(logical, ld);
    bool retry = try_number <= max_tries;
    long long delay = retry ? planner_retry_delay_sec(db_get_int(r, row, 7), db_get_bool(r, row, 8),
                                                      db_get_int(r, row, 9), PQgetvalue(r, row, 4),
                                                      PQgetvalue(r, row, 5), lds, try_number)
                            : 0;
    char msg[512];
    bool changed = false;
    snprintf(msg, sizeof(msg), "[%s] ERROR - %s; marking the task %s\n", "reaper", why,
             retry ? "up_for_retry" : "failed");
    if (ti_sched_end_stale(db, kind, id, try_number, retry, delay, limit_sec, msg, &changed) < 0)
        return -1;
    if (changed)
        log_warn("%s dag_id=%s run_id=%s task_id=%s map_index=%s ti=%" PRId64
                 " try_number=%d state=%s",
                 why, PQgetvalue(r, row, 4), PQgetvalue(r, row, 10), PQgetvalue(r, row, 5),
                 PQgetvalue(r, row, 11), id, try_number, retry ? "up_for_retry" : "failed");
    return changed;
}

int reaper_run(db_t *db, int threshold_sec, int queued_timeout_sec, size_t max, int64_t **run_ids,
               size_t *n_runs, size_t *n_zombies, size_t *n_stuck)
{
    *n_zombies = *n_stuck = 0;

    for (int pass = 0; pass < 2; pass++) {
        bool zombies = pass == 0;
        PGresult *r = NULL;
        int lr = zombies ? ti_sched_list_zombies(db, threshold_sec, max, &r)
                         : ti_sched_list_stuck(db, queued_timeout_sec, max, &r);
        if (lr < 0)
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
            int rc = end_try(db, r, i, zombies ? TI_SCHED_ZOMBIE : TI_SCHED_STUCK,
                             zombies ? threshold_sec : queued_timeout_sec, why);
            if (rc < 0) {
                PQclear(r);
                return -1;
            }
            if (rc > 0) {
                if (zombies) {
                    (*n_zombies)++;
                    metric_count(M_ZOMBIES_KILLED, 1, PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
                                 NULL);
                } else {
                    (*n_stuck)++;
                    metric_count(M_SCHEDULER_TASKS_STUCK_IN_QUEUED, 1, NULL, NULL, NULL);
                }
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
