/*
 * clear.c - see clear.h.
 *
 * Task selection uses the DAG's latest serialized version, as Airflow
 * clears with the current DAG; max_tries uses the retries of each run's
 * own version. The clear itself is one statement (task instances, then
 * their runs back to 'queued', then one NOTIFY per run for the scheduler),
 * so a reader never sees a cleared task in a finished run. Which rows and
 * states is decided here; the statements are in store/ti_admin.c.
 */
#include "sched/clear.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "store/ti_admin.h"

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

/* The names of the selected tasks (borrowed from dag) in *ids. 0, or negative with err. */
static int selected_ids(const dag_t *dag, const clear_filter_t *f, const char ***ids, size_t *n,
                        char *err, size_t errlen)
{
    bool *sel = calloc(dag->n_tasks + 1, sizeof(bool));
    *ids = calloc(dag->n_tasks + 1, sizeof(**ids));
    *n = 0;
    int rc = UPDRAFT_ENOMEM;
    if (!sel || !*ids) {
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
        rc = UPDRAFT_EINVALID; /* the regex does not compile (or out of memory, said in err) */
        goto out;
    }
    for (size_t i = 0; i < dag->n_tasks; i++)
        if (sel[i])
            (*ids)[(*n)++] = dag->tasks[i].task_id;
    rc = UPDRAFT_OK;
out:
    free(sel);
    return rc;
}

/* Copies the rows found into out. 0 or UPDRAFT_ENOMEM with err. */
static int copy_rows(const ti_admin_tis_t *rows, clear_list_t *out, char *err, size_t errlen)
{
    out->items = calloc(rows->n + 1, sizeof(*out->items));
    if (!out->items) {
        snprintf(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < rows->n; i++) {
        const ti_admin_ti_t *r = &rows->items[i];
        clear_ti_t *t = &out->items[i];
        t->id = r->id;
        t->dag_run_id = r->dag_run_id;
        t->run_id = strdup(r->run_id);
        t->task_id = strdup(r->task_id);
        snprintf(t->state, sizeof(t->state), "%s", r->state);
        t->try_number = r->try_number;
        t->logical_date = r->logical_date;
        out->n = i + 1;
        if (!t->run_id || !t->task_id) {
            snprintf(err, errlen, "out of memory");
            return UPDRAFT_ENOMEM;
        }
    }
    return UPDRAFT_OK;
}

int clear_find(db_t *db, const clear_filter_t *f, clear_list_t *out, char *err, size_t errlen)
{
    dag_t *dag = NULL;
    const char **ids = NULL;
    ti_admin_tis_t rows = {0};
    int rc;

    memset(out, 0, sizeof(*out));
    if (!f->dag_id || !*f->dag_id || strlen(f->dag_id) > DAG_ID_MAX) {
        snprintf(err, errlen, "invalid dag_id");
        return UPDRAFT_EINVALID;
    }
    if ((rc = ti_admin_load_latest_dag(db, f->dag_id, &dag, err, errlen)) < 0)
        return rc;
    ti_admin_filter_t q = {.dag_id = f->dag_id,
                           .start = f->start,
                           .end = f->end,
                           .run_id = f->run_id,
                           .only_failed = f->only_failed,
                           .only_running = f->only_running,
                           .not_state = f->not_state,
                           .limit = CLEAR_MAX_TIS + 1};
    if ((rc = selected_ids(dag, f, &ids, &q.n_task_ids, err, errlen)) < 0)
        goto out;
    q.task_ids = ids;
    if ((rc = ti_admin_find(db, &q, &rows, err, errlen)) < 0)
        goto out;
    if (rows.n > CLEAR_MAX_TIS) {
        snprintf(err, errlen, "more than %d task instances selected: narrow the selection",
                 CLEAR_MAX_TIS);
        rc = UPDRAFT_EINVALID;
        goto out;
    }
    rc = copy_rows(&rows, out, err, errlen);
out:
    if (rc < 0)
        clear_list_free(out);
    ti_admin_tis_free(&rows);
    free(ids);
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
    static const char *const modes[] = {"all", "finished", "keep"};
    long runs = 0, queued = 0;
    *cleared = 0;
    if (l->n == 0)
        return UPDRAFT_OK;
    int64_t *ids = malloc(l->n * sizeof(*ids));
    if (!ids) {
        snprintf(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++)
        ids[i] = l->items[i].id;
    int rc = ti_admin_clear(db, ids, l->n, modes[mode <= CLEAR_RUNS_KEEP ? mode : CLEAR_RUNS_ALL],
                            cleared, &runs, &queued, err, errlen);
    free(ids);
    if (rc == 0)
        log_info("task instances cleared count=%ld runs=%ld runs_queued=%ld", *cleared, runs,
                 queued);
    return rc;
}

/* The task instances of run id and the run itself marked state ("success" or "failed"). */
static int mark_run_final(db_t *db, int64_t id, const char *state, long *n)
{
    int rc =
        !strcmp(state, "success") ? ti_admin_succeed_tis(db, id, n) : ti_admin_fail_tis(db, id, n);
    return rc < 0 ? rc : ti_admin_set_run_state(db, id, state);
}

int clear_mark_run(db_t *db, const char *dag_id, const char *run_id, const char *state, char *err,
                   size_t errlen)
{
    bool success = state && !strcmp(state, "success");
    bool queued = state && !strcmp(state, "queued");
    int64_t id = 0;
    long n = 0;
    int rc;
    if (!state || (!success && !queued && strcmp(state, "failed") != 0)) {
        snprintf(err, errlen, "state must be 'success', 'failed' or 'queued'");
        return UPDRAFT_EINVALID;
    }
    if (db_begin(db) < 0)
        goto dberr;
    rc = ti_admin_lock_run(db, dag_id, run_id, &id);
    if (rc == UPDRAFT_ENOTFOUND) {
        snprintf(err, errlen, "dag run '%s' of dag '%s' not found", run_id, dag_id);
        db_rollback(db);
        return rc;
    }
    /* Airflow 2's set_dag_run_state_to_queued changes the run only. */
    if (rc < 0 || (queued ? ti_admin_requeue_run(db, id) : mark_run_final(db, id, state, &n)) < 0 ||
        db_commit(db) < 0)
        goto dberr;
    if (queued)
        log_info("dag run marked dag_id=%s run_id=%s state=queued", dag_id, run_id);
    else
        log_info("dag run marked dag_id=%s run_id=%s state=%s tis=%ld", dag_id, run_id, state, n);
    return UPDRAFT_OK;
dberr:
    snprintf(err, errlen, "database error: %s", db_error(db));
    db_rollback(db);
    return UPDRAFT_EDB;
}

/* Whether state is one a user may set on a task instance. */
static bool markable_state(const char *state)
{
    return state &&
           (!strcmp(state, "success") || !strcmp(state, "failed") || !strcmp(state, "skipped"));
}

int clear_mark_ti(db_t *db, const char *dag_id, const char *run_id, const char *task_id,
                  const char *state, char *err, size_t errlen)
{
    long n = 0;
    if (!markable_state(state)) {
        snprintf(err, errlen, "state must be 'success', 'failed' or 'skipped'");
        return UPDRAFT_EINVALID;
    }
    if (ti_admin_mark_ti(db, dag_id, run_id, task_id, state, &n) < 0) {
        snprintf(err, errlen, "database error: %s", db_error(db));
        return UPDRAFT_EDB;
    }
    if (n == 0) {
        snprintf(err, errlen, "task instance '%s' of run '%s' of dag '%s' not found", task_id,
                 run_id, dag_id);
        return UPDRAFT_ENOTFOUND;
    }
    log_info("task instance marked dag_id=%s run_id=%s task_id=%s state=%s", dag_id, run_id,
             task_id, state);
    return UPDRAFT_OK;
}

int clear_mark_tis(db_t *db, const clear_list_t *l, const char *state, long *marked, char *err,
                   size_t errlen)
{
    int64_t *ids;
    int rc;

    *marked = 0;
    if (!markable_state(state)) {
        snprintf(err, errlen, "state must be 'success', 'failed' or 'skipped'");
        return UPDRAFT_EINVALID;
    }
    if (l->n == 0)
        return UPDRAFT_OK;
    if (!(ids = malloc(l->n * sizeof(*ids)))) {
        snprintf(err, errlen, "out of memory");
        return UPDRAFT_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++)
        ids[i] = l->items[i].id;
    rc = ti_admin_mark_tis(db, ids, l->n, state, marked);
    free(ids);
    if (rc == UPDRAFT_ENOMEM)
        snprintf(err, errlen, "out of memory");
    else if (rc < 0)
        snprintf(err, errlen, "database error: %s", db_error(db));
    else
        log_info("task instances marked state=%s count=%ld", state, *marked);
    return rc;
}

int clear_resume_downstream(db_t *db, const clear_filter_t *scope, const char *task_id,
                            long *cleared, char *err, size_t errlen)
{
    const char *ids[1] = {task_id};
    clear_filter_t f = {.dag_id = scope->dag_id,
                        .start = scope->start,
                        .end = scope->end,
                        .run_id = scope->run_id,
                        .task_ids = ids,
                        .n_task_ids = 1,
                        .downstream = true,
                        .only_failed = true};
    clear_list_t l = {0};
    size_t k = 0;
    int rc;

    *cleared = 0;
    if ((rc = clear_find(db, &f, &l, err, errlen)) < 0)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.items[i].task_id, task_id) == 0) {
            free(l.items[i].run_id);
            free(l.items[i].task_id);
            continue;
        }
        l.items[k++] = l.items[i];
    }
    l.n = k;
    rc = clear_apply_mode(db, &l, CLEAR_RUNS_FINISHED, cleared, err, errlen);
    clear_list_free(&l);
    return rc;
}
