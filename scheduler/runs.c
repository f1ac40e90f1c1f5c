/*
 * runs.c - see runs.h. The schedule text and catchup/start/end dates come
 * from the dag row; the DAG's time zone from its latest serialized version
 * (dag_version.data->>'timezone'), loaded from the tz database on each
 * computation (a file read, only for DAGs that are due). Creation is one transaction per DAG,
 * holding the DAG's row lock (FOR UPDATE SKIP LOCKED) across the run insert, so that two schedulers
 * never compute the same DAG's next run at once; should they race anyway, UNIQUE (dag_id,
 * logical_date) turns the loser's insert into a conflict, which is not an error. The statements are
 * store/dags.c's (schedule fields) and store/dagrun.c's (runs).
 */
#include "scheduler/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "model/cron.h"
#include "store/dagrun.h"
#include "store/dags.h"

/*
 * Parses a DAG's schedule in its zone. *tz is loaded (caller frees it with
 * schedule_tz_free). Returns 0, or -1 after logging a bad schedule or zone.
 */
static int load_schedule(const char *dag_id, const char *text, const char *zone, schedule_t *s,
                         schedule_tz_t **tz)
{
    char err[256];
    *tz = NULL;
    if (schedule_parse(text, s, err, sizeof(err)) < 0) {
        log_warn("bad schedule dag_id=%s error=\"%s\"", dag_id, err);
        return -1;
    }
    if (schedule_tz_load(schedule_zone_name(s, zone), tz, err, sizeof(err)) < 0) {
        log_warn("bad time zone dag_id=%s error=\"%s\"", dag_id, err);
        return -1;
    }
    s->tz = *tz;
    return 0;
}

/* Writes the next interval after the last one (or NULLs when there is none). */
static int store_next(db_t *db, const char *dag_id, const schedule_t *s, ts_us_t last_start,
                      ts_us_t last_end, ts_us_t start, ts_us_t end, bool catchup)
{
    ts_us_t istart = TS_NONE, iend = TS_NONE;
    if (!s || schedule_next_interval(s, last_start, last_end, start, end, ts_now(), catchup,
                                     &istart, &iend) != 1)
        istart = iend = TS_NONE;
    return dags_set_next(db, dag_id, istart, iend) < 0 ? -1 : 0;
}

int runs_update_next(db_t *db, const char *dag_id)
{
    schedule_t sched;
    schedule_tz_t *tz = NULL;
    dags_sched_t d;
    ts_us_t last_start, last_end;
    int rc = -1;
    int gr = dags_get_schedule(db, dag_id, &d);
    if (gr == UPDRAFT_ENOTFOUND)
        return 0;
    if (gr < 0)
        return -1;
    bool ok = d.schedule && load_schedule(dag_id, d.schedule, d.timezone, &sched, &tz) == 0;
    if (dagrun_last_scheduled(db, dag_id, &last_start, &last_end) < 0)
        goto out;
    rc = store_next(db, dag_id, ok ? &sched : NULL, last_start, last_end, d.start_date, d.end_date,
                    d.catchup);
out:
    schedule_tz_free(tz);
    dags_sched_clear(&d);
    return rc;
}

/*
 * Creates the next scheduled run of a locked, due DAG when its interval has
 * ended, moving the last interval (*last_start, *last_end) to it when it
 * exists afterwards (made now, or by a racing scheduler). Returns 1 when
 * this call made it, 0 when not, -1 on a database error.
 */
static int create_next(db_t *db, const char *dag_id, const schedule_t *sched, const dags_sched_t *d,
                       ts_us_t *last_start, ts_us_t *last_end, int64_t *run, char *run_id)
{
    char err[512];
    ts_us_t istart, iend, now = ts_now();
    if (schedule_next_interval(sched, *last_start, *last_end, d->start_date, d->end_date, now,
                               d->catchup, &istart, &iend) != 1 ||
        iend > now)
        return 0;
    dagrun_spec_t spec = {.dag_id = dag_id,
                          .run_id = NULL,
                          .type = DAGRUN_SCHEDULED,
                          .logical_date = istart,
                          .interval_start = istart,
                          .interval_end = iend,
                          .conf_json = NULL};
    int cr = dagrun_create_in_tx(db, &spec, run, run_id, err, sizeof(err));
    if (cr == UPDRAFT_EDB)
        return -1;
    if (cr == 0 || cr == UPDRAFT_EEXISTS) {
        if (cr == UPDRAFT_EEXISTS)
            log_debug("scheduled run exists dag_id=%s msg=\"%s\"", dag_id, err);
        *last_start = istart;
        *last_end = iend;
        return cr == 0;
    }
    log_warn("cannot create scheduled run dag_id=%s error=\"%s\"", dag_id, err);
    return 0;
}

/*
 * One DAG, in its own transaction. Returns 1 when a run was created, 0 when
 * not (locked elsewhere, not due any more, at max_active_runs), -1 on a
 * database error.
 */
static int create_for_dag(db_t *db, const char *dag_id)
{
    schedule_t sched;
    schedule_tz_t *tz = NULL;
    dags_sched_t d = {0};
    char run_id[DAGRUN_ID_MAX + 1];
    ts_us_t last_start, last_end;
    int64_t run = 0;
    int rc = -1, made = 0;

    if (db_begin(db) < 0)
        return -1;
    int lr = dags_lock_due(db, dag_id, &d);
    if (lr == UPDRAFT_ENOTFOUND)
        rc = 0;
    if (lr < 0)
        goto out;
    if (load_schedule(dag_id, d.schedule, d.timezone, &sched, &tz) < 0) {
        rc = store_next(db, dag_id, NULL, TS_NONE, TS_NONE, d.start_date, d.end_date, d.catchup);
        goto out;
    }
    int max_active = d.max_active_runs;
    if (sched.kind == SCHEDULE_CONTINUOUS && max_active > 1)
        max_active = 1; /* ContinuousTimetable.active_runs_limit */
    if (d.active_runs >= max_active) {
        log_debug("max_active_runs reached dag_id=%s active=%lld max=%d", dag_id,
                  (long long)d.active_runs, max_active);
        rc = 0;
        goto out;
    }
    if (dagrun_last_scheduled(db, dag_id, &last_start, &last_end) < 0)
        goto out;
    made = create_next(db, dag_id, &sched, &d, &last_start, &last_end, &run, run_id);
    if (made < 0)
        goto out;
    if (store_next(db, dag_id, &sched, last_start, last_end, d.start_date, d.end_date, d.catchup) <
        0)
        goto out;
    rc = made;
out:
    schedule_tz_free(tz);
    dags_sched_clear(&d);
    if (rc < 0) {
        db_rollback(db);
        return -1;
    }
    if (db_commit(db) < 0) {
        db_rollback(db);
        return -1;
    }
    if (made > 0)
        log_info("dag run created dag_id=%s run_id=%s id=%lld type=scheduled", dag_id, run_id,
                 (long long)run);
    return rc;
}

int runs_create_due(db_t *db, int *created)
{
    PGresult *r = NULL;
    *created = 0;
    if (dags_list_due(db, &r) < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int n = create_for_dag(db, PQgetvalue(r, i, 0));
        if (n < 0) {
            rc = -1;
            break;
        }
        *created += n;
    }
    PQclear(r);
    return rc;
}
