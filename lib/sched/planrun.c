/*
 * planrun.c - see planrun.h.
 *
 * Moved here from the scheduler so that workers plan with the same code
 * (the mini-scheduler, see planrun.h). A run is planned from two reads (the
 * run row, locked, and its task instances) and a handful of set-based
 * writes (one UPDATE per target state, WHERE id = ANY($1)), whatever the
 * number of tasks. Tasks are visited in the version's topological order
 * with the new states kept in memory, so a chain of empty tasks, or a
 * failure cascading down as upstream_failed, settles in one pass.
 *
 * planrun_plan_tx runs in phases over one pass_t: lock the run, find its
 * version, start it if it was queued, load its task instances, decide
 * (model/planner.h), apply the decisions, queue the ready tasks, settle the
 * run. The decisions are here; every statement is in store/runplan.c.
 *
 * The run's start and end record Airflow's dagrun.* metrics (schedule
 * delay, duration by state, first task scheduling delay) in the process
 * that plans them: the scheduler, or the worker whose mini-scheduler ends
 * the run after its last task. They are recorded before the caller's
 * commit, from values the start and finish statements return.
 */
#include "sched/planrun.h"
#include "core/pgarray.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "model/cron.h"
#include "model/dag.h"
#include "model/operator.h"
#include "model/planner.h"
#include "store/pools.h"
#include "store/runplan.h"
#include "store/xcom.h"

static int ctx_max_map_length(const planrun_ctx_t *ctx)
{
    return ctx->max_map_length > 0 ? ctx->max_map_length : OPERATOR_MAX_MAP_LENGTH_DEFAULT;
}

void planrun_result_free(planrun_result_t *res)
{
    if (!res)
        return;
    free(res->queued);
    res->queued = NULL;
    res->n_queued = 0;
}

/* ---- one pass over a run ------------------------------------------------ */

typedef struct ti_row {
    int64_t id;
    ti_state_t state;
    bool retry_due; /* up_for_retry or up_for_reschedule whose time has come */
    int map_index;
    int task; /* index in dag->tasks, -1 if the version has no such task */
} ti_row_t;

/* A list of task instance ids, with room for every row of the run. */
typedef struct idlist {
    int64_t *ids;
    size_t n;
} idlist_t;

/* What a pass knows of its run, and what it decided. */
typedef struct pass {
    db_t *db;
    dagver_t *ver;
    const dag_t *dag;
    int64_t run_id;
    runplan_run_t run; /* dag_id, run_id, interval, manual, dag_locked, queued */
    const char *dag_id, *rid;
    int max_map_length;
    runplan_tis_t tis; /* the rows as read (their task ids) */
    ti_row_t *rows;
    size_t n;
    int *first;        /* per task: index of its first row, -1 = none */
    int *next;         /* per row: next row of the same task, -1 = last */
    size_t *expanded;  /* per task: instances created this pass (counted as scheduled) */
    bool *forced_skip; /* per task: skipped by a branch, short_circuit or latest_only */
    bool prev_loaded;  /* depends_on_past: the previous run's states, read once */
    runplan_pairs_t prev;
    /* The decisions, applied together (apply_decisions). */
    idlist_t sched, retry, resched, empty, removed, settle;
    ti_state_t *settle_state; /* per settle entry */
    int64_t *mapped;          /* rows a mapping added ('scheduled') */
    size_t n_mapped;
    planrun_result_t *res;
} pass_t;

static void pass_free(pass_t *ps)
{
    runplan_tis_free(&ps->tis);
    runplan_pairs_free(&ps->prev);
    free(ps->rows);
    free(ps->first);
    free(ps->next);
    free(ps->expanded);
    free(ps->forced_skip);
    free(ps->sched.ids);
    free(ps->retry.ids);
    free(ps->resched.ids);
    free(ps->empty.ids);
    free(ps->removed.ids);
    free(ps->settle.ids);
    free(ps->settle_state);
    free(ps->mapped);
}

/* Whether task index d is followed by a skipmixin list (its id or one of its groups named). */
static bool followed(const dag_t *dag, int d, const cJSON *list)
{
    const cJSON *it;
    const dag_task_t *t = &dag->tasks[d];
    cJSON_ArrayForEach(it, list)
    {
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
        int d = dagver_task_index(ps->ver, task->downstream[k]);
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
        const cJSON *ign =
            task->args
                ? cJSON_GetObjectItemCaseSensitive(task->args, "ignore_downstream_trigger_rules")
                : NULL;
        if (!cJSON_IsFalse(ign)) {
            skip_descendants(ps, u);
            return;
        }
    }
    for (size_t k = 0; k < task->n_downstream; k++) {
        int d = dagver_task_index(ps->ver, task->downstream[k]);
        if (d >= 0 && !followed(ps->dag, d, list))
            ps->forced_skip[d] = true;
    }
}

/* Reads the skipmixin XComs of the run's finished branching tasks. 0 or a negative code. */
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
        return UPDRAFT_OK;
    runplan_pairs_t x;
    int rc = runplan_load_skipmixins(ps->db, ps->run_id, &x);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < x.n; i++) {
        int u = dagver_task_index(ps->ver, x.items[i].task_id);
        if (u < 0)
            continue;
        const char *text = x.items[i].text;
        cJSON *v = cJSON_ParseWithLengthOpts(text, strlen(text) + 1, NULL, 1);
        if (v)
            apply_skipmixin(ps, u, v);
        cJSON_Delete(v);
    }
    runplan_pairs_free(&x);
    return UPDRAFT_OK;
}

/*
 * Whether the run is the latest for latest_only: triggered by hand, or now
 * lies in (its data interval's end, the next interval's end], as Airflow's
 * LatestOnlyOperator. A schedule that cannot be read counts as latest.
 */
static bool run_is_latest(const pass_t *ps)
{
    const dag_t *dag = ps->dag;
    bool latest = true;
    if (ps->run.manual || !dag->schedule || ps->run.interval_end == TS_NONE)
        return true;
    schedule_t sc;
    schedule_tz_t *tz = NULL;
    char err[256];
    ts_us_t ns, ne;
    if (schedule_parse(dag->schedule, &sc, err, sizeof(err)) == 0 &&
        schedule_tz_load(dag->timezone ? dag->timezone : "UTC", &tz, err, sizeof(err)) == 0) {
        sc.tz = tz;
        if (schedule_following_interval(&sc, ps->run.interval_start, ps->run.interval_end, &ns,
                                        &ne) == 1) {
            ts_us_t now = ts_now();
            latest = ps->run.interval_end < now && now <= ne;
        }
        schedule_tz_free(tz);
    }
    return latest;
}

/*
 * latest_only, decided here (it runs nothing): a run that is the latest
 * follows every branch, another none. Writes the skipmixin XCom and
 * applies it. 0 or a negative code.
 */
static int decide_latest_only(pass_t *ps, int t, int64_t ti_id)
{
    bool latest = run_is_latest(ps);
    cJSON *v = cJSON_CreateObject(), *list = v ? cJSON_AddArrayToObject(v, "followed") : NULL;
    const dag_task_t *task = &ps->dag->tasks[t];
    for (size_t k = 0; latest && list && k < task->n_downstream; k++)
        cJSON_AddItemToArray(list, cJSON_CreateString(task->downstream[k]));
    char *text = list ? cJSON_PrintUnformatted(v) : NULL;
    if (!text) {
        cJSON_Delete(v);
        return UPDRAFT_ENOMEM;
    }
    int rc = runplan_write_skipmixin(ps->db, ti_id, text);
    free(text);
    if (rc == 0) {
        apply_skipmixin(ps, t, v);
        log_info("latest_only dag_id=%s run_id=%s task_id=%s latest=%s", ps->dag_id, ps->rid,
                 task->task_id, latest ? "true" : "false");
    }
    cJSON_Delete(v);
    return rc;
}

/*
 * depends_on_past (and wait_for_downstream): 1 when task t may run in this
 * run, as Airflow's PrevDagrunDep: the same task's instances in the
 * previous run (by logical date) are success or skipped (absent: the task
 * is new, or this is the first run), and with wait_for_downstream so are
 * its direct downstream tasks' there. 0 no, negative on error.
 */
static int past_allows(pass_t *ps, int t)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    if (!ps->prev_loaded) {
        int rc = runplan_load_previous(ps->db, ps->run_id, &ps->prev);
        if (rc < 0)
            return rc;
        ps->prev_loaded = true;
    }
    for (size_t i = 0; i < ps->prev.n; i++) {
        const char *prev_task = ps->prev.items[i].task_id;
        bool watched = strcmp(prev_task, task->task_id) == 0;
        for (size_t k = 0; !watched && task->wait_for_downstream && k < task->n_downstream; k++)
            watched = strcmp(prev_task, task->downstream[k]) == 0;
        ti_state_t st;
        if (planner_state_parse(ps->prev.items[i].text, &st) < 0)
            st = TI_NONE;
        if (watched && st != TI_SUCCESS && st != TI_SKIPPED && st != TI_REMOVED)
            return 0;
    }
    return 1;
}

/*
 * The length of one expand value of a task: a literal list's, or that of
 * the upstream's return_value XCom it references (a list, or a mapping's
 * items). 0 with *len, 1 when it cannot be mapped (why in err), negative
 * on error.
 */
static int expand_value_length(pass_t *ps, const cJSON *it, size_t *len, char *err, size_t errlen)
{
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "xcom_task");
    if (cJSON_IsArray(it)) {
        *len = (size_t)cJSON_GetArraySize(it);
        return 0;
    }
    if (!cJSON_IsString(ref)) {
        snprintf(err, errlen, "expand '%s' is neither a list nor an XCom reference",
                 it->string ? it->string : "?");
        return 1;
    }
    char *text = NULL;
    int rc = xcom_map_source(ps->db, ps->run_id, ref->valuestring, &text);
    if (rc < 0 && rc != UPDRAFT_ENOTFOUND)
        return rc;
    cJSON *v = text ? cJSON_ParseWithLengthOpts(text, strlen(text) + 1, NULL, 1) : NULL;
    free(text);
    cJSON *val = xcom_mappable(v);
    if (!val) {
        snprintf(err, errlen,
                 "cannot expand over '%s': task '%s' pushed %s as return_value, not a "
                 "list or a mapping",
                 it->string, ref->valuestring, v ? "a value" : "nothing");
        cJSON_Delete(v);
        return 1;
    }
    *len = (size_t)cJSON_GetArraySize(val);
    if (val != v)
        cJSON_Delete(val);
    cJSON_Delete(v);
    return 0;
}

/*
 * The number of instances mapped task t gets: the product of its expand
 * values' lengths. Returns 0 with *n set, 1 when the task cannot be mapped
 * (why in err: it fails), negative on a database error.
 */
static int map_length(pass_t *ps, int t, size_t *n, char *err, size_t errlen)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    const cJSON *it;
    size_t total = 1;
    cJSON_ArrayForEach(it, task->expand)
    {
        size_t len = 0;
        int rc = expand_value_length(ps, it, &len, err, errlen);
        if (rc != 0)
            return rc;
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
        snprintf(err, errlen,
                 "expanding would create more than %d task instances "
                 "(core.max_map_length)",
                 ps->max_map_length);
        return 1;
    }
    *n = total;
    return 0;
}

/*
 * Expands mapped task instance row ri into n instances (n >= 1): the row
 * becomes map_index 0 and rows 1..n-1 are added, all 'scheduled' (the
 * per-task limits copied as apply_decisions does). 0 or a negative code.
 */
static int expand_row(pass_t *ps, int t, int ri, size_t n)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    int64_t *grown = realloc(ps->mapped, (ps->n_mapped + n) * sizeof(*grown));
    if (!grown)
        return UPDRAFT_ENOMEM;
    ps->mapped = grown;
    int rc = runplan_expand(ps->db, ps->rows[ri].id, n, task->max_active_tis_per_dag,
                            task->max_active_tis_per_dagrun, ps->mapped, &ps->n_mapped);
    if (rc < 0)
        return rc;
    log_info("task mapped dag_id=%s run_id=%s task_id=%s instances=%zu", ps->dag_id, ps->rid,
             task->task_id, n);
    return UPDRAFT_OK;
}

/* ---- the phases of planrun_plan_tx -------------------------------------- */

/*
 * A queued run starts when runplan_may_start allows it, with its timeout
 * from its version. *started false: it stays queued. 0 or a negative code.
 */
/* a - b in seconds, at least 0 (a clock step must not record a negative delay) */
static double delay_sec(ts_us_t a, ts_us_t b)
{
    return a > b ? (double)(a - b) / 1e6 : 0.0;
}

static int start_if_allowed(pass_t *ps, bool *started)
{
    *started = false;
    bool may = false;
    int rc = runplan_may_start(ps->db, ps->dag_id, ps->run_id, &may);
    if (rc < 0)
        return rc;
    if (!may) {
        log_debug("dag run stays queued dag_id=%s run_id=%s", ps->dag_id, ps->rid);
        return UPDRAFT_OK;
    }
    ts_us_t start = TS_NONE;
    rc = runplan_start(ps->db, ps->run_id, ps->dag->dagrun_timeout_sec, &start);
    if (rc < 0)
        return rc;
    /* Airflow's dagrun.schedule_delay: a scheduled run's start against the
     * end of its data interval (when it was due), on its first start. */
    if (!ps->run.manual && start != TS_NONE && ps->run.interval_end != TS_NONE)
        metric_observe(M_DAGRUN_SCHEDULE_DELAY, delay_sec(start, ps->run.interval_end), ps->dag_id,
                       NULL, NULL);
    log_debug("dag run running dag_id=%s run_id=%s", ps->dag_id, ps->rid);
    *started = true;
    return UPDRAFT_OK;
}

static int alloc_pass(pass_t *ps)
{
    size_t n = ps->n, nt = ps->dag->n_tasks;
    ps->rows = calloc(n + 1, sizeof(*ps->rows));
    ps->first = malloc((nt + 1) * sizeof(*ps->first));
    ps->next = malloc((n + 1) * sizeof(*ps->next));
    ps->expanded = calloc(nt + 1, sizeof(*ps->expanded));
    ps->forced_skip = calloc(nt + 1, sizeof(*ps->forced_skip));
    ps->settle_state = calloc(n + 1, sizeof(*ps->settle_state));
    idlist_t *lists[] = {&ps->sched, &ps->retry,   &ps->resched,
                         &ps->empty, &ps->removed, &ps->settle};
    bool ok =
        ps->rows && ps->first && ps->next && ps->expanded && ps->forced_skip && ps->settle_state;
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
        ok = (lists[k]->ids = calloc(n + 1, sizeof(int64_t))) && ok;
    if (!ok) {
        log_error("out of memory planning run_id=%s", ps->rid);
        return UPDRAFT_ENOMEM;
    }
    for (size_t t = 0; t < nt; t++)
        ps->first[t] = -1;
    return UPDRAFT_OK;
}

/*
 * Reads the run's task instances into rows, chained per task (first,
 * next). A row whose task is not in the version and that has not started
 * is removed; a retry or reschedule whose time has come is made ready.
 * 0 or a negative code.
 */
static int load_rows(pass_t *ps)
{
    int rc = runplan_load_tis(ps->db, ps->run_id, &ps->tis);
    if (rc < 0)
        return rc;
    ps->n = ps->tis.n;
    if ((rc = alloc_pass(ps)) < 0)
        return rc;
    int *last = calloc(ps->dag->n_tasks + 1, sizeof(*last));
    if (!last)
        return UPDRAFT_ENOMEM;
    for (size_t i = 0; i < ps->n; i++) {
        const runplan_ti_t *ti = &ps->tis.items[i];
        ti_row_t *row = &ps->rows[i];
        *row = (ti_row_t){ti->id, ti->state, ti->retry_due, ti->map_index,
                          dagver_task_index(ps->ver, ti->task_id)};
        ps->next[i] = -1;
        if (row->task >= 0) {
            int t = row->task;
            if (ps->first[t] < 0)
                ps->first[t] = (int)i;
            else
                ps->next[last[t]] = (int)i;
            last[t] = (int)i;
        } else if (row->state == TI_NONE || row->state == TI_SCHEDULED ||
                   row->state == TI_UP_FOR_RETRY || row->state == TI_UP_FOR_RESCHEDULE) {
            /* Not in the run's version: never runs (see planrun.h). */
            ps->removed.ids[ps->removed.n++] = row->id;
            row->state = TI_REMOVED;
            log_info("task instance removed dag_id=%s run_id=%s task_id=%s", ps->dag_id, ps->rid,
                     ti->task_id);
            continue;
        }
        if (row->retry_due) {
            idlist_t *l = row->state == TI_UP_FOR_RESCHEDULE ? &ps->resched : &ps->retry;
            l->ids[l->n++] = row->id;
            row->state = TI_SCHEDULED;
            log_debug("retry or reschedule due dag_id=%s run_id=%s task_id=%s", ps->dag_id, ps->rid,
                      ti->task_id);
        }
    }
    free(last);
    return UPDRAFT_OK;
}

/* What trigger rule and branches say of waiting task t (TI_NONE: keep waiting). */
static ti_state_t decide_task(const pass_t *ps, size_t t)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    if (ps->forced_skip[t])
        return TI_SKIPPED; /* a branch not taken, as Airflow's NotPreviouslySkippedDep */
    planner_upstream_t up;
    planner_upstream_init(&up);
    for (size_t u = 0; u < task->n_upstream; u++) {
        int ut = dagver_task_index(ps->ver, task->upstream[u]);
        int ur = ut >= 0 ? ps->first[ut] : -1;
        if (ur < 0)
            planner_upstream_add(&up, TI_REMOVED);
        for (; ur >= 0; ur = ps->next[ur])
            planner_upstream_add(&up, ps->rows[ur].state);
        for (size_t k = 0; ut >= 0 && k < ps->expanded[ut]; k++)
            planner_upstream_add(&up, TI_SCHEDULED);
    }
    return planner_decide(task->trigger_rule, &up);
}

/*
 * A mapped row made ready: expanded into its instances, or failed (cannot
 * be mapped) or skipped (a zero-length map, as Airflow). *rv becomes the
 * row's state; *expanded: the row was expanded (and is done with). 0 or a
 * negative code.
 */
static int map_row(pass_t *ps, size_t t, int ri, ti_state_t *rv, bool *expanded)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    char err[512];
    size_t count = 0;
    *expanded = false;
    int mrc = map_length(ps, (int)t, &count, err, sizeof(err));
    if (mrc < 0)
        return mrc;
    if (mrc > 0) {
        log_warn("task cannot be mapped dag_id=%s run_id=%s task_id=%s error=\"%s\"", ps->dag_id,
                 ps->rid, task->task_id, err);
        *rv = TI_FAILED;
        return UPDRAFT_OK;
    }
    if (count == 0) {
        *rv = TI_SKIPPED;
        return UPDRAFT_OK;
    }
    int rc = expand_row(ps, (int)t, ri, count);
    if (rc < 0)
        return rc;
    ps->rows[ri].state = TI_SCHEDULED;
    ps->rows[ri].map_index = 0;
    ps->expanded[t] += count - 1;
    ps->res->n_scheduled += count;
    *expanded = true;
    return UPDRAFT_OK;
}

/* Gives decision v to the waiting rows of task t, into the lists applied later. */
static int decide_rows(pass_t *ps, size_t t, ti_state_t v)
{
    const dag_task_t *task = &ps->dag->tasks[t];
    for (int ri = ps->first[t]; ri >= 0; ri = ps->next[ri]) {
        if (ps->rows[ri].state != TI_NONE)
            continue;
        ti_state_t rv = v;
        if (rv == TI_SCHEDULED && task->expand && ps->rows[ri].map_index < 0) {
            bool expanded;
            int rc = map_row(ps, t, ri, &rv, &expanded);
            if (rc < 0)
                return rc;
            if (expanded)
                continue;
        }
        if (rv == TI_SCHEDULED && operator_runs(task->op) == OPERATOR_RUNS_PLANNER) {
            if (task->op == DAG_OP_LATEST_ONLY) {
                int rc = decide_latest_only(ps, (int)t, ps->rows[ri].id);
                if (rc < 0)
                    return rc;
            }
            rv = TI_SUCCESS;
            ps->empty.ids[ps->empty.n++] = ps->rows[ri].id;
        } else if (rv == TI_SCHEDULED) {
            ps->sched.ids[ps->sched.n++] = ps->rows[ri].id;
        } else {
            ps->settle_state[ps->settle.n] = rv;
            ps->settle.ids[ps->settle.n++] = ps->rows[ri].id;
        }
        ps->rows[ri].state = rv;
    }
    return UPDRAFT_OK;
}

/* Decides every waiting task, in topological order: upstream states are final first. */
static int decide(pass_t *ps)
{
    for (size_t t = 0; t < ps->dag->n_tasks; t++) {
        const dag_task_t *task = &ps->dag->tasks[t];
        bool waiting = false;
        for (int ri = ps->first[t]; ri >= 0 && !waiting; ri = ps->next[ri])
            waiting = ps->rows[ri].state == TI_NONE;
        if (!waiting)
            continue;
        ti_state_t v = decide_task(ps, t);
        if (v == TI_NONE)
            continue;
        if (v == TI_SCHEDULED && task->depends_on_past) {
            int ok = past_allows(ps, (int)t);
            if (ok < 0)
                return ok;
            if (ok == 0) {
                log_debug("waiting on the previous run (depends_on_past) dag_id=%s run_id=%s"
                          " task_id=%s",
                          ps->dag_id, ps->rid, task->task_id);
                continue;
            }
        }
        int rc = decide_rows(ps, t, v);
        if (rc < 0)
            return rc;
        log_debug("task decided dag_id=%s run_id=%s task_id=%s state=%s", ps->dag_id, ps->rid,
                  task->task_id, planner_state_name(v));
    }
    return UPDRAFT_OK;
}

/*
 * Makes the ids of l 'scheduled' from state from, copying each task's
 * max_active_tis_per_dag/_per_dagrun onto its row for the queueing
 * statement (pools.h).
 */
static int schedule_list(pass_t *ps, const idlist_t *l, const char *from)
{
    if (l->n == 0)
        return UPDRAFT_OK;
    int *per_dag = calloc(l->n, sizeof(*per_dag)), *per_run = calloc(l->n, sizeof(*per_run));
    int rc = UPDRAFT_ENOMEM;
    if (!per_dag || !per_run)
        goto out;
    /* ids are in rows order (both lists are filled walking rows or tasks),
     * but look each up to stay independent of that. */
    for (size_t i = 0; i < l->n; i++) {
        for (size_t k = 0; k < ps->n; k++) {
            if (ps->rows[k].id != l->ids[i] || ps->rows[k].task < 0)
                continue;
            const dag_task_t *t = &ps->dag->tasks[ps->rows[k].task];
            per_dag[i] = t->max_active_tis_per_dag;
            per_run[i] = t->max_active_tis_per_dagrun;
            break;
        }
    }
    rc = runplan_schedule(ps->db, l->ids, per_dag, per_run, l->n, from);
out:
    free(per_dag);
    free(per_run);
    return rc;
}

/* Writes the decisions: one statement per target state. 0 or a negative code. */
static int apply_decisions(pass_t *ps)
{
    int rc;
    if ((rc = schedule_list(ps, &ps->sched, "none")) < 0 ||
        (rc = schedule_list(ps, &ps->retry, "up_for_retry")) < 0 ||
        (rc = schedule_list(ps, &ps->resched, "up_for_reschedule")) < 0 ||
        (rc = runplan_succeed(ps->db, ps->empty.ids, ps->empty.n)) < 0 ||
        (rc = runplan_remove(ps->db, ps->removed.ids, ps->removed.n)) < 0)
        return rc;
    /* skipped, upstream_failed and failed (a task that cannot be mapped), one statement each. */
    static const ti_state_t final[] = {TI_SKIPPED, TI_UPSTREAM_FAILED, TI_FAILED};
    int64_t *ids = malloc((ps->settle.n + 1) * sizeof(*ids));
    if (!ids)
        return UPDRAFT_ENOMEM;
    for (size_t f = 0; f < sizeof(final) / sizeof(final[0]) && rc == 0; f++) {
        size_t m = 0;
        for (size_t i = 0; i < ps->settle.n; i++)
            if (ps->settle_state[i] == final[f])
                ids[m++] = ps->settle.ids[i];
        rc = runplan_settle(ps->db, ids, m, planner_state_name(final[f]));
    }
    free(ids);
    if (rc == 0)
        ps->res->n_scheduled += ps->sched.n + ps->retry.n + ps->resched.n;
    return rc;
}

/*
 * Moves the ready ids (already 'scheduled' in this transaction) to 'queued',
 * by priority, within the DAG's max_active_tasks. The DAG's advisory lock
 * was taken by the run lock statement, before this statement's snapshot, so
 * the count of active task instances includes every other planner's commit.
 */
static int queue_ids(db_t *db, const char *dag_id, const int64_t *ids, size_t n,
                     planrun_result_t *res)
{
    char *arr = pgarray_int64(ids, n);
    char *dags = NULL;
    const char *one[] = {dag_id};
    if (!arr || !(dags = pgarray_text(one, 1))) {
        free(arr);
        return UPDRAFT_ENOMEM;
    }
    PGresult *r = pools_queue_scheduled(db, dags, arr, (int)n, NULL);
    free(arr);
    free(dags);
    if (!r)
        return UPDRAFT_EDB;
    size_t rows = (size_t)PQntuples(r);
    res->queued = calloc(rows + 1, sizeof(*res->queued));
    if (!res->queued) {
        PQclear(r);
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < rows; i++) {
        planrun_queued_t *q = &res->queued[i];
        q->ti_id = db_get_i64(r, (int)i, 0);
        q->try_number = db_get_int(r, (int)i, 1);
        snprintf(q->queue, sizeof(q->queue), "%s", PQgetvalue(r, (int)i, 2));
    }
    res->n_queued = rows;
    PQclear(r);
    return UPDRAFT_OK;
}

/*
 * queue_ready: every ready row of the run (made ready now, or left
 * 'scheduled' earlier by the limit) and the instances a mapping added go to
 * queue_ids when the DAG's lock was taken; the rest stay 'scheduled'.
 */
static int queue_ready(pass_t *ps)
{
    size_t m = 0;
    int64_t *ready = calloc(ps->n + ps->n_mapped + 1, sizeof(*ready));
    if (!ready)
        return UPDRAFT_ENOMEM;
    for (size_t i = 0; i < ps->n; i++)
        if (ps->rows[i].state == TI_SCHEDULED)
            ready[m++] = ps->rows[i].id;
    for (size_t i = 0; i < ps->n_mapped; i++)
        ready[m++] = ps->mapped[i];
    if (m > 0 && ps->run.dag_locked) {
        int rc = queue_ids(ps->db, ps->dag_id, ready, m, ps->res);
        if (rc < 0) {
            free(ready);
            return rc;
        }
    }
    free(ready);
    ps->res->n_left = m - ps->res->n_queued;
    for (size_t k = 0; k < ps->res->n_queued; k++)
        log_debug("queued by the mini-scheduler dag_id=%s run_id=%s ti_id=%" PRId64, ps->dag_id,
                  ps->rid, ps->res->queued[k].ti_id);
    return UPDRAFT_OK;
}

/*
 * The finished run's metrics, as Airflow's DagRun records them: its
 * duration by final state, and for a scheduled run how late its first task
 * started after the end of its data interval (only when late).
 */
static void record_finish(const pass_t *ps, run_verdict_t verdict, double duration,
                          ts_us_t first_start)
{
    if (duration >= 0)
        metric_observe(verdict == RUN_SUCCESS ? M_DAGRUN_DURATION_SUCCESS
                                              : M_DAGRUN_DURATION_FAILED,
                       duration, ps->dag_id, NULL, NULL);
    if (!ps->run.manual && first_start != TS_NONE && ps->run.interval_end != TS_NONE &&
        first_start > ps->run.interval_end)
        metric_observe(M_DAGRUN_FIRST_TASK_SCHEDULING_DELAY,
                       delay_sec(first_start, ps->run.interval_end), ps->dag_id, NULL, NULL);
}

/*
 * The run's verdict from its leaves (planner_run_verdict_leaves): a final
 * one ends the run (a failure may pause the DAG), else the run is touched.
 */
static int settle_run(pass_t *ps, run_verdict_t *verdict)
{
    size_t counts[TI_STATE_COUNT] = {0}, leaves[TI_STATE_COUNT] = {0};
    for (size_t i = 0; i < ps->n; i++) {
        counts[ps->rows[i].state]++;
        if (ps->rows[i].task >= 0 && ps->dag->tasks[ps->rows[i].task].n_downstream == 0)
            leaves[ps->rows[i].state]++;
    }
    counts[TI_SCHEDULED] += ps->n_mapped; /* not final: keeps the run running */
    *verdict = planner_run_verdict_leaves(counts, leaves);
    if (*verdict == RUN_KEEP_RUNNING)
        return runplan_touch(ps->db, ps->run_id);
    double duration = -1;
    ts_us_t first_start = TS_NONE;
    int rc = runplan_finish(ps->db, ps->run_id, *verdict == RUN_SUCCESS ? "success" : "failed",
                            &duration, &first_start);
    if (rc < 0)
        return rc;
    ps->res->finished = true;
    record_finish(ps, *verdict, duration, first_start);
    if (*verdict != RUN_FAILED)
        return UPDRAFT_OK;
    bool paused = false;
    int n = ps->dag->max_consecutive_failed_dag_runs;
    rc = runplan_pause_if_failing(ps->db, ps->dag_id, n, &paused);
    if (rc == 0 && paused)
        log_warn("dag paused after %d consecutive failed runs dag_id=%s"
                 " (max_consecutive_failed_dag_runs)",
                 n, ps->dag_id);
    return rc;
}

/*
 * The run's version, parsed. NULL with *rc 0 when it cannot be read (logged
 * by the cache: the run is left alone), or with *rc negative on a database
 * error.
 */
static const dag_t *run_version(const planrun_ctx_t *ctx, db_t *db, int64_t version_id,
                                dagver_t **ver, int *rc)
{
    *rc = dagver_get(ctx->versions, db, version_id, ver);
    if (*rc < 0) {
        *rc = *rc == UPDRAFT_EDB ? UPDRAFT_EDB : UPDRAFT_OK;
        return NULL;
    }
    return dagver_dag(*ver);
}

int planrun_plan_tx(db_t *db, const planrun_ctx_t *ctx, int64_t run_id, bool queue,
                    planrun_result_t *res)
{
    pass_t ps = {.db = db, .run_id = run_id, .res = res, .max_map_length = ctx_max_map_length(ctx)};
    run_verdict_t verdict = RUN_KEEP_RUNNING;
    bool started = false;
    int rc;

    memset(res, 0, sizeof(*res));
    /* With queue the DAG's advisory lock is tried in the same round trip;
     * held or not, it is released at the caller's commit. */
    rc = runplan_lock_run(db, run_id, queue, &ps.run);
    if (rc < 0) {
        rc = rc == UPDRAFT_ENOTFOUND ? UPDRAFT_OK : rc; /* not live, or another planner's */
        goto out;
    }
    ps.dag_id = ps.run.dag_id;
    ps.rid = ps.run.run_id;
    if (!(ps.dag = run_version(ctx, db, ps.run.version_id, &ps.ver, &rc)))
        goto out;
    if (ps.run.queued && ((rc = start_if_allowed(&ps, &started)) < 0 || !started))
        goto out; /* res->planned stays false while it stays queued */
    if ((rc = load_rows(&ps)) < 0 || (rc = load_skips(&ps)) < 0 || (rc = decide(&ps)) < 0 ||
        (rc = apply_decisions(&ps)) < 0 || (queue && (rc = queue_ready(&ps)) < 0) ||
        (rc = settle_run(&ps, &verdict)) < 0)
        goto out;
    res->planned = true;
    if (started)
        log_info("dag run started dag_id=%s run_id=%s", ps.dag_id, ps.rid);
    if (res->finished)
        log_info("dag run finished dag_id=%s run_id=%s state=%s", ps.dag_id, ps.rid,
                 verdict == RUN_SUCCESS ? "success" : "failed");
out:
    if (rc < 0) {
        planrun_result_free(res);
        res->planned = res->finished = false;
    }
    pass_free(&ps);
    return rc;
}

int planrun_plan(db_t *db, const planrun_ctx_t *ctx, int64_t run_id, planrun_result_t *res)
{
    int rc;
    if (db_begin(db) < 0) {
        memset(res, 0, sizeof(*res));
        return UPDRAFT_EDB;
    }
    if ((rc = planrun_plan_tx(db, ctx, run_id, false, res)) < 0 || db_commit(db) < 0) {
        db_rollback(db);
        res->planned = res->finished = false;
        return rc < 0 ? rc : UPDRAFT_EDB;
    }
    return UPDRAFT_OK;
}

/* ---- dagrun_timeout ----------------------------------------------------- */

/*
 * Fails one timed-out run in its own transaction. *done: it was failed now
 * (false when it finished meanwhile or a planner holds it: next pass). 0
 * or a negative code (rolled back).
 */
static int time_out_run(db_t *db, const planrun_ctx_t *ctx, int64_t run_id, bool *done)
{
    runplan_run_t run;
    long skipped = 0;
    int rc;
    *done = false;
    if (db_begin(db) < 0)
        return UPDRAFT_EDB;
    rc = runplan_lock_timed_out(db, run_id, &run);
    if (rc == UPDRAFT_ENOTFOUND) {
        if (db_commit(db) < 0) {
            rc = UPDRAFT_EDB;
            goto fail;
        }
        return UPDRAFT_OK;
    }
    if (rc < 0 || (rc = runplan_time_out(db, run_id, &skipped)) < 0)
        goto fail;
    dagver_t *ver = NULL;
    const dag_t *dag = run_version(ctx, db, run.version_id, &ver, &rc);
    if (rc < 0)
        goto fail;
    bool paused = false;
    int n = dag ? dag->max_consecutive_failed_dag_runs : 0;
    if ((rc = runplan_pause_if_failing(db, run.dag_id, n, &paused)) < 0)
        goto fail;
    if (paused)
        log_warn("dag paused after %d consecutive failed runs dag_id=%s"
                 " (max_consecutive_failed_dag_runs)",
                 n, run.dag_id);
    if (db_commit(db) < 0) {
        rc = UPDRAFT_EDB;
        goto fail;
    }
    log_warn("dag run timed out dag_id=%s run_id=%s state=failed tasks_skipped=%ld", run.dag_id,
             run.run_id, skipped);
    *done = true;
    return UPDRAFT_OK;
fail:
    db_rollback(db);
    return rc;
}

int planrun_timeout_due(db_t *db, const planrun_ctx_t *ctx, size_t max, size_t *n_timed_out)
{
    int64_t *ids = NULL;
    size_t n = 0;
    *n_timed_out = 0;
    int rc = runplan_list_timed_out(db, max, &ids, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool done = false;
        rc = time_out_run(db, ctx, ids[i], &done);
        *n_timed_out += done;
    }
    free(ids);
    return rc;
}

int planrun_list_live(db_t *db, size_t max, int64_t **ids, size_t *n)
{
    return runplan_list_live(db, max, ids, n);
}
