/*
 * runs.c - see runs.h. The schedule text and catchup/start/end dates come
 * from the dag row; the DAG's time zone from its latest serialized version
 * (dag_version.data->>'timezone'), loaded from the tz database on each
 * computation (a file read, only for DAGs that are due). Creation is one transaction per DAG, holding the
 * DAG's row lock (FOR UPDATE SKIP LOCKED) across the run insert, so that
 * two schedulers never compute the same DAG's next run at once; should
 * they race anyway, UNIQUE (dag_id, logical_date) turns the loser's insert
 * into a conflict, which is not an error.
 */
#include "scheduler/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cron.h"
#include "store/dagrun.h"
#include "core/log.h"
#include "core/timeutil.h"

#define RUNS_DUE_BATCH "256"

/* Microseconds since the epoch of a column, or TS_NONE when NULL. */
static ts_us_t get_ts(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return TS_NONE;
    return (ts_us_t)db_get_i64(r, row, col);
}

#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* The zone of the DAG's latest serialized version. */
#define DAG_TZ "(SELECT v.data->>'timezone' FROM dag_version v WHERE v.id = d.version_id)"

/* The data interval of the DAG's latest scheduled run (TS_NONE, TS_NONE if
 * none; *end TS_NONE if it has no stored interval end); -1 on error. */
static int last_scheduled(db_t *db, const char *dag_id, ts_us_t *start, ts_us_t *end)
{
    const char *p[] = {dag_id};
    PGresult *r = db_query(db, "runs_last_scheduled",
                           "SELECT " US("logical_date") ", " US("data_interval_end") " FROM dag_run"
                           " WHERE dag_id = $1 AND run_type = 'scheduled'"
                           " ORDER BY logical_date DESC LIMIT 1",
                           1, p);
    if (!r)
        return -1;
    *start = PQntuples(r) ? get_ts(r, 0, 0) : TS_NONE;
    *end = PQntuples(r) ? get_ts(r, 0, 1) : TS_NONE;
    PQclear(r);
    return 0;
}

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
    if (schedule_tz_load(zone, tz, err, sizeof(err)) < 0) {
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
    ts_us_t istart, iend;
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    const char *p[] = {dag_id, NULL, NULL};
    if (s && schedule_next_interval(s, last_start, last_end, start, end, ts_now(), catchup, &istart,
                                    &iend) == 1) {
        p[1] = ts_format_iso(istart, a);
        p[2] = ts_format_iso(iend, b);
    }
    return db_exec(db, "runs_store_next",
                   "UPDATE dag SET next_dagrun = $2, next_dagrun_create_after = $3"
                   " WHERE dag_id = $1",
                   3, p) < 0
               ? -1
               : 0;
}

int runs_update_next(db_t *db, const char *dag_id)
{
    const char *p[] = {dag_id};
    schedule_t sched;
    schedule_tz_t *tz = NULL;
    ts_us_t last_start, last_end;
    int rc = -1;
    PGresult *r = db_query(db, "runs_dag_sched",
                           "SELECT schedule, " US("start_date") ", " US("end_date") ", catchup, "
                           DAG_TZ " FROM dag d WHERE dag_id = $1",
                           1, p);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto out;
    }
    const char *text = db_get_str(r, 0, 0);
    bool ok = text && load_schedule(dag_id, text, db_get_str(r, 0, 4), &sched, &tz) == 0;
    if (last_scheduled(db, dag_id, &last_start, &last_end) < 0)
        goto out;
    rc = store_next(db, dag_id, ok ? &sched : NULL, last_start, last_end, get_ts(r, 0, 1),
                    get_ts(r, 0, 2), db_get_bool(r, 0, 3));
out:
    schedule_tz_free(tz);
    PQclear(r);
    return rc;
}

/*
 * One DAG, in its own transaction. Returns 1 when a run was created, 0 when
 * not (locked elsewhere, not due any more, at max_active_runs), -1 on a
 * database error.
 */
static int create_for_dag(db_t *db, const char *dag_id)
{
    const char *p[] = {dag_id};
    PGresult *r = NULL;
    schedule_t sched;
    schedule_tz_t *tz = NULL;
    char err[512], run_id[DAGRUN_ID_MAX + 1];
    ts_us_t last_start, last_end, istart, iend, now = ts_now();
    int64_t run = 0;
    int rc = -1, made = 0;

    if (db_begin(db) < 0)
        return -1;
    r = db_query(db, "runs_lock_dag",
                 "SELECT schedule, " US("start_date") ", " US("end_date") ", catchup,"
                 " max_active_runs,"
                 " (SELECT count(*) FROM dag_run dr WHERE dr.dag_id = d.dag_id"
                 "   AND dr.state IN ('queued', 'running')), " DAG_TZ
                 " FROM dag d WHERE dag_id = $1 AND is_active AND NOT is_paused"
                 " AND schedule IS NOT NULL AND next_dagrun_create_after <= now()"
                 " FOR UPDATE SKIP LOCKED",
                 1, p);
    if (!r)
        goto out;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto out;
    }
    ts_us_t start = get_ts(r, 0, 1), end = get_ts(r, 0, 2);
    bool catchup = db_get_bool(r, 0, 3);
    int max_active = db_get_int(r, 0, 4);
    int64_t active = db_get_i64(r, 0, 5);
    if (load_schedule(dag_id, db_get_str(r, 0, 0), db_get_str(r, 0, 6), &sched, &tz) < 0) {
        rc = store_next(db, dag_id, NULL, TS_NONE, TS_NONE, start, end, catchup);
        goto out;
    }
    if (sched.kind == SCHEDULE_CONTINUOUS && max_active > 1)
        max_active = 1; /* ContinuousTimetable.active_runs_limit */
    if (active >= max_active) {
        log_debug("max_active_runs reached dag_id=%s active=%lld max=%d", dag_id,
                  (long long)active, max_active);
        rc = 0;
        goto out;
    }
    if (last_scheduled(db, dag_id, &last_start, &last_end) < 0)
        goto out;
    if (schedule_next_interval(&sched, last_start, last_end, start, end, now, catchup, &istart,
                               &iend) == 1 &&
        iend <= now) {
        dagrun_spec_t spec = {.dag_id = dag_id,
                              .run_id = NULL,
                              .type = DAGRUN_SCHEDULED,
                              .logical_date = istart,
                              .interval_start = istart,
                              .interval_end = iend,
                              .conf_json = NULL};
        int cr = dagrun_create_in_tx(db, &spec, &run, run_id, err, sizeof(err));
        if (cr == 0) {
            made = 1;
            last_start = istart;
            last_end = iend;
        } else if (cr == UPDRAFT_EEXISTS) {
            log_debug("scheduled run exists dag_id=%s msg=\"%s\"", dag_id, err);
            last_start = istart;
            last_end = iend;
        } else if (cr == UPDRAFT_EDB) {
            goto out;
        } else {
            log_warn("cannot create scheduled run dag_id=%s error=\"%s\"", dag_id, err);
        }
    }
    if (store_next(db, dag_id, &sched, last_start, last_end, start, end, catchup) < 0)
        goto out;
    rc = made;
out:
    schedule_tz_free(tz);
    PQclear(r);
    if (rc < 0) {
        db_rollback(db);
        return -1;
    }
    if (db_commit(db) < 0) {
        db_rollback(db);
        return -1;
    }
    if (made)
        log_info("dag run created dag_id=%s run_id=%s id=%lld type=scheduled", dag_id, run_id,
                 (long long)run);
    return rc;
}

int runs_create_due(db_t *db, int *created)
{
    *created = 0;
    PGresult *r = db_query(db, "runs_due",
                           "SELECT dag_id FROM dag WHERE is_active AND NOT is_paused"
                           " AND schedule IS NOT NULL AND next_dagrun_create_after <= now()"
                           " ORDER BY next_dagrun_create_after LIMIT " RUNS_DUE_BATCH,
                           0, NULL);
    if (!r)
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
