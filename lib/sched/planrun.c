/*
 * planrun.c - see planrun.h.
 *
 * Moved here from the scheduler so that workers plan with the same code
 * (the mini-scheduler, see planrun.h). A run is planned from two reads (the run row, locked, and its task
 * instances) and a handful of set-based writes (one UPDATE per target
 * state, WHERE id = ANY($1)), whatever the number of tasks. Tasks are
 * visited in the version's topological order with the new states kept in
 * memory, so a chain of empty tasks, or a failure cascading down as
 * upstream_failed, settles in one pass. Every UPDATE repeats the state it
 * expects (AND state = 'none'), so a row changed concurrently by a worker
 * or a user is left as they left it.
 */
#include "sched/planrun.h"
#include "core/pgarray.h"
#include "store/locks.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cron.h"
#include "model/dag.h"
#include "core/log.h"
#include "model/operator.h"
#include "model/planner.h"
#include "store/pools.h"
#include "store/xcom.h"

#define PLANRUN_VERSION_MAX (64 << 20) /* a serialized DAG larger than this is refused */

typedef struct cache_entry {
    int64_t version_id;
    dag_t *dag;
    const char **sorted_ids; /* task ids, sorted, borrowed from dag */
    int *sorted_idx;         /* sorted_ids[i] is dag->tasks[sorted_idx[i]] */
} cache_entry_t;

struct planrun_cache {
    cache_entry_t *items;
    size_t cap, n, next_evict;
    int max_map_length;
};

void planrun_cache_set_max_map_length(planrun_cache_t *c, int n)
{
    c->max_map_length = n > 0 ? n : OPERATOR_MAX_MAP_LENGTH_DEFAULT;
}

static int planrun_cache_max_map_length(const planrun_cache_t *c)
{
    return c->max_map_length > 0 ? c->max_map_length : OPERATOR_MAX_MAP_LENGTH_DEFAULT;
}

planrun_cache_t *planrun_cache_new(size_t cap)
{
    planrun_cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cap = cap ? cap : 1;
    c->items = calloc(c->cap, sizeof(*c->items));
    if (!c->items) {
        free(c);
        return NULL;
    }
    return c;
}

static void entry_clear(cache_entry_t *e)
{
    dag_free(e->dag);
    free(e->sorted_ids);
    free(e->sorted_idx);
    memset(e, 0, sizeof(*e));
}

void planrun_cache_free(planrun_cache_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->items[i]);
    free(c->items);
    free(c);
}

typedef struct id_idx {
    const char *id;
    int idx;
} id_idx_t;

static int cmp_id_idx(const void *a, const void *b)
{
    return strcmp(((const id_idx_t *)a)->id, ((const id_idx_t *)b)->id);
}

/* Index of task_id in e->dag->tasks, or -1. */
static int entry_find(const cache_entry_t *e, const char *task_id)
{
    size_t lo = 0, hi = e->dag->n_tasks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(task_id, e->sorted_ids[mid]);
        if (c == 0)
            return e->sorted_idx[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

/* Loads (or finds) version_id. NULL on a database error (*dberr) or a bad document. */
static cache_entry_t *cache_get(planrun_cache_t *c, db_t *db, int64_t version_id, bool *dberr)
{
    char idbuf[24], err[256];
    *dberr = false;
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].version_id == version_id)
            return &c->items[i];

    snprintf(idbuf, sizeof(idbuf), "%" PRId64, version_id);
    const char *p[] = {idbuf};
    PGresult *r = db_query(db, "planrun_version",
                           "SELECT data::text FROM dag_version WHERE id = $1::bigint", 1, p);
    if (!r) {
        *dberr = true;
        return NULL;
    }
    dag_t *dag = NULL;
    cJSON *j = NULL;
    if (PQntuples(r) == 0) {
        log_error("dag version missing version_id=%s", idbuf);
        goto fail;
    }
    size_t len = (size_t)PQgetlength(r, 0, 0);
    if (len > PLANRUN_VERSION_MAX) {
        log_error("dag version too large version_id=%s bytes=%zu", idbuf, len);
        goto fail;
    }
    j = cJSON_ParseWithLengthOpts(PQgetvalue(r, 0, 0), len + 1, NULL, 1);
    if (!j || !(dag = dag_from_json(j, err, sizeof(err)))) {
        log_error("dag version unreadable version_id=%s error=\"%s\"", idbuf,
                  j ? err : "invalid JSON");
        goto fail;
    }
    cJSON_Delete(j);
    j = NULL;
    PQclear(r);
    r = NULL;

    cache_entry_t e = {.version_id = version_id, .dag = dag};
    e.sorted_ids = calloc(dag->n_tasks + 1, sizeof(*e.sorted_ids));
    e.sorted_idx = calloc(dag->n_tasks + 1, sizeof(*e.sorted_idx));
    if (!e.sorted_ids || !e.sorted_idx) {
        entry_clear(&e);
        log_error("out of memory loading version_id=%s", idbuf);
        return NULL;
    }
    id_idx_t *tmp = calloc(dag->n_tasks + 1, sizeof(*tmp));
    if (!tmp) {
        entry_clear(&e);
        log_error("out of memory loading version_id=%s", idbuf);
        return NULL;
    }
    for (size_t i = 0; i < dag->n_tasks; i++)
        tmp[i] = (id_idx_t){dag->tasks[i].task_id, (int)i};
    qsort(tmp, dag->n_tasks, sizeof(*tmp), cmp_id_idx);
    for (size_t i = 0; i < dag->n_tasks; i++) {
        e.sorted_ids[i] = tmp[i].id;
        e.sorted_idx[i] = tmp[i].idx;
    }
    free(tmp);

    size_t slot;
    if (c->n < c->cap) {
        slot = c->n++;
    } else {
        slot = c->next_evict;
        c->next_evict = (c->next_evict + 1) % c->cap;
        entry_clear(&c->items[slot]);
    }
    c->items[slot] = e;
    return &c->items[slot];
fail:
    cJSON_Delete(j);
    PQclear(r);
    return NULL;
}

/* Runs an id-array UPDATE (param $1 = ids, $2 = extra when non-NULL). -1 on error. */
static int update_ids(db_t *db, const char *name, const char *sql, const int64_t *ids, size_t n,
                      const char *extra)
{
    if (n == 0)
        return 0;
    char *arr = pgarray_int64(ids, n);
    if (!arr)
        return -1;
    const char *p[] = {arr, extra};
    long rows = db_exec(db, name, sql, extra ? 2 : 1, p);
    free(arr);
    return rows < 0 ? -1 : 0;
}

typedef struct ti_row {
    int64_t id;
    ti_state_t state;
    bool retry_due;   /* up_for_retry or up_for_reschedule whose time has come */
    int map_index;
    int task; /* index in dag->tasks, -1 if the version has no such task */
} ti_row_t;

/*
 * Makes ids 'scheduled' (from 'none', or from 'up_for_retry' when retry),
 * copying each task's max_active_tis_per_dag/_per_dagrun onto its row for
 * the queueing statement (pools.h). One statement either way.
 */
static int schedule_ids_from(db_t *db, const cache_entry_t *ver, const ti_row_t *rows,
                             size_t nrows, const int64_t *ids, size_t n, const char *from)
{
    if (n == 0)
        return 0;
    int *per_dag = calloc(n, sizeof(*per_dag)), *per_run = calloc(n, sizeof(*per_run));
    char *a_ids = NULL, *a_dag = NULL, *a_run = NULL;
    int rc = -1;
    if (!per_dag || !per_run)
        goto out;
    /* ids are in rows order (both lists are filled walking rows or tasks),
     * but look each up to stay independent of that. */
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nrows; k++) {
            if (rows[k].id != ids[i] || rows[k].task < 0)
                continue;
            const dag_task_t *t = &ver->dag->tasks[rows[k].task];
            per_dag[i] = t->max_active_tis_per_dag;
            per_run[i] = t->max_active_tis_per_dagrun;
            break;
        }
    }
    if (!(a_ids = pgarray_int64(ids, n)) || !(a_dag = pgarray_int(per_dag, n)) ||
        !(a_run = pgarray_int(per_run, n)))
        goto out;
    const char *p[] = {a_ids, a_dag, a_run, from};
    long rows_changed = db_exec(
        db, "planrun_schedule",
        "UPDATE task_instance t SET state = 'scheduled', next_try_at = NULL, updated_at = now(),"
        " max_active_tis_per_dag = nullif(v.a, 0), max_active_tis_per_dagrun = nullif(v.b, 0)"
        " FROM unnest($1::bigint[], $2::int[], $3::int[]) v(id, a, b)"
        " WHERE t.id = v.id AND t.state = $4",
        4, p);
    rc = rows_changed < 0 ? -1 : 0;
out:
    free(per_dag);
    free(per_run);
    free(a_ids);
    free(a_dag);
    free(a_run);
    return rc;
}

static int schedule_ids(db_t *db, const cache_entry_t *ver, const ti_row_t *rows, size_t nrows,
                        const int64_t *ids, size_t n, bool retry)
{
    return schedule_ids_from(db, ver, rows, nrows, ids, n, retry ? "up_for_retry" : "none");
}

void planrun_result_free(planrun_result_t *res)
{
    if (!res)
        return;
    free(res->queued);
    res->queued = NULL;
    res->n_queued = 0;
}

/*
 * Moves the ready ids (already 'scheduled' in this transaction) to 'queued',
 * by priority, within the DAG's max_active_tasks. The DAG's advisory lock
 * was taken by the run lock statement, before this statement's snapshot, so
 * the count of active task instances includes every other planner's commit.
 */
static int queue_ready_ids(db_t *db, const char *dag_id, const int64_t *ids, size_t n,
                           planrun_result_t *res)
{
    char *arr = pgarray_int64(ids, n);
    char *dags = NULL;
    const char *one[] = {dag_id};
    if (!arr || !(dags = pgarray_text(one, 1))) {
        free(arr);
        return -1;
    }
    PGresult *r = pools_queue_scheduled(db, dags, arr, (int)n);
    free(arr);
    free(dags);
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    res->queued = calloc(rows + 1, sizeof(*res->queued));
    if (!res->queued) {
        PQclear(r);
        return -1;
    }
    for (size_t i = 0; i < rows; i++) {
        planrun_queued_t *q = &res->queued[i];
        q->ti_id = db_get_i64(r, (int)i, 0);
        q->try_number = db_get_int(r, (int)i, 1);
        snprintf(q->queue, sizeof(q->queue), "%s", PQgetvalue(r, (int)i, 2));
    }
    res->n_queued = rows;
    PQclear(r);
    return 0;
}

/*
 * Whether queued run run_id (locked by the caller) may start now, as
 * Airflow 2 starts queued runs: while the DAG's running runs stay below
 * max_active_runs, oldest logical date first, and not while the DAG is
 * paused (manual and backfill runs excepted, see docs/scheduling.md). The per-DAG run
 * lock, taken first and held to the commit, serializes the decision
 * between planners, so two of them never both fill the last slot.
 * 1 yes, 0 no, -1 database error.
 */
static int start_allowed(db_t *db, const char *dag_id, const char *run_idbuf)
{
    const char *pl[] = {dag_id};
    const char *p[] = {run_idbuf};
    PGresult *r = db_query(db, "planrun_runs_lock",
                           "SELECT pg_advisory_xact_lock(" LOCK_RUNS_CLASS ", hashtext($1))",
                           1, pl);
    if (!r)
        return -1;
    PQclear(r);
    r = db_query(db, "planrun_may_start",
                 "SELECT (NOT d.is_paused OR r.run_type <> 'scheduled')"
                 " AND (SELECT count(*) FROM dag_run x WHERE x.dag_id = r.dag_id"
                 "        AND x.state = 'running')"
                 "   + (SELECT count(*) FROM dag_run x WHERE x.dag_id = r.dag_id"
                 "        AND x.state = 'queued' AND (x.logical_date, x.id) < (r.logical_date, r.id)"
                 "        AND (NOT d.is_paused OR x.run_type <> 'scheduled'))"
                 "   < CASE WHEN lower(coalesce(d.schedule, '')) = '@continuous' THEN 1"
                 "          ELSE d.max_active_runs END"
                 " FROM dag_run r JOIN dag d ON d.dag_id = r.dag_id WHERE r.id = $1::bigint",
                 1, p);
    if (!r)
        return -1;
    int ok = PQntuples(r) == 1 && db_get_bool(r, 0, 0);
    PQclear(r);
    return ok;
}

/*
 * max_consecutive_failed_dag_runs: after a run failed, pauses the DAG when
 * its n latest runs (by logical date) all failed, as Airflow 2.9 does.
 */
static int pause_if_failing(db_t *db, const char *dag_id, int n)
{
    if (n <= 0)
        return 0;
    char nb[16];
    snprintf(nb, sizeof(nb), "%d", n);
    const char *p[] = {dag_id, nb};
    long rows = db_exec(db, "planrun_autopause",
                        "UPDATE dag SET is_paused = true WHERE dag_id = $1 AND NOT is_paused"
                        " AND (SELECT count(*) FILTER (WHERE state = 'failed') = $2::int"
                        "      FROM (SELECT state FROM dag_run WHERE dag_id = $1"
                        "            ORDER BY logical_date DESC LIMIT $2::int) l)",
                        2, p);
    if (rows < 0)
        return -1;
    if (rows > 0)
        log_warn("dag paused after %d consecutive failed runs dag_id=%s"
                 " (max_consecutive_failed_dag_runs)", n, dag_id);
    return 0;
}

int planrun_timeout_due(db_t *db, planrun_cache_t *cache, size_t max, size_t *n_timed_out)
{
    char lim[24];
    int rc = -1;
    int64_t *ids = NULL;
    size_t n = 0;
    *n_timed_out = 0;
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *pl[] = {lim};
    PGresult *r = db_query(db, "planrun_timeout_due",
                           "SELECT id FROM dag_run WHERE state = 'running'"
                           " AND timeout_at IS NOT NULL AND timeout_at <= now()"
                           " ORDER BY timeout_at LIMIT $1::bigint",
                           1, pl);
    if (!r)
        return -1;
    n = (size_t)PQntuples(r);
    ids = calloc(n + 1, sizeof(*ids));
    if (!ids) {
        PQclear(r);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = db_get_i64(r, (int)i, 0);
    PQclear(r);
    r = NULL;

    for (size_t i = 0; i < n; i++) {
        char idbuf[24];
        snprintf(idbuf, sizeof(idbuf), "%" PRId64, ids[i]);
        const char *p[] = {idbuf};
        if (db_begin(db) < 0)
            goto out;
        r = db_query(db, "planrun_timeout_lock",
                     "SELECT dag_id, run_id, dag_version_id FROM dag_run WHERE id = $1::bigint"
                     " AND state = 'running' AND timeout_at <= now() FOR UPDATE SKIP LOCKED",
                     1, p);
        if (!r)
            goto fail;
        if (PQntuples(r) == 0) { /* finished meanwhile, or held by a planner: next pass */
            PQclear(r);
            r = NULL;
            if (db_commit(db) < 0)
                goto fail;
            continue;
        }
        char dag_id[DAG_ID_MAX + 1], rid[256];
        snprintf(dag_id, sizeof(dag_id), "%s", PQgetvalue(r, 0, 0));
        snprintf(rid, sizeof(rid), "%s", PQgetvalue(r, 0, 1));
        int64_t version_id = db_get_i64(r, 0, 2);
        PQclear(r);
        r = NULL;
        /* Airflow 2: every unfinished task instance becomes skipped; a
         * running try loses its guard and its worker kills it. */
        long skipped = db_exec(db, "planrun_timeout_skip",
                               "UPDATE task_instance SET state = 'skipped',"
                               " start_date = coalesce(start_date, now()), end_date = now(),"
                               " updated_at = now() WHERE dag_run_id = $1::bigint"
                               " AND state IN ('none', 'scheduled', 'queued', 'running',"
                               " 'up_for_retry', 'up_for_reschedule', 'deferred', 'restarting')",
                               1, p);
        if (skipped < 0 ||
            db_exec(db, "planrun_timeout_fail",
                    "UPDATE dag_run SET state = 'failed', end_date = now(),"
                    " last_scheduling_decision = now() WHERE id = $1::bigint",
                    1, p) < 0)
            goto fail;
        bool dberr = false;
        cache_entry_t *ver = cache_get(cache, db, version_id, &dberr);
        if (dberr)
            goto fail;
        if (ver && pause_if_failing(db, dag_id, ver->dag->max_consecutive_failed_dag_runs) < 0)
            goto fail;
        if (db_commit(db) < 0)
            goto fail;
        log_warn("dag run timed out dag_id=%s run_id=%s state=failed tasks_skipped=%ld", dag_id,
                 rid, skipped);
        (*n_timed_out)++;
    }
    rc = 0;
    goto out;
fail:
    PQclear(r);
    r = NULL;
    db_rollback(db);
out:
    free(ids);
    return rc;
}

int planrun_plan(db_t *db, planrun_cache_t *cache, int64_t run_id, planrun_result_t *res)
{
    if (db_begin(db) < 0) {
        memset(res, 0, sizeof(*res));
        return -1;
    }
    if (planrun_plan_tx(db, cache, run_id, false, res) < 0 || db_commit(db) < 0) {
        db_rollback(db);
        res->planned = res->finished = false;
        return -1;
    }
    return 0;
}

/* ---- one pass over a run ------------------------------------------------ */

/* What a pass knows of its run, beyond its rows. */
typedef struct pass {
    db_t *db;
    const cache_entry_t *ver;
    const dag_t *dag;
    const char *idbuf, *dag_id, *rid;
    ti_row_t *rows;
    size_t n;
    int *first;          /* per task: index of its first row, -1 = none */
    int *next;           /* per row: next row of the same task, -1 = last */
    size_t *expanded;    /* per task: instances created this pass (counted as scheduled) */
    bool *forced_skip;   /* per task: skipped by a branch, short_circuit or latest_only */
    bool prev_loaded;    /* depends_on_past: the previous run's states, read once */
    char **prev_task;    /* ... task ids and states of its rows */
    ti_state_t *prev_state;
    size_t n_prev;
    bool run_manual;     /* latest_only: externally triggered runs follow every branch */
    ts_us_t interval_start, interval_end;
    int max_map_length;
} pass_t;

static void pass_free_prev(pass_t *ps)
{
    for (size_t i = 0; i < ps->n_prev; i++)
        free(ps->prev_task[i]);
    free(ps->prev_task);
    free(ps->prev_state);
}

/* Whether task index d is followed by a skipmixin list (its id or one of its groups named). */
static bool followed(const dag_t *dag, int d, const cJSON *list)
{
    const cJSON *it;
    const dag_task_t *t = &dag->tasks[d];
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it))
            continue;
        if (strcmp(it->valuestring, t->task_id) == 0)
            return true;
        for (int g = t->task_group ? dag_find_group(dag, t->task_group) : -1; g >= 0;
             g = dag->groups[g].parent_id ? dag_find_group(dag, dag->groups[g].parent_id) : -1)
            if (strcmp(it->valuestring, dag->groups[g].group_id) == 0)
                return true;
    }
    return false;
}

static void skip_descendants(pass_t *ps, int t)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    for (size_t k = 0; k < task->n_downstream; k++) {
        int d = entry_find(ps->ver, task->downstream[k]);
        if (d >= 0 && !ps->forced_skip[d]) {
            ps->forced_skip[d] = true;
            skip_descendants(ps, d);
        }
    }
}

/*
 * Applies what a branching task (u) decided: its direct downstream tasks
 * that list does not follow are skipped; a short_circuit that follows
 * nothing skips every task below it unless ignore_downstream_trigger_rules
 * is false (Airflow's default is true).
 */
static void apply_skipmixin(pass_t *ps, int u, const cJSON *value)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(value, "followed");
    const dag_task_t *task = &ps->dag->tasks[u];
    if (!cJSON_IsArray(list))
        return;
    if (task->op == DAG_OP_SHORT_CIRCUIT && cJSON_GetArraySize(list) == 0) {
        const cJSON *ign = task->args ? cJSON_GetObjectItemCaseSensitive(
                                            task->args, "ignore_downstream_trigger_rules")
                                      : NULL;
        if (!cJSON_IsFalse(ign)) {
            skip_descendants(ps, u);
            return;
        }
    }
    for (size_t k = 0; k < task->n_downstream; k++) {
        int d = entry_find(ps->ver, task->downstream[k]);
        if (d >= 0 && !followed(ps->dag, d, list))
            ps->forced_skip[d] = true;
    }
}

/* Reads the skipmixin XComs of the run's finished branching tasks. -1 on a database error. */
static int load_skips(pass_t *ps)
{
    bool any = false;
    for (size_t t = 0; t < ps->dag->n_tasks && !any; t++) {
        dag_operator_t op = ps->dag->tasks[t].op;
        int r = ps->first[t];
        any = (op == DAG_OP_BRANCH || op == DAG_OP_SHORT_CIRCUIT || op == DAG_OP_LATEST_ONLY) &&
              r >= 0 && ps->rows[r].state == TI_SUCCESS;
    }
    if (!any)
        return 0;
    const char *p[] = {ps->idbuf};
    PGresult *r = db_query(ps->db, "planrun_skips",
                           "SELECT task_id, value::text FROM xcom WHERE dag_run_id = $1::bigint"
                           " AND key = '" OPERATOR_SKIPMIXIN_KEY "' AND map_index = -1",
                           1, p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int u = entry_find(ps->ver, PQgetvalue(r, i, 0));
        if (u < 0)
            continue;
        cJSON *v = cJSON_ParseWithLengthOpts(PQgetvalue(r, i, 1),
                                             (size_t)PQgetlength(r, i, 1) + 1, NULL, 1);
        if (v)
            apply_skipmixin(ps, u, v);
        cJSON_Delete(v);
    }
    PQclear(r);
    return 0;
}

/*
 * latest_only, decided here (it runs nothing): a run follows every branch
 * when it was triggered by hand or is the latest, that is when now lies
 * in (its data interval's end, the next interval's end], as Airflow's
 * LatestOnlyOperator. Writes the skipmixin XCom and applies it. -1 on a
 * database error.
 */
static int decide_latest_only(pass_t *ps, int t, int64_t ti_id)
{
    const dag_t *dag = ps->dag;
    bool latest = true;
    if (!ps->run_manual && dag->schedule && ps->interval_end != TS_NONE) {
        schedule_t sc;
        schedule_tz_t *tz = NULL;
        char err[256];
        ts_us_t ns, ne;
        if (schedule_parse(dag->schedule, &sc, err, sizeof(err)) == 0 &&
            schedule_tz_load(dag->timezone ? dag->timezone : "UTC", &tz, err, sizeof(err)) == 0) {
            sc.tz = tz;
            if (schedule_following_interval(&sc, ps->interval_start, ps->interval_end, &ns, &ne) ==
                1) {
                ts_us_t now = ts_now();
                latest = ps->interval_end < now && now <= ne;
            }
            schedule_tz_free(tz);
        }
    }
    cJSON *v = cJSON_CreateObject(), *list = v ? cJSON_AddArrayToObject(v, "followed") : NULL;
    const dag_task_t *task = &dag->tasks[t];
    for (size_t k = 0; latest && list && k < task->n_downstream; k++)
        cJSON_AddItemToArray(list, cJSON_CreateString(task->downstream[k]));
    char *text = list ? cJSON_PrintUnformatted(v) : NULL;
    if (!text) {
        cJSON_Delete(v);
        return -1;
    }
    char tid[24];
    snprintf(tid, sizeof(tid), "%" PRId64, ti_id);
    const char *p[] = {tid, text};
    long rows = db_exec(ps->db, "planrun_latest_only",
                        "INSERT INTO xcom (dag_run_id, dag_id, run_id, task_id, map_index, key, value)"
                        " SELECT dag_run_id, dag_id, run_id, task_id, -1, '" OPERATOR_SKIPMIXIN_KEY
                        "', $2::jsonb FROM task_instance WHERE id = $1::bigint"
                        " ON CONFLICT ON CONSTRAINT xcom_unique DO UPDATE SET value = EXCLUDED.value,"
                        " timestamp = now()",
                        2, p);
    free(text);
    if (rows >= 0) {
        apply_skipmixin(ps, t, v);
        log_info("latest_only dag_id=%s run_id=%s task_id=%s latest=%s", ps->dag_id, ps->rid,
                 task->task_id, latest ? "true" : "false");
    }
    cJSON_Delete(v);
    return rows < 0 ? -1 : 0;
}

/*
 * depends_on_past (and wait_for_downstream): 1 when task t may run in this
 * run, as Airflow's PrevDagrunDep: the same task's instances in the
 * previous run (by logical date) are success or skipped (absent: the task
 * is new, or this is the first run), and with wait_for_downstream so are
 * its direct downstream tasks' there. 0 no, -1 database error.
 */
static int past_allows(pass_t *ps, int t)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    if (!ps->prev_loaded) {
        const char *p[] = {ps->idbuf};
        PGresult *r = db_query(ps->db, "planrun_prev",
                               "SELECT ti.task_id, ti.state FROM task_instance ti"
                               " WHERE ti.dag_run_id = (SELECT p.id FROM dag_run p, dag_run r"
                               "   WHERE r.id = $1::bigint AND p.dag_id = r.dag_id"
                               "   AND p.logical_date < r.logical_date"
                               "   ORDER BY p.logical_date DESC LIMIT 1)",
                               1, p);
        if (!r)
            return -1;
        size_t n = (size_t)PQntuples(r);
        ps->prev_task = calloc(n + 1, sizeof(*ps->prev_task));
        ps->prev_state = calloc(n + 1, sizeof(*ps->prev_state));
        if (!ps->prev_task || !ps->prev_state) {
            PQclear(r);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (!(ps->prev_task[i] = strdup(PQgetvalue(r, (int)i, 0)))) {
                PQclear(r);
                return -1;
            }
            ps->n_prev = i + 1;
            if (planner_state_parse(PQgetvalue(r, (int)i, 1), &ps->prev_state[i]) < 0)
                ps->prev_state[i] = TI_NONE;
        }
        PQclear(r);
        ps->prev_loaded = true;
    }
    for (size_t i = 0; i < ps->n_prev; i++) {
        bool watched = strcmp(ps->prev_task[i], task->task_id) == 0;
        for (size_t k = 0; !watched && task->wait_for_downstream && k < task->n_downstream; k++)
            watched = strcmp(ps->prev_task[i], task->downstream[k]) == 0;
        ti_state_t st = ps->prev_state[i];
        if (watched && st != TI_SUCCESS && st != TI_SKIPPED && st != TI_REMOVED)
            return 0;
    }
    return 1;
}

/*
 * The number of instances mapped task t gets: the product of its expand
 * values' lengths (literal lists, or the length of an upstream's
 * return_value XCom: a list, or a mapping's items). Returns 0 with *n set,
 * 1 when the task cannot be mapped (why in err: it fails), -1 on a
 * database error.
 */
static int map_length(pass_t *ps, int t, size_t *n, char *err, size_t errlen)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    const cJSON *it;
    size_t total = 1;
    cJSON_ArrayForEach(it, task->expand) {
        size_t len;
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "xcom_task");
        if (cJSON_IsArray(it)) {
            len = (size_t)cJSON_GetArraySize(it);
        } else if (cJSON_IsString(ref)) {
            const char *p[] = {ps->idbuf, ref->valuestring};
            PGresult *r = db_query(ps->db, "planrun_map_xcom",
                                   "SELECT value::text FROM xcom WHERE dag_run_id = $1::bigint"
                                   " AND task_id = $2 AND map_index = -1 AND key = 'return_value'",
                                   2, p);
            if (!r)
                return -1;
            cJSON *v = PQntuples(r) ? cJSON_ParseWithLengthOpts(PQgetvalue(r, 0, 0),
                                                                (size_t)PQgetlength(r, 0, 0) + 1,
                                                                NULL, 1)
                                    : NULL;
            PQclear(r);
            cJSON *val = xcom_mappable(v);
            if (!val) {
                snprintf(err, errlen,
                         "cannot expand over '%s': task '%s' pushed %s as return_value, not a "
                         "list or a mapping",
                         it->string, ref->valuestring, v ? "a value" : "nothing");
                cJSON_Delete(v);
                return 1;
            }
            len = (size_t)cJSON_GetArraySize(val);
            if (val != v)
                cJSON_Delete(val);
            cJSON_Delete(v);
        } else {
            snprintf(err, errlen, "expand '%s' is neither a list nor an XCom reference",
                     it->string ? it->string : "?");
            return 1;
        }
        if (len == 0) {
            total = 0;
        } else if (total > 0) {
            if (len > (size_t)ps->max_map_length || total > (size_t)ps->max_map_length / len + 1) {
                total = (size_t)ps->max_map_length + 1;
            } else {
                total *= len;
            }
        }
    }
    if (total > (size_t)ps->max_map_length) {
        snprintf(err, errlen, "expanding would create more than %d task instances "
                              "(core.max_map_length)", ps->max_map_length);
        return 1;
    }
    *n = total;
    return 0;
}

/*
 * Expands mapped task instance row ri into n instances (n >= 1): the row
 * becomes map_index 0 and rows 1..n-1 are added, all 'scheduled' (the
 * per-task limits copied as schedule_ids does). The new rows' ids are
 * appended to ids, which has room for n - 1 more. -1 on error.
 */
static int expand_row(pass_t *ps, int t, int ri, size_t n, int64_t *ids, size_t *nids)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    char id[24], cnt[24], pd[16], pr[16];
    snprintf(id, sizeof(id), "%" PRId64, ps->rows[ri].id);
    snprintf(cnt, sizeof(cnt), "%zu", n);
    snprintf(pd, sizeof(pd), "%d", task->max_active_tis_per_dag);
    snprintf(pr, sizeof(pr), "%d", task->max_active_tis_per_dagrun);
    const char *p[] = {id, cnt, pd, pr};
    PGresult *r = db_query(
        ps->db, "planrun_expand",
        "WITH first AS (UPDATE task_instance SET map_index = 0, state = 'scheduled',"
        "   updated_at = now(), max_active_tis_per_dag = nullif($3::int, 0),"
        "   max_active_tis_per_dagrun = nullif($4::int, 0)"
        "   WHERE id = $1::bigint AND state = 'none' AND map_index = -1 RETURNING *)"
        " INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, map_index, state,"
        "   try_number, max_tries, operator, queue, pool, pool_slots, priority_weight,"
        "   max_active_tis_per_dag, max_active_tis_per_dagrun)"
        " SELECT f.dag_run_id, f.dag_id, f.run_id, f.task_id, g, 'scheduled', f.try_number,"
        "   f.max_tries, f.operator, f.queue, f.pool, f.pool_slots, f.priority_weight,"
        "   f.max_active_tis_per_dag, f.max_active_tis_per_dagrun"
        " FROM first f, generate_series(1, $2::int - 1) g RETURNING id",
        4, p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        ids[(*nids)++] = db_get_i64(r, i, 0);
    PQclear(r);
    log_info("task mapped dag_id=%s run_id=%s task_id=%s instances=%zu", ps->dag_id, ps->rid,
             task->task_id, n);
    return 0;
}

int planrun_plan_tx(db_t *db, planrun_cache_t *cache, int64_t run_id, bool queue_ready,
                    planrun_result_t *res)
{
    char idbuf[24], dag_id[DAG_ID_MAX + 1], rid[256];
    PGresult *r = NULL;
    ti_row_t *rows = NULL;
    pass_t ps = {0};
    int64_t *lists[4] = {NULL, NULL, NULL, NULL}; /* scheduled, retry, success(empty), settle */
    size_t nl[4] = {0, 0, 0, 0};
    ti_state_t *settle_state = NULL;
    int64_t *removed = NULL, *resched = NULL, *mapped_ids = NULL;
    size_t n_removed = 0, n_resched = 0, n_mapped = 0;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, run_id);
    const char *p1[] = {idbuf};
    const char *plock[] = {idbuf, queue_ready ? "true" : "false"};

    /* With queue_ready the DAG's advisory lock is tried in the same round
     * trip; held or not, it is released at the caller's commit. */
    r = db_query(db, "planrun_lock",
                 "SELECT state, dag_version_id, dag_id, run_id,"
                 " $2::boolean AND pg_try_advisory_xact_lock(" LOCK_DAG_CLASS
                 ", hashtext(dag_id)), run_type <> 'scheduled' OR external_trigger,"
                 " (extract(epoch FROM data_interval_start) * 1000000)::bigint,"
                 " (extract(epoch FROM data_interval_end) * 1000000)::bigint FROM dag_run"
                 " WHERE id = $1::bigint AND state IN ('queued', 'running')"
                 " FOR UPDATE SKIP LOCKED",
                 2, plock);
    if (!r)
        goto out;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto out;
    }
    bool dag_locked = db_get_bool(r, 0, 4);
    bool was_queued = !strcmp(PQgetvalue(r, 0, 0), "queued");
    int64_t version_id = db_get_i64(r, 0, 1);
    snprintf(dag_id, sizeof(dag_id), "%s", PQgetvalue(r, 0, 2));
    snprintf(rid, sizeof(rid), "%s", PQgetvalue(r, 0, 3));
    ps.run_manual = db_get_bool(r, 0, 5);
    ps.interval_start = PQgetisnull(r, 0, 6) ? TS_NONE : db_get_i64(r, 0, 6);
    ps.interval_end = PQgetisnull(r, 0, 7) ? TS_NONE : db_get_i64(r, 0, 7);
    PQclear(r);
    r = NULL;

    bool dberr;
    cache_entry_t *ver = cache_get(cache, db, version_id, &dberr);
    if (!ver) {
        rc = dberr ? -1 : 0;
        goto out;
    }
    const dag_t *dag = ver->dag;

    if (was_queued) {
        int may = start_allowed(db, dag_id, idbuf);
        if (may < 0)
            goto out;
        if (may == 0) {
            log_debug("dag run stays queued dag_id=%s run_id=%s", dag_id, rid);
            rc = 0; /* res->planned stays false */
            goto out;
        }
        char tmo[24];
        snprintf(tmo, sizeof(tmo), "%d", dag->dagrun_timeout_sec > 0 ? dag->dagrun_timeout_sec : 0);
        const char *ps2[] = {idbuf, tmo};
        if (db_exec(db, "planrun_start",
                    "UPDATE dag_run SET state = 'running', start_date = coalesce(start_date, now()),"
                    " timeout_at = CASE WHEN $2::int > 0 THEN coalesce(start_date, now())"
                    "   + make_interval(secs => $2::int) END"
                    " WHERE id = $1::bigint",
                    2, ps2) < 0)
            goto out;
        log_debug("dag run running dag_id=%s run_id=%s", dag_id, rid);
    }

    r = db_query(db, "planrun_tis",
                 "SELECT id, task_id, state,"
                 " state IN ('up_for_retry', 'up_for_reschedule')"
                 "   AND coalesce(next_try_at <= now(), true), map_index"
                 " FROM task_instance WHERE dag_run_id = $1::bigint ORDER BY task_id, map_index",
                 1, p1);
    if (!r)
        goto out;
    size_t n = (size_t)PQntuples(r);
    rows = calloc(n + 1, sizeof(*rows));
    ps.first = malloc((dag->n_tasks + 1) * sizeof(*ps.first));
    ps.next = malloc((n + 1) * sizeof(*ps.next));
    ps.expanded = calloc(dag->n_tasks + 1, sizeof(*ps.expanded));
    ps.forced_skip = calloc(dag->n_tasks + 1, sizeof(*ps.forced_skip));
    settle_state = calloc(n + 1, sizeof(*settle_state));
    removed = calloc(n + 1, sizeof(*removed));
    resched = calloc(n + 1, sizeof(*resched));
    for (int k = 0; k < 4; k++)
        lists[k] = calloc(n + 1, sizeof(int64_t));
    if (!rows || !ps.first || !ps.next || !ps.expanded || !ps.forced_skip || !settle_state ||
        !removed || !resched || !lists[0] || !lists[1] || !lists[2] || !lists[3]) {
        log_error("out of memory planning run_id=%s", rid);
        goto out;
    }
    ps.db = db;
    ps.ver = ver;
    ps.dag = dag;
    ps.idbuf = idbuf;
    ps.dag_id = dag_id;
    ps.rid = rid;
    ps.rows = rows;
    ps.n = n;
    ps.max_map_length = planrun_cache_max_map_length(cache);
    for (size_t t = 0; t < dag->n_tasks; t++)
        ps.first[t] = -1;
    int *last = calloc(dag->n_tasks + 1, sizeof(*last));
    if (!last)
        goto out;
    for (size_t i = 0; i < n; i++) {
        rows[i].id = db_get_i64(r, (int)i, 0);
        if (planner_state_parse(PQgetvalue(r, (int)i, 2), &rows[i].state) < 0)
            rows[i].state = TI_NONE;
        rows[i].retry_due = db_get_bool(r, (int)i, 3);
        rows[i].map_index = db_get_int(r, (int)i, 4);
        rows[i].task = entry_find(ver, PQgetvalue(r, (int)i, 1));
        ps.next[i] = -1;
        if (rows[i].task >= 0) {
            int t = rows[i].task;
            if (ps.first[t] < 0)
                ps.first[t] = (int)i;
            else
                ps.next[last[t]] = (int)i;
            last[t] = (int)i;
        } else if (rows[i].state == TI_NONE || rows[i].state == TI_SCHEDULED ||
                   rows[i].state == TI_UP_FOR_RETRY || rows[i].state == TI_UP_FOR_RESCHEDULE) {
            /* Not in the run's version: never runs (see planrun.h). */
            removed[n_removed++] = rows[i].id;
            rows[i].state = TI_REMOVED;
            log_info("task instance removed dag_id=%s run_id=%s task_id=%s", dag_id, rid,
                     PQgetvalue(r, (int)i, 1));
            continue;
        }
        if (rows[i].retry_due) {
            if (rows[i].state == TI_UP_FOR_RESCHEDULE)
                resched[n_resched++] = rows[i].id;
            else
                lists[1][nl[1]++] = rows[i].id;
            rows[i].state = TI_SCHEDULED;
            log_debug("retry or reschedule due dag_id=%s run_id=%s task_id=%s", dag_id, rid,
                      PQgetvalue(r, (int)i, 1));
        }
    }
    free(last);
    PQclear(r);
    r = NULL;
    if (load_skips(&ps) < 0)
        goto out;

    /* Topological order: upstream states are final for this pass before their downstream. */
    for (size_t t = 0; t < dag->n_tasks; t++) {
        const dag_task_t *task = &dag->tasks[t];
        bool waiting = false;
        for (int ri = ps.first[t]; ri >= 0 && !waiting; ri = ps.next[ri])
            waiting = rows[ri].state == TI_NONE;
        if (!waiting)
            continue;
        ti_state_t v;
        if (ps.forced_skip[t]) {
            v = TI_SKIPPED; /* a branch not taken, as Airflow's NotPreviouslySkippedDep */
        } else {
            planner_upstream_t up;
            planner_upstream_init(&up);
            for (size_t u = 0; u < task->n_upstream; u++) {
                int ut = entry_find(ver, task->upstream[u]);
                int ur = ut >= 0 ? ps.first[ut] : -1;
                if (ur < 0)
                    planner_upstream_add(&up, TI_REMOVED);
                for (; ur >= 0; ur = ps.next[ur])
                    planner_upstream_add(&up, rows[ur].state);
                for (size_t k = 0; ut >= 0 && k < ps.expanded[ut]; k++)
                    planner_upstream_add(&up, TI_SCHEDULED);
            }
            v = planner_decide(task->trigger_rule, &up);
        }
        if (v == TI_NONE)
            continue;
        if (v == TI_SCHEDULED && task->depends_on_past) {
            int ok = past_allows(&ps, (int)t);
            if (ok < 0)
                goto out;
            if (ok == 0) {
                log_debug("waiting on the previous run (depends_on_past) dag_id=%s run_id=%s"
                          " task_id=%s", dag_id, rid, task->task_id);
                continue;
            }
        }
        for (int ri = ps.first[t]; ri >= 0; ri = ps.next[ri]) {
            if (rows[ri].state != TI_NONE)
                continue;
            ti_state_t rv = v;
            if (rv == TI_SCHEDULED && task->expand && rows[ri].map_index < 0) {
                char err[512];
                size_t count = 0;
                int mrc = map_length(&ps, (int)t, &count, err, sizeof(err));
                if (mrc < 0)
                    goto out;
                if (mrc > 0) {
                    log_warn("task cannot be mapped dag_id=%s run_id=%s task_id=%s error=\"%s\"",
                             dag_id, rid, task->task_id, err);
                    rv = TI_FAILED;
                } else if (count == 0) {
                    rv = TI_SKIPPED; /* Airflow: a zero-length map skips the task */
                } else {
                    int64_t *grown = realloc(mapped_ids, (n_mapped + count) * sizeof(*grown));
                    if (!grown)
                        goto out;
                    mapped_ids = grown;
                    if (expand_row(&ps, (int)t, ri, count, mapped_ids, &n_mapped) < 0)
                        goto out;
                    rows[ri].state = TI_SCHEDULED;
                    rows[ri].map_index = 0;
                    ps.expanded[t] += count - 1;
                    res->n_scheduled += count;
                    continue;
                }
            }
            if (rv == TI_SCHEDULED && operator_runs(task->op) == OPERATOR_RUNS_PLANNER) {
                if (task->op == DAG_OP_LATEST_ONLY && decide_latest_only(&ps, (int)t, rows[ri].id) < 0)
                    goto out;
                rv = TI_SUCCESS;
                lists[2][nl[2]++] = rows[ri].id;
            } else if (rv == TI_SCHEDULED) {
                lists[0][nl[0]++] = rows[ri].id;
            } else {
                settle_state[nl[3]] = rv;
                lists[3][nl[3]++] = rows[ri].id;
            }
            rows[ri].state = rv;
        }
        log_debug("task decided dag_id=%s run_id=%s task_id=%s state=%s", dag_id, rid,
                  task->task_id, planner_state_name(v));
    }
    if (schedule_ids(db, ver, rows, n, lists[0], nl[0], false) < 0 ||
        schedule_ids(db, ver, rows, n, lists[1], nl[1], true) < 0 ||
        schedule_ids_from(db, ver, rows, n, resched, n_resched, "up_for_reschedule") < 0 ||
        update_ids(db, "planrun_empty",
                   "UPDATE task_instance SET state = 'success', start_date = now(),"
                   " end_date = now(), duration = 0, updated_at = now()"
                   " WHERE id = ANY($1::bigint[]) AND state = 'none'",
                   lists[2], nl[2], NULL) < 0 ||
        update_ids(db, "planrun_removed",
                   "UPDATE task_instance SET state = 'removed', updated_at = now()"
                   " WHERE id = ANY($1::bigint[])"
                   " AND state IN ('none', 'scheduled', 'up_for_retry', 'up_for_reschedule')",
                   removed, n_removed, NULL) < 0)
        goto out;
    /* skipped, upstream_failed and failed (a task that cannot be mapped), one statement each. */
    for (int pass = 0; pass < 3; pass++) {
        ti_state_t want = pass == 0 ? TI_SKIPPED : pass == 1 ? TI_UPSTREAM_FAILED : TI_FAILED;
        size_t m = 0;
        for (size_t i = 0; i < nl[3]; i++)
            if (settle_state[i] == want)
                lists[0][m++] = lists[3][i]; /* lists[0] is written already: reuse it */
        if (update_ids(db, "planrun_settle",
                       "UPDATE task_instance SET state = $2, start_date = coalesce(start_date, now()),"
                       " end_date = now(), updated_at = now()"
                       " WHERE id = ANY($1::bigint[]) AND state = 'none'",
                       lists[0], m, planner_state_name(want)) < 0)
            goto out;
    }
    res->n_scheduled += nl[0] + nl[1] + n_resched;
    if (queue_ready) {
        /* Every ready row of the run: made ready now, or left 'scheduled'
         * earlier by the limit (lists[0] was reused above, gather again),
         * and the instances a mapping added. */
        size_t m = 0;
        int64_t *ready = calloc(n + n_mapped + 1, sizeof(*ready));
        if (!ready)
            goto out;
        for (size_t i = 0; i < n; i++)
            if (rows[i].state == TI_SCHEDULED)
                ready[m++] = rows[i].id;
        for (size_t i = 0; i < n_mapped; i++)
            ready[m++] = mapped_ids[i];
        if (m > 0 && dag_locked && queue_ready_ids(db, dag_id, ready, m, res) < 0) {
            free(ready);
            goto out;
        }
        free(ready);
        res->n_left = m - res->n_queued;
        for (size_t k = 0; k < res->n_queued; k++)
            log_debug("queued by the mini-scheduler dag_id=%s run_id=%s ti_id=%" PRId64, dag_id,
                      rid, res->queued[k].ti_id);
    }

    size_t counts[TI_STATE_COUNT] = {0}, leaves[TI_STATE_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        counts[rows[i].state]++;
        if (rows[i].task >= 0 && dag->tasks[rows[i].task].n_downstream == 0)
            leaves[rows[i].state]++;
    }
    counts[TI_SCHEDULED] += n_mapped; /* not final: keeps the run running */
    run_verdict_t verdict = planner_run_verdict_leaves(counts, leaves);
    if (verdict != RUN_KEEP_RUNNING) {
        const char *p2[] = {idbuf, verdict == RUN_SUCCESS ? "success" : "failed"};
        if (db_exec(db, "planrun_finish",
                    "UPDATE dag_run SET state = $2, end_date = now(),"
                    " last_scheduling_decision = now() WHERE id = $1::bigint",
                    2, p2) < 0)
            goto out;
        res->finished = true;
        if (verdict == RUN_FAILED &&
            pause_if_failing(db, dag_id, dag->max_consecutive_failed_dag_runs) < 0)
            goto out;
    } else if (db_exec(db, "planrun_touch",
                       "UPDATE dag_run SET last_scheduling_decision = now() WHERE id = $1::bigint",
                       1, p1) < 0) {
        goto out;
    }
    res->planned = true;
    if (was_queued)
        log_info("dag run started dag_id=%s run_id=%s", dag_id, rid);
    if (res->finished)
        log_info("dag run finished dag_id=%s run_id=%s state=%s", dag_id, rid,
                 verdict == RUN_SUCCESS ? "success" : "failed");
    rc = 0;
out:
    PQclear(r);
    if (rc < 0) {
        planrun_result_free(res);
        res->planned = res->finished = false;
    }
    free(rows);
    free(ps.first);
    free(ps.next);
    free(ps.expanded);
    free(ps.forced_skip);
    pass_free_prev(&ps);
    free(settle_state);
    free(removed);
    free(resched);
    free(mapped_ids);
    for (int k = 0; k < 4; k++)
        free(lists[k]);
    return rc;
}

int planrun_list_live(db_t *db, size_t max, int64_t **ids, size_t *n)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *p[] = {lim};
    *ids = NULL;
    *n = 0;
    PGresult *r = db_query(db, "planrun_live",
                           "SELECT id FROM dag_run WHERE state IN ('queued', 'running')"
                           " ORDER BY id LIMIT $1::bigint",
                           1, p);
    if (!r)
        return -1;
    size_t rows = (size_t)PQntuples(r);
    *ids = calloc(rows + 1, sizeof(**ids));
    if (!*ids) {
        PQclear(r);
        return -1;
    }
    for (size_t i = 0; i < rows; i++)
        (*ids)[i] = db_get_i64(r, (int)i, 0);
    *n = rows;
    PQclear(r);
    return 0;
}
