/*
 * backfill.c - see backfill.h.
 */
#include "sched/backfill.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "store/dags.h"

int backfill_intervals(const schedule_t *s, ts_us_t start, ts_us_t end, size_t max,
                       backfill_interval_t **out, size_t *n, char *err, size_t errlen)
{
    backfill_interval_t *v = NULL;
    size_t cnt = 0, cap = 0;
    *out = NULL;
    *n = 0;
    if (s->kind == SCHEDULE_NONE || s->kind == SCHEDULE_CONTINUOUS) {
        snprintf(err, errlen, "the DAG's schedule (%s) has no data intervals to backfill",
                 s->kind == SCHEDULE_NONE ? "manual only" : "@continuous");
        return -1;
    }
    if (end < start) {
        snprintf(err, errlen, "the end date is before the start date");
        return -1;
    }
    ts_us_t last_start = TS_NONE, last_end = TS_NONE, a, b;
    /* now only matters without catchup, which a backfill never uses */
    while (schedule_next_interval(s, last_start, last_end, start, end, ts_now(), true, &a, &b) ==
           1) {
        if (last_start != TS_NONE && a <= last_start)
            break; /* no progress: stop rather than loop */
        if (cnt == max) {
            snprintf(err, errlen, "the range holds more than %zu runs: use a shorter range", max);
            free(v);
            return -1;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            backfill_interval_t *nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                snprintf(err, errlen, "out of memory");
                free(v);
                return -1;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt].start = a;
        v[cnt].end = b;
        cnt++;
        last_start = a;
        last_end = b;
        if (s->kind == SCHEDULE_ONCE)
            break;
    }
    *out = v;
    *n = cnt;
    return 0;
}

const char *backfill_reprocess_name(backfill_reprocess_t r)
{
    return r == BACKFILL_REPROCESS_FAILED      ? "failed"
           : r == BACKFILL_REPROCESS_COMPLETED ? "completed"
                                               : "none";
}

int backfill_reprocess_parse(const char *s, backfill_reprocess_t *out)
{
    static const backfill_reprocess_t all[] = {BACKFILL_REPROCESS_NONE, BACKFILL_REPROCESS_FAILED,
                                               BACKFILL_REPROCESS_COMPLETED};
    for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++)
        if (!strcmp(s, backfill_reprocess_name(all[i]))) {
            *out = all[i];
            return 0;
        }
    return -1;
}

/* What happens at a date whose run is in state st. */
static backfill_action_t existing_action(const char *st, backfill_reprocess_t rp, bool only_failed,
                                         const char **reason)
{
    bool failed = !strcmp(st, "failed"), success = !strcmp(st, "success");
    backfill_action_t clear = only_failed ? BACKFILL_CLEAR_FAILED : BACKFILL_CLEAR;
    *reason = NULL;
    if (!failed && !success) {
        *reason = BACKFILL_REASON_IN_FLIGHT;
        return BACKFILL_SKIP;
    }
    if ((rp == BACKFILL_REPROCESS_FAILED && failed) || rp == BACKFILL_REPROCESS_COMPLETED)
        return clear;
    *reason = BACKFILL_REASON_EXISTS;
    return BACKFILL_SKIP;
}

int backfill_plan(const backfill_interval_t *iv, size_t n, const dagrun_ref_t *runs, size_t nruns,
                  backfill_reprocess_t rp, bool only_failed_tis, bool backwards,
                  backfill_item_t **out)
{
    backfill_item_t *v = calloc(n + 1, sizeof(*v));
    *out = NULL;
    if (!v)
        return UPDRAFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        backfill_item_t *it = &v[i];
        it->iv = backwards ? iv[n - 1 - i] : iv[i];
        it->act = BACKFILL_CREATE;
        dagrun_make_run_id(DAGRUN_BACKFILL, it->iv.start, it->run_id, sizeof(it->run_id));
        for (size_t r = 0; r < nruns; r++) {
            if (runs[r].logical_date != it->iv.start)
                continue;
            it->act = existing_action(runs[r].state, rp, only_failed_tis, &it->reason);
            it->run_pk = runs[r].id;
            snprintf(it->run_id, sizeof(it->run_id), "%s", runs[r].run_id);
            snprintf(it->old_state, sizeof(it->old_state), "%s", runs[r].state);
            break;
        }
    }
    *out = v;
    return UPDRAFT_OK;
}

/* The intervals of req's range in the DAG's schedule and zone. */
static int plan_intervals(db_t *db, const backfill_request_t *req, backfill_interval_t **iv,
                          size_t *n, char *err, size_t errlen)
{
    dags_parsed_schedule_t ds;
    schedule_t sched;
    schedule_tz_t *tz = NULL;
    char why[384];
    int rc = dags_get_parsed_schedule(db, req->dag_id, &ds, err, errlen);

    if (rc == UPDRAFT_ENOTFOUND)
        snprintf(err, errlen, "dag '%s' not found (or not parsed yet)", req->dag_id);
    if (rc < 0)
        return rc;
    rc = UPDRAFT_EINVALID;
    if (schedule_parse(ds.schedule, &sched, why, sizeof(why)) < 0 ||
        schedule_tz_load(schedule_zone_name(&sched, ds.timezone), &tz, why, sizeof(why)) < 0 ||
        (sched.tz = tz, backfill_intervals(&sched, req->from_date, req->to_date, BACKFILL_MAX_RUNS,
                                           iv, n, why, sizeof(why)) < 0)) {
        snprintf(err, errlen, "dag '%s': %s", req->dag_id, why);
        goto out;
    }
    rc = UPDRAFT_OK;
out:
    schedule_tz_free(tz);
    dags_parsed_schedule_free(&ds);
    return rc;
}

/* Plans req inside the open transaction: *items of *n. */
static int plan_request(db_t *db, const backfill_request_t *req, backfill_item_t **items, size_t *n,
                        char *err, size_t errlen)
{
    backfill_interval_t *iv = NULL;
    dagrun_ref_t *runs = NULL;
    size_t nruns = 0;
    int rc = plan_intervals(db, req, &iv, n, err, errlen);

    if (rc < 0)
        return rc;
    if (*n == 0)
        goto out;
    rc = dagrun_list_in_range(db, req->dag_id, iv[0].start, iv[*n - 1].start, &runs, &nruns, err,
                              errlen);
    if (rc < 0)
        goto out;
    rc = backfill_plan(iv, *n, runs, nruns, req->reprocess, req->only_failed_tis,
                       req->run_backwards, items);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
out:
    free(iv);
    free(runs);
    return rc;
}

/* Stores the plan; *id. */
static int store_plan(db_t *db, const backfill_request_t *req, const backfill_item_t *items,
                      size_t n, int64_t *id, char *err, size_t errlen)
{
    long live = 0, max = 0;
    int rc = dagrun_live_count(db, req->dag_id, &live, &max, err, errlen);
    if (rc < 0)
        return rc;
    backfill_row_t *rows = calloc(n + 1, sizeof(*rows));
    if (!rows) {
        snprintf(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        rows[i] = (backfill_row_t){.logical_date = items[i].iv.start,
                                   .interval_end = items[i].iv.end,
                                   .action = items[i].act,
                                   .dag_run_id = items[i].run_pk,
                                   .reason = items[i].reason};
    backfill_new_t b = {.dag_id = req->dag_id,
                        .from_date = req->from_date,
                        .to_date = req->to_date,
                        .conf_json = req->conf_json,
                        .reprocess_behavior = backfill_reprocess_name(req->reprocess),
                        .max_active_runs =
                            req->max_active_runs > 0 ? req->max_active_runs : (int)max};
    rc = backfill_insert(db, &b, rows, n, id, err, errlen);
    free(rows);
    return rc;
}

int backfill_create(db_t *db, const backfill_request_t *req, bool dry_run, backfill_item_t **items,
                    size_t *n, int64_t *id, char *err, size_t errlen)
{
    cJSON *conf = NULL;
    *items = NULL;
    *n = 0;
    if (dagrun_conf_parse(req->conf_json, &conf, err, errlen) < 0)
        return UPDRAFT_EINVALID;
    cJSON_Delete(conf);
    if (db_begin(db) < 0) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    int rc = plan_request(db, req, items, n, err, errlen);
    if (rc == 0 && *n == 0 && !dry_run) {
        snprintf(err, errlen, "no runs: the schedule has no logical date in the range");
        rc = UPDRAFT_EINVALID;
    }
    if (rc == 0 && !dry_run)
        rc = store_plan(db, req, *items, *n, id, err, errlen);
    if (rc == 0 && (dry_run ? db_rollback(db), 0 : db_commit(db)) < 0) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        rc = UPDRAFT_EDB;
    }
    if (rc < 0) {
        db_rollback(db);
        free(*items);
        *items = NULL;
        *n = 0;
        return rc;
    }
    if (!dry_run)
        log_info("backfill created id=%" PRId64 " dag_id=%s runs=%zu", *id, req->dag_id, *n);
    return UPDRAFT_OK;
}

/* One planned row of a locked backfill: its run created or cleared, the row marked. */
static int act_on_row(db_t *db, const backfill_step_t *s, const backfill_todo_t *t, bool *acted)
{
    char err[512];
    int64_t run = 0;
    const char *reason = NULL;
    *acted = false;
    if (t->action == BACKFILL_CREATE) {
        dagrun_spec_t spec = {.dag_id = s->dag_id,
                              .run_id = NULL,
                              .type = DAGRUN_BACKFILL,
                              .logical_date = t->logical_date,
                              .interval_start = t->logical_date,
                              .interval_end = t->interval_end,
                              .conf_json = s->conf};
        int rc = dagrun_create_in_tx(db, &spec, &run, NULL, err, sizeof(err));
        if (rc == UPDRAFT_EDB)
            return rc;
        if (rc == UPDRAFT_EEXISTS)
            reason = BACKFILL_REASON_EXISTS;
        else if (rc < 0) {
            log_warn("backfill run not created dag_id=%s error=\"%s\"", s->dag_id, err);
            reason = "unknown";
        }
        *acted = rc == 0;
    } else {
        int rc = backfill_clear_run(db, t->dag_run_id, t->action == BACKFILL_CLEAR_FAILED);
        if (rc < 0)
            return rc;
        if (rc == 1)
            run = t->dag_run_id;
        else
            reason = BACKFILL_REASON_IN_FLIGHT;
        *acted = rc == 1;
    }
    return backfill_mark_row(db, t->row_id, run, reason);
}

/* One backfill's step in its own transaction. */
static int drive_one(db_t *db, int64_t id, size_t *acted, size_t *completed)
{
    backfill_step_t s;
    backfill_todo_t *todo = NULL;
    size_t n = 0;
    bool done = false;
    if (db_begin(db) < 0)
        return UPDRAFT_EDB;
    int rc = backfill_lock_step(db, id, &s);
    if (rc == UPDRAFT_ENOTFOUND) {
        db_rollback(db);
        return UPDRAFT_OK; /* another scheduler has it, or it just completed */
    }
    if (rc < 0)
        goto out;
    if (!s.paused && s.slots > 0 && (rc = backfill_next_rows(db, id, s.slots, &todo, &n)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        bool a = false;
        if ((rc = act_on_row(db, &s, &todo[i], &a)) < 0)
            goto out;
        *acted += a;
    }
    if ((rc = backfill_complete_if_done(db, id, &done)) < 0)
        goto out;
    rc = db_commit(db) < 0 ? UPDRAFT_EDB : UPDRAFT_OK;
out:
    if (rc < 0)
        db_rollback(db);
    else if (done) {
        *completed += 1;
        log_info("backfill completed id=%" PRId64 " dag_id=%s", id, s.dag_id);
    }
    if (rc == 0 && n > 0)
        log_info("backfill step id=%" PRId64 " dag_id=%s rows=%zu", id, s.dag_id, n);
    backfill_step_clear(&s);
    free(todo);
    return rc;
}

int backfill_drive(db_t *db, size_t *acted, size_t *completed)
{
    PGresult *r = NULL;
    *acted = *completed = 0;
    if (backfill_list_active(db, &r) < 0)
        return UPDRAFT_EDB;
    int rc = UPDRAFT_OK;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = drive_one(db, db_get_i64(r, i, 0), acted, completed);
    PQclear(r);
    return rc == UPDRAFT_EDB || rc == UPDRAFT_OK ? rc : UPDRAFT_OK;
}

static void format_duration(char *buf, size_t len, int64_t secs)
{
    if (secs >= 3600)
        snprintf(buf, len, "%lld:%02lld:%02lld", (long long)(secs / 3600),
                 (long long)(secs / 60 % 60), (long long)(secs % 60));
    else
        snprintf(buf, len, "%lld:%02lld", (long long)(secs / 60), (long long)(secs % 60));
}

char *backfill_format_progress(char *buf, size_t len, size_t done, size_t total, size_t failed,
                               int64_t elapsed_us, int bar_width)
{
    char bar[256], eta[32];
    if (bar_width < 1)
        bar_width = 1;
    if (bar_width > (int)sizeof(bar) - 1)
        bar_width = (int)sizeof(bar) - 1;
    if (done > total)
        done = total;
    int filled = total ? (int)((double)done / (double)total * bar_width) : bar_width;
    for (int i = 0; i < bar_width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[bar_width] = '\0';
    if (done == total)
        snprintf(eta, sizeof(eta), "0:00");
    else if (done == 0 || elapsed_us <= 0)
        snprintf(eta, sizeof(eta), "--:--");
    else
        format_duration(eta, sizeof(eta),
                        (int64_t)((double)elapsed_us / (double)done * (double)(total - done) /
                                      (double)TS_US_PER_SEC +
                                  0.5));
    snprintf(buf, len, "[%s] %zu/%zu runs done, %zu failed, ETA %s", bar, done, total, failed, eta);
    return buf;
}
