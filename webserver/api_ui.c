/*
 * api_ui.c - the web UI's aggregated JSON reads under /ui/ (docs/api.md
 * "UI endpoints"), each answered with a fixed number of statements of
 * store/uiquery.h whatever its size, where the REST API would need one
 * call per DAG or per run:
 *
 *   GET /ui/dags                     the DAG list: each DAG with its newest
 *                                    runs and the task states of the newest
 *   GET /ui/grid/{dag_id}            the tasks and the task instances of the
 *                                    last N runs, one array per run aligned
 *                                    to the task list
 *   GET /ui/gantt/{dag_id}/{run_id}  every task instance of a run with its
 *                                    earlier tries
 *   GET /ui/durations/{dag_id}       task durations and landing times of the
 *                                    last N runs
 *   GET /ui/calendar/{dag_id}        a year of runs counted per UTC day
 *
 * Timestamps are ISO 8601 like the REST API's, except in the grid's cells,
 * which carry a state code, epoch seconds (with milliseconds) and a
 * duration to keep a 1,000-run grid small. A task instance's state "none"
 * (not yet scheduled) is written null, as the REST API does, and counted
 * as "none". Each answer is written into one jsonw buffer: the grid from a
 * compact cell per (run, task) into which its task instances are folded
 * as they arrive (memory in proportion to the cells, not to the rows), the
 * others straight from their PGresults.
 */
#include "webserver/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/dags.h"
#include "store/uiquery.h"

#define UI_RUNS_DEFAULT 25 /* runs of a grid or durations answer by default */
#define UI_RUNS_MAX 1000   /* and at most */
/* Cells (runs x tasks) of one grid or durations answer at most: a DAG with
 * many tasks gets fewer runs, so that memory stays bounded. */
#define UI_MAX_CELLS 250000

/* ---- writing ---------------------------------------------------------------- */

/*
 * The task-instance states, in the order that summarises a mapped task
 * (the first state any of its instances has wins), as Airflow's grid.
 */
static const char *const ti_states[] = {
    "failed",    "upstream_failed", "up_for_retry", "up_for_reschedule", "queued",
    "scheduled", "deferred",        "running",      "restarting",        "none",
    "success",   "skipped",         "removed",
};
#define N_TI_STATES (sizeof(ti_states) / sizeof(ti_states[0]))

static const char *const run_states[] = {"queued", "running", "success", "failed"};
#define N_RUN_STATES (sizeof(run_states) / sizeof(run_states[0]))

/* The index of s in states[0..n), or -1. */
static int state_index(const char *const *states, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(states[i], s) == 0)
            return (int)i;
    return -1;
}

/*
 * The index of task-instance state s in ti_states, or -1. Called for
 * every grid cell: the states most cells have are tried first.
 */
static int ti_state_index(const char *s)
{
    static const unsigned char probe[] = {10, 11, 0, 7, 9, 5, 4, 1, 2, 3, 6, 8, 12};

    _Static_assert(sizeof(probe) == N_TI_STATES, "probe lists every state");
    for (size_t k = 0; s && k < sizeof(probe); k++)
        if (strcmp(ti_states[probe[k]], s) == 0)
            return probe[k];
    return -1;
}

/* Airflow has no "none" state: an instance not yet scheduled has null. */
static void write_state(jsonw_t *w, const char *state)
{
    if (!state || strcmp(state, "none") == 0)
        jsonw_null(w);
    else
        jsonw_str(w, state);
}

/* An epoch-microseconds column as ISO 8601, or null. */
static void write_iso(jsonw_t *w, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        jsonw_null(w);
    else
        jsonw_ts(w, db_get_i64(res, row, col));
}

/*
 * The grid writes 100,000 cells for 1,000 runs of 100 tasks: each cell is
 * formatted into a local buffer by the fmt_ functions below (no printf)
 * and handed to the writer in one piece. Each returns the bytes written,
 * at most FMT_MAX.
 */
#define FMT_MAX 32

/* Milliseconds as seconds: 1704067200.25, -0.5. */
static size_t fmt_epoch_ms(char *b, int64_t ms)
{
    uint64_t abs_ms = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    uint64_t u = abs_ms / 1000;
    int frac = (int)(abs_ms % 1000);
    char tmp[24], *p = tmp + sizeof(tmp);
    size_t n;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (ms < 0)
        *--p = '-';
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(b, p, n);
    if (frac) {
        b[n++] = '.';
        b[n++] = (char)('0' + frac / 100);
        if (frac % 100) {
            b[n++] = (char)('0' + frac / 10 % 10);
            if (frac % 10)
                b[n++] = (char)('0' + frac % 10);
        }
    }
    return n;
}

/* A non-negative integer's digits into b; their count. */
static size_t fmt_uint(char *b, uint32_t v)
{
    char tmp[12], *p = tmp + sizeof(tmp);
    size_t n;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(b, p, n);
    return n;
}

static size_t fmt_null(char *b)
{
    memcpy(b, "null", 4);
    return 4;
}

/* A task-instance state as its index in ti_states (the grid's "states"); "none", -1: null. */
static size_t fmt_ti_state(char *b, int s)
{
    if (s < 0 || strcmp(ti_states[s], "none") == 0)
        return fmt_null(b);
    return fmt_uint(b, (uint32_t)s);
}

static void write_epoch_ms(jsonw_t *w, int64_t ms)
{
    char b[FMT_MAX];
    jsonw_raw(w, b, fmt_epoch_ms(b, ms));
}

/* A JSON column Postgres wrote (an array or an object), or dflt for SQL NULL. */
static void write_json_or(jsonw_t *w, const PGresult *res, int row, int col, const char *dflt)
{
    if (PQgetisnull(res, row, col))
        jsonw_raw(w, dflt, strlen(dflt));
    else
        jsonw_pg_json(w, res, row, col);
}

static const char *text_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* The answer for a read that failed in the store. */
static int store_failed(api_req_t *r, int rc)
{
    return api_fail(r, rc, NULL, "%s", updraft_strerror(rc));
}

static int dag_not_found(api_req_t *r, const char *dag_id)
{
    return api_not_found(r, "DAG not found", "DAG with dag_id: '%s' not found", dag_id);
}

/* A run limit: UI_RUNS_DEFAULT when absent or 0, at most UI_RUNS_MAX. 0 or the 400 answered. */
static int read_run_limit(api_req_t *r, int64_t *limit)
{
    char err[256];
    int64_t offset;

    if (httpq_get_page(&r->q, UI_RUNS_DEFAULT, UI_RUNS_MAX, limit, &offset, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    return 0;
}

/* ---- a DAG's tasks ---------------------------------------------------------- */

typedef struct task_key {
    const char *id;
    int idx;
} task_key_t;

/* The tasks of a DAG's parsed version, and their ids sorted for lookups. */
typedef struct ui_tasks {
    PGresult *res;
    int n; /* rows 0..n-1 are tasks */
    task_key_t *keys;
} ui_tasks_t;

static int cmp_task_key(const void *a, const void *b)
{
    return strcmp(((const task_key_t *)a)->id, ((const task_key_t *)b)->id);
}

static void tasks_free(ui_tasks_t *t)
{
    PQclear(t->res);
    free(t->keys);
}

/* Reads dag_id's tasks into t: 0, or the status answered (404 for no DAG). */
static int load_tasks(api_req_t *r, const char *dag_id, ui_tasks_t *t)
{
    int rc = uiq_dag_tasks(r->db, dag_id, &t->res);

    if (rc == UPDRAFT_ENOTFOUND)
        return dag_not_found(r, dag_id);
    if (rc < 0)
        return store_failed(r, rc);
    while (t->n < PQntuples(t->res) && !PQgetisnull(t->res, t->n, 0))
        t->n++;
    if (t->n > 0 && !(t->keys = malloc((size_t)t->n * sizeof(*t->keys))))
        return api_send_json(r, 500, NULL);
    for (int i = 0; i < t->n; i++)
        t->keys[i] = (task_key_t){PQgetvalue(t->res, i, 0), i};
    if (t->n > 0)
        qsort(t->keys, (size_t)t->n, sizeof(*t->keys), cmp_task_key);
    return 0;
}

/* The position of task id in t->keys, or -1. */
static int task_key_pos(const ui_tasks_t *t, const char *id)
{
    task_key_t k = {id, 0}, *hit;

    if (t->n == 0)
        return -1;
    hit = bsearch(&k, t->keys, (size_t)t->n, sizeof(k), cmp_task_key);
    return hit ? (int)(hit - t->keys) : -1;
}

static bool task_is_mapped(const ui_tasks_t *t, int i)
{
    return db_get_bool(t->res, i, 2);
}

/* The run limit bounded so that runs x tasks stays within UI_MAX_CELLS. */
static int64_t bound_runs(int64_t limit, int ntasks)
{
    if (ntasks > 0 && limit * ntasks > UI_MAX_CELLS)
        limit = UI_MAX_CELLS / ntasks > 0 ? UI_MAX_CELLS / ntasks : 1;
    return limit;
}

/* The dag_run ids of runs[0..n) (uiq_grid_runs' rows); NULL when out of memory. */
static int64_t *ids_of_runs(const PGresult *runs, int n)
{
    int64_t *ids = malloc(((size_t)n + 1) * sizeof(*ids));

    for (int i = 0; ids && i < n; i++)
        ids[i] = db_get_i64(runs, i, 0);
    return ids;
}

/* ---- GET /ui/dags ----------------------------------------------------------- */

/*
 * The non-empty values of the repeated query parameter key as a JSON array
 * in *out (cJSON_free; NULL when there are none). False when out of memory.
 */
static bool values_json(api_req_t *r, const char *key, char **out)
{
    size_t n = httpq_count(&r->q, key);
    cJSON *arr = NULL;
    bool ok = true;

    *out = NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const char *v = httpq_get_nth(&r->q, key, i);
        if (!*v)
            continue;
        ok = (arr || (arr = cJSON_CreateArray())) &&
             cJSON_AddItemToArray(arr, cJSON_CreateString(v));
    }
    if (ok && arr)
        ok = (*out = cJSON_PrintUnformatted(arr)) != NULL;
    cJSON_Delete(arr);
    return ok;
}

/* Opens a DAG's object from row i of the page, up to its open recent_runs array. */
static void write_dag_head(jsonw_t *w, const PGresult *res, int i)
{
    const char *schedule = text_or_null(res, i, 5);
    char desc[512];

    jsonw_obj_begin(w);
    jsonw_key(w, "dag_id");
    jsonw_pg_str(w, res, i, 0);
    jsonw_key(w, "description");
    jsonw_pg_str(w, res, i, 1);
    jsonw_key(w, "owners");
    write_json_or(w, res, i, 2, "[]");
    jsonw_key(w, "tags");
    write_json_or(w, res, i, 3, "[]");
    jsonw_key(w, "is_paused");
    jsonw_pg_bool(w, res, i, 4);
    jsonw_key(w, "schedule");
    jsonw_str(w, schedule);
    jsonw_key(w, "timetable_description");
    jsonw_str(w, api_schedule_description(schedule, desc, sizeof desc));
    jsonw_key(w, "next_dagrun");
    write_iso(w, res, i, 6);
    jsonw_key(w, "next_dagrun_create_after");
    write_iso(w, res, i, 7);
    jsonw_key(w, "has_import_errors");
    jsonw_pg_bool(w, res, i, 8);
    jsonw_key(w, "latest_run_counts");
    write_json_or(w, res, i, 9, "{}");
    jsonw_key(w, "recent_runs");
    jsonw_arr_begin(w);
}

static void write_dags(jsonw_t *w, const PGresult *page, long total, long import_errors)
{
    int n = PQntuples(page);

    jsonw_obj_begin(w);
    jsonw_key(w, "dags");
    jsonw_arr_begin(w);
    for (int i = 0; i < n; i++) {
        /* One row per (DAG, recent run): a DAG's rows are consecutive. */
        if (i == 0 || strcmp(PQgetvalue(page, i, 0), PQgetvalue(page, i - 1, 0)) != 0)
            write_dag_head(w, page, i);
        if (!PQgetisnull(page, i, 10)) {
            jsonw_obj_begin(w);
            jsonw_key(w, "run_id");
            jsonw_pg_str(w, page, i, 10);
            jsonw_key(w, "state");
            jsonw_pg_str(w, page, i, 11);
            jsonw_key(w, "logical_date");
            write_iso(w, page, i, 12);
            jsonw_obj_end(w);
        }
        if (i == n - 1 || strcmp(PQgetvalue(page, i, 0), PQgetvalue(page, i + 1, 0)) != 0) {
            jsonw_arr_end(w);
            jsonw_obj_end(w);
        }
    }
    jsonw_arr_end(w);
    jsonw_key(w, "total_entries");
    jsonw_i64(w, total);
    jsonw_key(w, "import_errors");
    jsonw_i64(w, import_errors);
    jsonw_obj_end(w);
}

int api_get_ui_dags(api_req_t *r)
{
    uiq_dags_filter_t f = {.dag_id_pattern = httpq_get(&r->q, "dag_id_pattern"), .paused = -1};
    char *tags = NULL, *owners = NULL, err[256];
    PGresult *page = NULL;
    int64_t limit, offset;
    long total = 0, import_errors = 0;
    bool paused;
    jsonw_t w;
    int rc, status;

    jsonw_init(&w, 0);
    if (httpq_get_page(&r->q, API_PAGE_DEFAULT, API_PAGE_MAX, &limit, &offset, err, sizeof(err)) <
            0 ||
        (rc = httpq_get_bool(&r->q, "paused", &paused, err, sizeof(err))) < 0) {
        status = api_bad_request(r, err);
        goto out;
    }
    if (rc == 1)
        f.paused = paused;
    if (!values_json(r, "tags", &tags) || !values_json(r, "owners", &owners)) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    f.tags_json = tags;
    f.owners_json = owners;
    rc = uiq_dags_page(r->db, &f, httpq_get(&r->q, "order_by"), (long)limit, (long)offset, &page,
                       err, sizeof(err));
    if (rc == UPDRAFT_EINVALID) {
        status = api_bad_request(r, err);
        goto out;
    }
    if (rc < 0 || (rc = uiq_dags_count(r->db, &f, &total, &import_errors)) < 0) {
        status = store_failed(r, rc);
        goto out;
    }
    jsonw_init(&w, 2048 + (size_t)PQntuples(page) * 256);
    write_dags(&w, page, total, import_errors);
    status = api_send_jsonw(r, &w);
out:
    jsonw_free(&w);
    PQclear(page);
    cJSON_free(tags);
    cJSON_free(owners);
    return status;
}

/* ---- GET /ui/grid/{dag_id} -------------------------------------------------- */

static void write_task(jsonw_t *w, const ui_tasks_t *t, int i)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "task_id");
    jsonw_pg_str(w, t->res, i, 0);
    jsonw_key(w, "group");
    jsonw_pg_str(w, t->res, i, 1);
    jsonw_key(w, "is_mapped");
    jsonw_pg_bool(w, t->res, i, 2);
    jsonw_key(w, "operator");
    jsonw_pg_str(w, t->res, i, 3);
    jsonw_key(w, "upstream");
    write_json_or(w, t->res, i, 4, "[]");
    jsonw_obj_end(w);
}

/* The task list and the group tree: the "tasks" and "groups" members. */
static void write_structure(jsonw_t *w, const ui_tasks_t *t)
{
    jsonw_key(w, "tasks");
    jsonw_arr_begin(w);
    for (int i = 0; i < t->n; i++)
        write_task(w, t, i);
    jsonw_arr_end(w);
    jsonw_key(w, "groups");
    write_json_or(w, t->res, 0, 5, "[]");
}

/*
 * One cell of the grid (a run's instances of a task), folded from its
 * rows as they stream in: an unmapped task's one row, or a mapped task's
 * row per state (or its map_index -1 row before it is expanded).
 */
typedef struct cell {
    int64_t start; /* the earliest start, epoch ms (CELL_START) */
    int64_t end;   /* the latest end, epoch ms (CELL_END) */
    int32_t try_n; /* the highest try */
    int32_t
        counts; /* its mapped instances per state: grid_t.counts + counts * N_TI_STATES; -1: none */
    int8_t best; /* the state first in ti_states' order; -1: none known */
    uint8_t flags;
} cell_t;

#define CELL_SEEN 0x1   /* the run has an instance of the task */
#define CELL_FOLDED 0x2 /* mapped instances were folded in */
#define CELL_START 0x4  /* start is set */
#define CELL_END 0x8    /* end is set */
#define CELL_OPEN 0x10  /* an instance has not ended */

/* The grid: its runs (uiq_grid_runs) and a cell per (run, task), run-major. */
typedef struct grid {
    const ui_tasks_t *tasks;
    PGresult *runs;
    int nruns;
    cell_t *cells;
    int *counts; /* N_TI_STATES per cell with mapped instances */
    size_t ncounts, capcounts;
    int pos; /* the task key of the row before: rows come by task id */
} grid_t;

/* Digits only (at most 18), as the durations' run column holds them: the value, or -1. */
static int64_t parse_digits(const char *s)
{
    int64_t v = 0;
    int i = 0;

    for (; s[i] >= '0' && s[i] <= '9' && i < 18; i++)
        v = v * 10 + (s[i] - '0');
    return i > 0 && s[i] == '\0' ? v : -1;
}

/* Epoch microseconds as epoch ms in *ms; false for TS_NONE. */
static bool us_to_ms(ts_us_t us, int64_t *ms)
{
    if (us == TS_NONE)
        return false;
    *ms = us / 1000 - (us % 1000 < 0);
    return true;
}

/* The counts of cell c, taken from the pool at its first mapped row; NULL when out of memory. */
static int *cell_counts(grid_t *g, cell_t *c)
{
    if (c->counts < 0) {
        if (g->ncounts == g->capcounts) {
            size_t cap = g->capcounts ? g->capcounts * 2 : 64;
            int *grown = realloc(g->counts, cap * N_TI_STATES * sizeof(int));
            if (!grown)
                return NULL;
            g->counts = grown;
            g->capcounts = cap;
        }
        memset(g->counts + g->ncounts * N_TI_STATES, 0, N_TI_STATES * sizeof(int));
        c->counts = (int32_t)g->ncounts++;
    }
    return g->counts + (size_t)c->counts * N_TI_STATES;
}

/* The cell of row ti, or NULL for a task the DAG no longer has. */
static cell_t *row_cell(grid_t *g, const uiq_grid_ti_t *ti)
{
    const ui_tasks_t *t = g->tasks;
    int64_t run = ti->run - 1; /* from 1 */

    if (g->pos >= 0 && g->pos + 1 < t->n && strcmp(t->keys[g->pos + 1].id, ti->task_id) == 0)
        g->pos++;
    else
        g->pos = task_key_pos(t, ti->task_id);
    if (run < 0 || run >= g->nruns || g->pos < 0)
        return NULL;
    return &g->cells[(size_t)run * (size_t)t->n + (size_t)t->keys[g->pos].idx];
}

/* uiq_grid_fn: folds one task-instance row into its cell; UPDRAFT_ENOMEM when out of memory. */
static int fold_row(const uiq_grid_ti_t *ti, void *arg)
{
    grid_t *g = arg;
    cell_t *c = row_cell(g, ti);
    int s = ti_state_index(ti->state), *counts;
    int64_t ms;

    if (!c)
        return 0;
    c->flags |= CELL_SEEN;
    if (s >= 0 && (c->best < 0 || s < c->best))
        c->best = (int8_t)s;
    if (ti->try_number > c->try_n && ti->try_number <= INT32_MAX)
        c->try_n = (int32_t)ti->try_number;
    if (us_to_ms(ti->start_date, &ms) && (!(c->flags & CELL_START) || ms < c->start)) {
        c->start = ms;
        c->flags |= CELL_START;
    }
    if (!us_to_ms(ti->end_date, &ms)) {
        c->flags |= CELL_OPEN;
    } else if (!(c->flags & CELL_END) || ms > c->end) {
        c->end = ms;
        c->flags |= CELL_END;
    }
    if (ti->count > 0) {
        c->flags |= CELL_FOLDED;
        if (!(counts = cell_counts(g, c)))
            return UPDRAFT_ENOMEM;
        if (s >= 0 && ti->count <= INT32_MAX - counts[s])
            counts[s] += (int)ti->count;
    }
    return 0;
}

/*
 * The first four members of a cell, without brackets: state code, try,
 * start, and the end as a duration from the start (as the end itself
 * when the start is unset). Returns the bytes written, at most
 * CELL_HEAD_MAX.
 */
#define CELL_HEAD_MAX (4 * FMT_MAX)
static size_t fmt_cell_head(char *b, const cell_t *c)
{
    bool start = (c->flags & CELL_START) != 0;
    size_t n = fmt_ti_state(b, c->best);

    b[n++] = ',';
    n += fmt_uint(b + n, (uint32_t)c->try_n);
    b[n++] = ',';
    n += start ? fmt_epoch_ms(b + n, c->start) : fmt_null(b + n);
    b[n++] = ',';
    if ((c->flags & (CELL_END | CELL_OPEN)) != CELL_END)
        n += fmt_null(b + n);
    else
        n += fmt_epoch_ms(b + n, start ? c->end - c->start : c->end);
    return n;
}

/* A mapped task's cell: the four members of write_cell, then {state: count}. */
static void write_mapped_cell(jsonw_t *w, const grid_t *g, const cell_t *c)
{
    const int *counts = c->counts >= 0 ? g->counts + (size_t)c->counts * N_TI_STATES : NULL;
    char b[CELL_HEAD_MAX];

    jsonw_arr_begin(w);
    jsonw_raw(w, b, fmt_cell_head(b, c)); /* four members, then the object after a comma */
    jsonw_obj_begin(w);
    for (size_t s = 0; counts && s < N_TI_STATES; s++) {
        if (counts[s] == 0)
            continue;
        jsonw_key(w, ti_states[s]);
        jsonw_i64(w, counts[s]);
    }
    jsonw_obj_end(w);
    jsonw_arr_end(w);
}

/*
 * One cell: null when the run has no instance of the task, else
 * [state, try_number, start, duration]: state is the index of the
 * instance's state in the answer's "states" (null for none), start in
 * epoch seconds, duration the seconds from start to end (the end in epoch
 * seconds when the start is unset; null while it has not ended). A mapped
 * task's cell (or one with mapped instances from an older version) adds
 * {state: count}, and its first four summarise its instances: the state
 * first in ti_states' order, the highest try, the earliest start, the
 * latest end (null while one has not ended); before it is expanded its
 * counts are {}.
 */
static void write_cell(jsonw_t *w, const grid_t *g, int run, int task)
{
    const cell_t *c = &g->cells[(size_t)run * (size_t)g->tasks->n + (size_t)task];
    char b[CELL_HEAD_MAX + 2];
    size_t n = 0;

    if (!(c->flags & CELL_SEEN)) {
        jsonw_null(w);
        return;
    }
    if ((c->flags & CELL_FOLDED) || task_is_mapped(g->tasks, task)) {
        write_mapped_cell(w, g, c);
        return;
    }
    b[n++] = '[';
    n += fmt_cell_head(b + n, c);
    b[n++] = ']';
    jsonw_raw(w, b, n);
}

static void write_grid_run(jsonw_t *w, const grid_t *g, int i)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "run_id");
    jsonw_pg_str(w, g->runs, i, 1);
    jsonw_key(w, "state");
    jsonw_pg_str(w, g->runs, i, 2);
    jsonw_key(w, "run_type");
    jsonw_pg_str(w, g->runs, i, 3);
    jsonw_key(w, "logical_date");
    write_iso(w, g->runs, i, 4);
    jsonw_key(w, "data_interval_start");
    write_iso(w, g->runs, i, 9);
    jsonw_key(w, "data_interval_end");
    write_iso(w, g->runs, i, 10);
    jsonw_key(w, "queued_at");
    write_iso(w, g->runs, i, 7);
    jsonw_key(w, "start_date");
    write_iso(w, g->runs, i, 5);
    jsonw_key(w, "end_date");
    write_iso(w, g->runs, i, 6);
    jsonw_key(w, "note");
    jsonw_pg_str(w, g->runs, i, 8);
    jsonw_key(w, "tis");
    jsonw_arr_begin(w);
    for (int t = 0; t < g->tasks->n; t++)
        write_cell(w, g, i, t);
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

static void write_grid(jsonw_t *w, const grid_t *g, const char *dag_id, bool more)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "dag_id");
    jsonw_str(w, dag_id);
    write_structure(w, g->tasks);
    jsonw_key(w, "states"); /* what the cells' state codes stand for */
    jsonw_arr_begin(w);
    for (size_t s = 0; s < N_TI_STATES; s++)
        jsonw_str(w, ti_states[s]);
    jsonw_arr_end(w);
    jsonw_key(w, "runs");
    jsonw_arr_begin(w);
    for (int i = 0; i < g->nruns; i++)
        write_grid_run(w, g, i);
    jsonw_arr_end(w);
    jsonw_key(w, "more");
    jsonw_bool(w, more);
    jsonw_obj_end(w);
}

/* Empty cells for the grid's runs and tasks; false when out of memory. */
static bool grid_alloc(grid_t *g)
{
    size_t n = (size_t)g->nruns * (size_t)g->tasks->n;

    if (!(g->cells = malloc((n + 1) * sizeof(*g->cells))))
        return false;
    for (size_t i = 0; i < n; i++)
        g->cells[i] = (cell_t){.counts = -1, .best = -1};
    g->pos = -1;
    return true;
}

int api_get_ui_grid(api_req_t *r)
{
    const char *dag_id = r->cap[0], *before_s = httpq_get(&r->q, "before");
    ui_tasks_t tasks = {0};
    grid_t g = {.tasks = &tasks};
    ts_us_t before = TS_NONE;
    int64_t limit, *ids = NULL;
    bool more = false;
    jsonw_t w;
    int rc, status;

    jsonw_init(&w, 0);
    if ((status = read_run_limit(r, &limit)) != 0)
        goto out;
    if (before_s && ts_parse(before_s, &before) < 0) {
        status = api_bad_request(r, "'before' is not a valid datetime");
        goto out;
    }
    if ((status = load_tasks(r, dag_id, &tasks)) != 0)
        goto out;
    limit = bound_runs(limit, tasks.n);
    /* One run more than asked tells whether older runs remain. */
    if ((rc = uiq_grid_runs(r->db, dag_id, before, (long)limit + 1, &g.runs)) < 0) {
        status = store_failed(r, rc);
        goto out;
    }
    g.nruns = PQntuples(g.runs);
    if (g.nruns > limit) {
        more = true;
        g.nruns = (int)limit;
    }
    if (!(ids = ids_of_runs(g.runs, g.nruns)) || !grid_alloc(&g)) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    if ((rc = uiq_grid_tis(r->db, ids, (size_t)g.nruns, fold_row, &g)) < 0) {
        status = rc == UPDRAFT_ENOMEM ? api_send_json(r, 500, NULL) : store_failed(r, rc);
        goto out;
    }
    jsonw_init(&w, 4096 + (size_t)g.nruns * ((size_t)tasks.n * 40 + 400));
    write_grid(&w, &g, dag_id, more);
    status = api_send_jsonw(r, &w);
out:
    jsonw_free(&w);
    free(ids);
    free(g.cells);
    free(g.counts);
    PQclear(g.runs);
    tasks_free(&tasks);
    return status;
}

/* ---- GET /ui/gantt/{dag_id}/{run_id} ---------------------------------------- */

/* The run's members (uiq_run's row) into an open object. */
static void write_run_fields(jsonw_t *w, const PGresult *run)
{
    jsonw_key(w, "run_id");
    jsonw_pg_str(w, run, 0, 1);
    jsonw_key(w, "state");
    jsonw_pg_str(w, run, 0, 2);
    jsonw_key(w, "run_type");
    jsonw_pg_str(w, run, 0, 3);
    jsonw_key(w, "logical_date");
    write_iso(w, run, 0, 4);
    jsonw_key(w, "data_interval_start");
    write_iso(w, run, 0, 8);
    jsonw_key(w, "data_interval_end");
    write_iso(w, run, 0, 9);
    jsonw_key(w, "queued_at");
    write_iso(w, run, 0, 5);
    jsonw_key(w, "start_date");
    write_iso(w, run, 0, 6);
    jsonw_key(w, "end_date");
    write_iso(w, run, 0, 7);
}

/* The first row of tries (ti_ids[0..n), ascending) of task instance ti_id, or n. */
static int first_try(const int64_t *ti_ids, int n, int64_t ti_id)
{
    int lo = 0, hi = n;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ti_ids[mid] < ti_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void write_tries(jsonw_t *w, const PGresult *tries, const int64_t *ti_ids, int64_t ti_id)
{
    int n = PQntuples(tries);

    jsonw_arr_begin(w);
    for (int j = first_try(ti_ids, n, ti_id); j < n && ti_ids[j] == ti_id; j++) {
        jsonw_obj_begin(w);
        jsonw_key(w, "try_number");
        jsonw_pg_int(w, tries, j, 1);
        jsonw_key(w, "state");
        jsonw_pg_str(w, tries, j, 2);
        jsonw_key(w, "start_date");
        write_iso(w, tries, j, 3);
        jsonw_key(w, "end_date");
        write_iso(w, tries, j, 4);
        jsonw_key(w, "hostname");
        jsonw_pg_str(w, tries, j, 5);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

static void write_gantt_ti(jsonw_t *w, const PGresult *tis, int i, const PGresult *tries,
                           const int64_t *ti_ids)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "task_id");
    jsonw_pg_str(w, tis, i, 1);
    jsonw_key(w, "map_index");
    jsonw_pg_int(w, tis, i, 2);
    jsonw_key(w, "state");
    write_state(w, PQgetvalue(tis, i, 3));
    jsonw_key(w, "try_number");
    jsonw_pg_int(w, tis, i, 4);
    jsonw_key(w, "queued_dttm");
    write_iso(w, tis, i, 5);
    jsonw_key(w, "start_date");
    write_iso(w, tis, i, 6);
    jsonw_key(w, "end_date");
    write_iso(w, tis, i, 7);
    jsonw_key(w, "duration");
    jsonw_pg_num(w, tis, i, 8);
    jsonw_key(w, "hostname");
    jsonw_pg_str(w, tis, i, 9);
    jsonw_key(w, "tries");
    write_tries(w, tries, ti_ids, db_get_i64(tis, i, 0));
    jsonw_obj_end(w);
}

static void write_gantt(jsonw_t *w, const char *dag_id, const PGresult *run, const PGresult *tis,
                        const PGresult *tries, const int64_t *ti_ids)
{
    int n = PQntuples(tis) > UIQ_GANTT_MAX_TIS ? UIQ_GANTT_MAX_TIS : PQntuples(tis);

    jsonw_obj_begin(w);
    jsonw_key(w, "dag_id");
    jsonw_str(w, dag_id);
    write_run_fields(w, run);
    jsonw_key(w, "task_instances");
    jsonw_arr_begin(w);
    for (int i = 0; i < n; i++)
        write_gantt_ti(w, tis, i, tries, ti_ids);
    jsonw_arr_end(w);
    jsonw_key(w, "truncated");
    jsonw_bool(w, PQntuples(tis) > UIQ_GANTT_MAX_TIS);
    jsonw_obj_end(w);
}

/* 404 for a run that is not there, naming what is missing: the DAG or the run. */
static int run_not_found(api_req_t *r, const char *dag_id, const char *run_id)
{
    bool exists = false;
    int rc = dags_exists(r->db, dag_id, &exists);

    if (rc < 0)
        return store_failed(r, rc);
    if (!exists)
        return dag_not_found(r, dag_id);
    return api_not_found(r, "DAGRun not found",
                         "DAGRun with DAG ID: '%s' and DagRun ID: '%s' not found", dag_id, run_id);
}

int api_get_ui_gantt(api_req_t *r)
{
    const char *dag_id = r->cap[0], *run_id = r->cap[1];
    PGresult *run = NULL, *tis = NULL, *tries = NULL;
    int64_t *ti_ids = NULL;
    jsonw_t w;
    int rc, status;

    jsonw_init(&w, 0);
    rc = uiq_run(r->db, dag_id, run_id, &run);
    if (rc == UPDRAFT_ENOTFOUND) {
        status = run_not_found(r, dag_id, run_id);
        goto out;
    }
    if (rc < 0 || (rc = uiq_gantt_tis(r->db, db_get_i64(run, 0, 0), &tis)) < 0 ||
        (rc = uiq_gantt_tries(r->db, db_get_i64(run, 0, 0), &tries)) < 0) {
        status = store_failed(r, rc);
        goto out;
    }
    if (!(ti_ids = malloc(((size_t)PQntuples(tries) + 1) * sizeof(*ti_ids)))) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    for (int j = 0; j < PQntuples(tries); j++)
        ti_ids[j] = db_get_i64(tries, j, 0);
    jsonw_init(&w, 4096 + (size_t)PQntuples(tis) * 320);
    write_gantt(&w, dag_id, run, tis, tries, ti_ids);
    status = api_send_jsonw(r, &w);
out:
    jsonw_free(&w);
    free(ti_ids);
    PQclear(run);
    PQclear(tis);
    PQclear(tries);
    return status;
}

/* ---- GET /ui/durations/{dag_id} --------------------------------------------- */

/* One task's times in one run, epoch ms. */
typedef struct span {
    int64_t duration, landing;
    uint8_t flags;
} span_t;

#define SPAN_DURATION 0x1 /* duration is set */
#define SPAN_LANDING 0x2  /* landing is set */

/* The runs (uiq_grid_runs) and a span per (run, task), run-major. */
typedef struct durations {
    const ui_tasks_t *tasks;
    PGresult *runs;
    int nruns;
    span_t *spans;
    int pos; /* the task key of the row before */
} durations_t;

/* An epoch-milliseconds field of the durations rows: *ms, or false for SQL NULL. */
static bool field_signed_ms(const PGresult *res, int row, int col, int64_t *ms)
{
    if (PQgetisnull(res, row, col))
        return false;
    *ms = db_get_i64(res, row, col);
    return true;
}

/* uiq_rows_fn: a batch of (run, task, duration, landing) rows into the spans. */
static int fold_spans(const PGresult *rows, void *arg)
{
    durations_t *d = arg;
    const ui_tasks_t *t = d->tasks;

    for (int j = 0; j < PQntuples(rows); j++) {
        const char *task_id = PQgetvalue(rows, j, 1);
        int64_t run = parse_digits(PQgetvalue(rows, j, 0)) - 1;
        span_t *sp;
        if (d->pos >= 0 && d->pos + 1 < t->n && strcmp(t->keys[d->pos + 1].id, task_id) == 0)
            d->pos++;
        else
            d->pos = task_key_pos(t, task_id);
        if (run < 0 || run >= d->nruns || d->pos < 0)
            continue; /* a task the DAG's current version no longer has */
        sp = &d->spans[(size_t)run * (size_t)t->n + (size_t)t->keys[d->pos].idx];
        if (field_signed_ms(rows, j, 2, &sp->duration))
            sp->flags |= SPAN_DURATION;
        if (field_signed_ms(rows, j, 3, &sp->landing))
            sp->flags |= SPAN_LANDING;
    }
    return 0;
}

/* Run k's spans of flag (the duration or the landing time) aligned to the task list, seconds. */
static void write_spans(jsonw_t *w, const durations_t *d, int k, uint8_t flag)
{
    jsonw_arr_begin(w);
    for (int t = 0; t < d->tasks->n; t++) {
        const span_t *sp = &d->spans[(size_t)k * (size_t)d->tasks->n + (size_t)t];
        if (!(sp->flags & flag))
            jsonw_null(w);
        else
            write_epoch_ms(w, flag == SPAN_DURATION ? sp->duration : sp->landing);
    }
    jsonw_arr_end(w);
}

static void write_durations_run(jsonw_t *w, const durations_t *d, int k)
{
    const PGresult *runs = d->runs;

    jsonw_obj_begin(w);
    jsonw_key(w, "run_id");
    jsonw_pg_str(w, runs, k, 1);
    jsonw_key(w, "state");
    jsonw_pg_str(w, runs, k, 2);
    jsonw_key(w, "logical_date");
    write_iso(w, runs, k, 4);
    jsonw_key(w, "data_interval_end");
    write_iso(w, runs, k, 10);
    jsonw_key(w, "start_date");
    write_iso(w, runs, k, 5);
    jsonw_key(w, "end_date");
    write_iso(w, runs, k, 6);
    jsonw_key(w, "duration");
    if (PQgetisnull(runs, k, 5) || PQgetisnull(runs, k, 6))
        jsonw_null(w);
    else
        write_epoch_ms(w, (db_get_i64(runs, k, 6) - db_get_i64(runs, k, 5)) / 1000);
    jsonw_key(w, "task_durations");
    write_spans(w, d, k, SPAN_DURATION);
    jsonw_key(w, "landing_times");
    write_spans(w, d, k, SPAN_LANDING);
    jsonw_obj_end(w);
}

static void write_durations(jsonw_t *w, const durations_t *d, const char *dag_id)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "dag_id");
    jsonw_str(w, dag_id);
    jsonw_key(w, "tasks");
    jsonw_arr_begin(w);
    for (int t = 0; t < d->tasks->n; t++)
        jsonw_pg_str(w, d->tasks->res, t, 0);
    jsonw_arr_end(w);
    jsonw_key(w, "runs");
    jsonw_arr_begin(w);
    for (int k = 0; k < d->nruns; k++)
        write_durations_run(w, d, k);
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

int api_get_ui_durations(api_req_t *r)
{
    const char *dag_id = r->cap[0];
    ui_tasks_t tasks = {0};
    durations_t d = {.tasks = &tasks, .pos = -1};
    int64_t limit, *ids = NULL;
    size_t ncells;
    jsonw_t w;
    int rc, status;

    jsonw_init(&w, 0);
    if ((status = read_run_limit(r, &limit)) != 0 || (status = load_tasks(r, dag_id, &tasks)) != 0)
        goto out;
    rc = uiq_grid_runs(r->db, dag_id, TS_NONE, (long)bound_runs(limit, tasks.n), &d.runs);
    if (rc < 0) {
        status = store_failed(r, rc);
        goto out;
    }
    d.nruns = PQntuples(d.runs);
    ncells = (size_t)d.nruns * (size_t)tasks.n;
    if (!(ids = ids_of_runs(d.runs, d.nruns)) || !(d.spans = calloc(ncells + 1, sizeof(span_t)))) {
        status = api_send_json(r, 500, NULL);
        goto out;
    }
    if ((rc = uiq_durations(r->db, ids, (size_t)d.nruns, fold_spans, &d)) < 0) {
        status = store_failed(r, rc);
        goto out;
    }
    jsonw_init(&w, 4096 + (size_t)d.nruns * ((size_t)tasks.n * 24 + 400));
    write_durations(&w, &d, dag_id);
    status = api_send_jsonw(r, &w);
out:
    jsonw_free(&w);
    free(ids);
    free(d.spans);
    PQclear(d.runs);
    tasks_free(&tasks);
    return status;
}

/* ---- GET /ui/calendar/{dag_id} ---------------------------------------------- */

/* A day as uiq_calendar writes it: YYYY-MM-DD. */
static bool is_day(const char *s)
{
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    return s[10] == '\0';
}

/* {"YYYY-MM-DD": {state: count}} from the rows (by day), skipping what is not a day or a state. */
static void write_days(jsonw_t *w, const PGresult *res)
{
    int n = PQntuples(res);
    const char *open = NULL;

    jsonw_obj_begin(w);
    for (int i = 0; i < n; i++) {
        const char *day = PQgetvalue(res, i, 0);
        int s = state_index(run_states, N_RUN_STATES, PQgetvalue(res, i, 1));
        if (PQgetisnull(res, i, 0) || !is_day(day) || s < 0)
            continue;
        if (!open || strcmp(open, day) != 0) {
            if (open)
                jsonw_obj_end(w);
            jsonw_key(w, day);
            jsonw_obj_begin(w);
            open = day;
        }
        jsonw_key(w, run_states[s]);
        jsonw_pg_int(w, res, i, 2);
    }
    if (open)
        jsonw_obj_end(w);
    jsonw_obj_end(w);
}

int api_get_ui_calendar(api_req_t *r)
{
    const char *dag_id = r->cap[0];
    PGresult *res = NULL;
    int64_t year, this_year;
    int month, day;
    char err[256];
    jsonw_t w;
    int rc, status;

    ts_civil_from_days(ts_now() / 86400000000LL, &this_year, &month, &day);
    if (httpq_get_i64(&r->q, "year", this_year, 1, 9999, &year, err, sizeof(err)) < 0)
        return api_bad_request(r, err);
    rc = uiq_calendar(r->db, dag_id, (int)year, &res);
    if (rc == UPDRAFT_ENOTFOUND)
        return dag_not_found(r, dag_id);
    if (rc < 0)
        return store_failed(r, rc);
    jsonw_init(&w, 1024 + (size_t)PQntuples(res) * 48);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "dag_id");
    jsonw_str(&w, dag_id);
    jsonw_key(&w, "year");
    jsonw_i64(&w, year);
    jsonw_key(&w, "days");
    write_days(&w, res);
    jsonw_obj_end(&w);
    status = api_send_jsonw(r, &w);
    jsonw_free(&w);
    PQclear(res);
    return status;
}
