/*
 * clear.c - see clear.h.
 *
 * Task selection uses the DAG's latest serialized version, as Airflow
 * clears with the current DAG; max_tries uses the retries of each run's
 * own version. The clear itself is one statement (task instances, then
 * their runs back to 'queued', then one NOTIFY per run for the scheduler),
 * so a reader never sees a cleared task in a finished run.
 */
#include "sched/clear.h"
#include "core/pgarray.h"
#include "store/channels.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define CLEAR_VERSION_MAX (64 << 20)
#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

void clear_list_free(clear_list_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].run_id);
        free(l->items[i].task_id);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/*
 * Adds to selected[] the upstream and/or downstream closure of what is
 * selected. Returns the number selected, or -1 when out of memory.
 */
static int add_relatives(const dag_t *dag, bool upstream, bool downstream, bool *selected)
{
    size_t n = dag->n_tasks;
    bool *anc = calloc(n + 1, sizeof(bool));
    bool *desc = calloc(n + 1, sizeof(bool));
    int count = -1;
    if (!anc || !desc)
        goto out;
    for (size_t i = 0; i < n; i++)
        anc[i] = desc[i] = selected[i];
    /* tasks[] is topologically sorted: walking it backwards reaches a
     * task's downstream before the task, forwards its upstream first. */
    if (upstream)
        for (size_t k = n; k-- > 0;) {
            if (!anc[k])
                continue;
            for (size_t u = 0; u < dag->tasks[k].n_upstream; u++) {
                int j = dag_find_task(dag, dag->tasks[k].upstream[u]);
                if (j >= 0)
                    anc[j] = true;
            }
        }
    if (downstream)
        for (size_t k = 0; k < n; k++) {
            if (!desc[k])
                continue;
            for (size_t d = 0; d < dag->tasks[k].n_downstream; d++) {
                int j = dag_find_task(dag, dag->tasks[k].downstream[d]);
                if (j >= 0)
                    desc[j] = true;
            }
        }
    count = 0;
    for (size_t i = 0; i < n; i++) {
        selected[i] = selected[i] || anc[i] || desc[i];
        count += selected[i];
    }
out:
    free(anc);
    free(desc);
    return count;
}

int clear_select_tasks(const dag_t *dag, const char *regex, bool upstream, bool downstream,
                       bool *selected, char *err, size_t errlen)
{
    regex_t re;
    int count;
    bool use_re = regex && *regex;
    if (use_re) {
        int rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &re, msg, sizeof(msg));
            snprintf(err, errlen, "invalid task regex '%s': %s", regex, msg);
            return -1;
        }
    }
    for (size_t i = 0; i < dag->n_tasks; i++)
        selected[i] = !use_re || regexec(&re, dag->tasks[i].task_id, 0, NULL, 0) == 0;
    if (use_re)
        regfree(&re);
    count = add_relatives(dag, upstream, downstream, selected);
    if (count < 0)
        snprintf(err, errlen, "out of memory");
    return count;
}

int clear_select_task_ids(const dag_t *dag, const char *const *ids, size_t n_ids, bool upstream,
                          bool downstream, bool *selected)
{
    for (size_t i = 0; i < dag->n_tasks; i++)
        selected[i] = false;
    for (size_t k = 0; k < n_ids; k++) {
        int j = ids[k] ? dag_find_task(dag, ids[k]) : -1;
        if (j >= 0)
            selected[j] = true;
    }
    return add_relatives(dag, upstream, downstream, selected);
}

/* The DAG's latest version, parsed. NULL with err filled (*missing: no such DAG). */
static dag_t *load_latest(db_t *db, const char *dag_id, bool *missing, char *err, size_t errlen)
{
    const char *p[] = {dag_id};
    dag_t *dag = NULL;
    cJSON *j = NULL;
    PGresult *r = db_query(db, NULL,
                           "SELECT v.data::text FROM dag d JOIN dag_version v ON v.id = d.version_id"
                           " WHERE d.dag_id = $1",
                           1, p);
    if (!r) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return NULL;
    }
    if (PQntuples(r) == 0) {
        snprintf(err, errlen, "dag '%s' not found", dag_id);
        *missing = true;
        goto out;
    }
    size_t len = (size_t)PQgetlength(r, 0, 0);
    if (len > CLEAR_VERSION_MAX) {
        snprintf(err, errlen, "dag '%s': serialized version too large", dag_id);
        goto out;
    }
    j = cJSON_ParseWithLengthOpts(PQgetvalue(r, 0, 0), len + 1, NULL, 1);
    if (!j) {
        snprintf(err, errlen, "dag '%s': serialized version is not valid JSON", dag_id);
        goto out;
    }
    char derr[256];
    dag = dag_from_json(j, derr, sizeof(derr));
    if (!dag)
        snprintf(err, errlen, "dag '%s': %s", dag_id, derr);
out:
    cJSON_Delete(j);
    PQclear(r);
    return dag;
}

int clear_find(db_t *db, const clear_filter_t *f, clear_list_t *out, char *err, size_t errlen)
{
    dag_t *dag = NULL;
    bool *sel = NULL;
    cJSON *ids = NULL;
    char *ids_text = NULL;
    PGresult *r = NULL;
    char a[TS_ISO_LEN], b[TS_ISO_LEN];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!f->dag_id || !*f->dag_id || strlen(f->dag_id) > DAG_ID_MAX) {
        snprintf(err, errlen, "invalid dag_id");
        return -1;
    }
    bool missing = false;
    dag = load_latest(db, f->dag_id, &missing, err, errlen);
    if (!dag)
        return missing ? -2 : -1;
    sel = calloc(dag->n_tasks + 1, sizeof(bool));
    ids = cJSON_CreateArray();
    if (!sel || !ids) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (f->task_ids) {
        if (clear_select_task_ids(dag, f->task_ids, f->n_task_ids, f->upstream, f->downstream,
                                  sel) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    } else if (clear_select_tasks(dag, f->task_regex, f->upstream, f->downstream, sel, err,
                                  errlen) < 0) {
        goto out;
    }
    for (size_t i = 0; i < dag->n_tasks; i++)
        if (sel[i] && !cJSON_AddItemToArray(ids, cJSON_CreateString(dag->tasks[i].task_id))) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    ids_text = cJSON_PrintUnformatted(ids);
    if (!ids_text) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    char lim[24];
    snprintf(lim, sizeof(lim), "%d", CLEAR_MAX_TIS + 1);
    const char *p[] = {f->dag_id,
                       ids_text,
                       f->start == TS_NONE ? NULL : ts_format_iso(f->start, a),
                       f->end == TS_NONE ? NULL : ts_format_iso(f->end, b),
                       f->run_id,
                       f->only_failed ? "true" : "false",
                       lim,
                       f->only_running ? "true" : "false"};
    r = db_query(db, NULL,
                 "SELECT ti.id, ti.dag_run_id, ti.run_id, ti.task_id, ti.state, ti.try_number, "
                 US("dr.logical_date") " FROM task_instance ti JOIN dag_run dr ON dr.id = ti.dag_run_id"
                 " WHERE ti.dag_id = $1 AND dr.dag_id = $1"
                 " AND ti.task_id IN (SELECT jsonb_array_elements_text($2::jsonb))"
                 " AND ($3::timestamptz IS NULL OR dr.logical_date >= $3::timestamptz)"
                 " AND ($4::timestamptz IS NULL OR dr.logical_date <= $4::timestamptz)"
                 " AND ($5::text IS NULL OR dr.run_id = $5::text)"
                 " AND (NOT $6::boolean OR ti.state IN ('failed', 'upstream_failed'))"
                 " AND (NOT $8::boolean OR ti.state = 'running')"
                 " AND ti.state <> 'removed'"
                 " ORDER BY dr.logical_date, ti.task_id, ti.map_index LIMIT $7::bigint",
                 8, p);
    if (!r) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        goto out;
    }
    size_t n = (size_t)PQntuples(r);
    if (n > CLEAR_MAX_TIS) {
        snprintf(err, errlen, "more than %d task instances selected: narrow the selection",
                 CLEAR_MAX_TIS);
        goto out;
    }
    out->items = calloc(n + 1, sizeof(*out->items));
    if (!out->items) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        clear_ti_t *t = &out->items[i];
        int row = (int)i;
        t->id = db_get_i64(r, row, 0);
        t->dag_run_id = db_get_i64(r, row, 1);
        t->run_id = strdup(PQgetvalue(r, row, 2));
        t->task_id = strdup(PQgetvalue(r, row, 3));
        snprintf(t->state, sizeof(t->state), "%s", PQgetvalue(r, row, 4));
        t->try_number = db_get_int(r, row, 5);
        t->logical_date = db_get_i64(r, row, 6);
        out->n = i + 1;
        if (!t->run_id || !t->task_id) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    if (rc < 0)
        clear_list_free(out);
    PQclear(r);
    free(ids_text);
    cJSON_Delete(ids);
    free(sel);
    dag_free(dag);
    return rc;
}

int clear_apply(db_t *db, const clear_list_t *l, long *cleared, char *err, size_t errlen)
{
    return clear_apply_mode(db, l, CLEAR_RUNS_ALL, cleared, err, errlen);
}

int clear_apply_mode(db_t *db, const clear_list_t *l, clear_runs_t mode, long *cleared, char *err,
                     size_t errlen)
{
    int64_t *ids = NULL;
    char *arr = NULL;
    PGresult *r = NULL;
    int rc = -1;
    *cleared = 0;
    if (l->n == 0)
        return 0;
    ids = malloc(l->n * sizeof(*ids));
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < l->n; i++)
        ids[i] = l->items[i].id;
    arr = pgarray_int64(ids, l->n);
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    const char *modes[] = {"all", "finished", "keep"};
    const char *p[] = {arr, modes[mode <= CLEAR_RUNS_KEEP ? mode : CLEAR_RUNS_ALL]};
    /* One statement, so one implicit transaction. */
    r = db_query(db, NULL,
                 "WITH c AS ("
                 " UPDATE task_instance t SET state = 'none',"
                 "  max_tries = t.try_number"
                 "   + greatest(coalesce((v.data->'tasks'->t.task_id->>'retries')::int, 0), 0),"
                 "  hostname = '', pid = NULL, worker_id = NULL, queued_at = NULL,"
                 "  start_date = NULL, end_date = NULL, duration = NULL, heartbeat_at = NULL,"
                 "  next_try_at = NULL, updated_at = now()"
                 " FROM dag_run dr JOIN dag_version v ON v.id = dr.dag_version_id"
                 " WHERE t.id = ANY($1::bigint[]) AND dr.id = t.dag_run_id"
                 " RETURNING t.dag_run_id),"
                 " runs AS ("
                 " UPDATE dag_run SET state = 'queued', start_date = NULL, end_date = NULL,"
                 "  last_scheduling_decision = NULL"
                 " WHERE id IN (SELECT dag_run_id FROM c)"
                 "  AND ($2 = 'all' OR ($2 = 'finished' AND state IN ('success', 'failed')))"
                 " RETURNING id),"
                 " n AS (SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", d::text)"
                 "  FROM (SELECT DISTINCT dag_run_id AS d FROM c) x)"
                 " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM n),"
                 "  (SELECT count(*) FROM runs)",
                 2, p);
    if (!r) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        goto out;
    }
    *cleared = (long)db_get_i64(r, 0, 0);
    log_info("task instances cleared count=%ld runs=%lld runs_queued=%lld", *cleared,
             (long long)db_get_i64(r, 0, 1), (long long)db_get_i64(r, 0, 2));
    rc = 0;
out:
    PQclear(r);
    free(arr);
    free(ids);
    return rc;
}

int clear_mark_run(db_t *db, const char *dag_id, const char *run_id, const char *state, char *err,
                   size_t errlen)
{
    PGresult *r = NULL;
    int rc = -1;
    bool success = state && !strcmp(state, "success");
    bool queued = state && !strcmp(state, "queued");
    if (!state || (!success && !queued && strcmp(state, "failed") != 0)) {
        snprintf(err, errlen, "state must be 'success', 'failed' or 'queued'");
        return -1;
    }
    const char *p[] = {dag_id, run_id, state};
    if (db_begin(db) < 0)
        goto dberr;
    r = db_query(db, NULL,
                 "SELECT id FROM dag_run WHERE dag_id = $1 AND run_id = $2 FOR UPDATE", 2, p);
    if (!r)
        goto dberr;
    if (PQntuples(r) == 0) {
        snprintf(err, errlen, "dag run '%s' of dag '%s' not found", run_id, dag_id);
        rc = -2;
        db_rollback(db);
        goto out;
    }
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    const char *pi[] = {idbuf};
    if (queued) {
        /* Airflow 2's set_dag_run_state_to_queued: the run only. */
        if (db_exec(db, NULL,
                    "UPDATE dag_run SET state = 'queued', queued_at = now(), start_date = NULL,"
                    " end_date = NULL, last_scheduling_decision = NULL"
                    " WHERE id = $1::bigint AND state <> 'queued'",
                    1, pi) < 0 ||
            db_exec(db, NULL, "SELECT pg_notify(" CHANNEL_SCHEDULER_SQL ", $1)", 1, pi) < 0 ||
            db_commit(db) < 0)
            goto dberr;
        log_info("dag run marked dag_id=%s run_id=%s state=queued", dag_id, run_id);
        rc = 0;
        goto out;
    }
    long n = success
                 ? db_exec(db, NULL,
                           "UPDATE task_instance SET state = 'success',"
                           " start_date = coalesce(start_date, now()), end_date = now(),"
                           " updated_at = now(), next_try_at = NULL"
                           " WHERE dag_run_id = $1::bigint AND state NOT IN ('success', 'removed')",
                           1, pi)
                 : db_exec(db, NULL,
                           "UPDATE task_instance SET state = CASE WHEN state IN ('running',"
                           " 'deferred', 'up_for_reschedule') THEN 'failed' ELSE 'skipped' END,"
                           " start_date = coalesce(start_date, now()), end_date = now(),"
                           " updated_at = now(), next_try_at = NULL"
                           " WHERE dag_run_id = $1::bigint AND state NOT IN ('success', 'failed',"
                           " 'skipped', 'upstream_failed', 'removed')",
                           1, pi);
    if (n < 0)
        goto dberr;
    const char *pr[] = {idbuf, state};
    if (db_exec(db, NULL,
                "UPDATE dag_run SET state = $2, start_date = coalesce(start_date, now()),"
                " end_date = now() WHERE id = $1::bigint",
                2, pr) < 0)
        goto dberr;
    if (db_commit(db) < 0)
        goto dberr;
    log_info("dag run marked dag_id=%s run_id=%s state=%s tis=%ld", dag_id, run_id, state, n);
    rc = 0;
    goto out;
dberr:
    snprintf(err, errlen, "database error: %s", db_error(db));
    db_rollback(db);
out:
    PQclear(r);
    return rc;
}

int clear_mark_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                  const char *state, char *err, size_t errlen)
{
    PGresult *r;
    int rc;

    if (!state || (strcmp(state, "success") != 0 && strcmp(state, "failed") != 0 &&
                   strcmp(state, "skipped") != 0)) {
        snprintf(err, errlen, "state must be 'success', 'failed' or 'skipped'");
        return -1;
    }
    const char *p[] = {dag_id, run_id, task_id, state};
    /* One statement: the update and the wake-up commit together. */
    r = db_query(db, NULL,
                 "WITH u AS ("
                 " UPDATE task_instance ti SET state = $4,"
                 "  start_date = coalesce(ti.start_date, now()), end_date = now(),"
                 "  duration = extract(epoch FROM now() - coalesce(ti.start_date, now())),"
                 "  next_try_at = NULL, updated_at = now()"
                 " FROM dag_run dr WHERE dr.dag_id = $1 AND dr.run_id = $2"
                 "  AND ti.dag_run_id = dr.id AND ti.task_id = $3 AND ti.map_index = -1"
                 " RETURNING ti.dag_run_id)"
                 " SELECT count(*), count(pg_notify(" CHANNEL_SCHEDULER_SQL ", dag_run_id::text))"
                 " FROM u",
                 4, p);
    if (!r) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return -1;
    }
    rc = db_get_i64(r, 0, 0) > 0 ? 0 : -2;
    PQclear(r);
    if (rc == -2)
        snprintf(err, errlen, "task instance '%s' of run '%s' of dag '%s' not found", task_id,
                 run_id, dag_id);
    else
        log_info("task instance marked dag_id=%s run_id=%s task_id=%s state=%s", dag_id, run_id,
                 task_id, state);
    return rc;
}
